"""Out-of-memory retry, beside the core loop: halve the batch size and run the pass again.

The pass resumes from the prediction store, so images already scored are not scored again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

from ilsvrc_bench.engine import device as devices
from ilsvrc_bench.errors import DeviceError

T = TypeVar("T")


def with_oom_retry(
    run: Callable[[int], T],
    *,
    batch_size: int,
    device: torch.device,
    on_retry: Callable[[str], None],
) -> tuple[T, int]:
    """``run(batch_size)``, halving the batch size after each out-of-memory error.

    Returns ``(result, batch size that worked)``; ``on_retry`` gets a message for each halving.
    Raises :class:`DeviceError` when even a batch of one does not fit.
    """
    size = batch_size
    while True:
        try:
            return run(size), size
        except Exception as exc:
            if not devices.is_out_of_memory(exc):
                raise
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # Outside the except block, so the traceback's tensors can be freed.
        devices.release_memory(device)
        if size == 1:
            raise DeviceError(f"out of memory on {device} even with batch size 1: {reason}")
        new = max(1, size // 2)
        on_retry(f"out of memory on {device} at batch size {size}; retrying with {new}")
        size = new
