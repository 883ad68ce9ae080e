"""The settings of one evaluation, as one frozen value object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["center", "10crop", "full"]
Precision = Literal["fp32", "bf16", "fp16"]
Decode = Literal["cpu", "gpu"]

PROTOCOLS: tuple[str, ...] = ("center", "10crop", "full")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate; every field is recorded in the run record.

    ``batch_size`` counts images (a ``10crop`` batch holds ten times as many views).
    ``limit`` evaluates a deterministic class-stratified subset of that many images.
    ``resume`` continues an incomplete run with the same run key, if there is one.
    ``strict`` makes an unreadable image an error instead of a miss.
    ``channels_last``: None picks it (on for torch modules on the CPU, where it is faster).
    ``cache``: None reads a complete preprocessed cache with the same key when there is one;
    False never does; True also builds (or resumes) it first.
    ``decode``: ``cpu`` is the exact Pillow path; ``gpu`` decodes with nvJPEG (recorded).
    ``flush_batches``/``flush_min_seconds``: predictions are written durably every
    ``flush_batches`` batches, but not more often than every ``flush_min_seconds`` seconds
    (and at least every 30 s).
    """

    device: str = "auto"
    precision: Precision = "fp32"
    batch_size: int = 64
    workers: int = 0
    channels_last: bool | None = None
    compile: bool = False
    limit: int | None = None
    protocol: Protocol = "center"
    resume: bool = True
    strict: bool = False
    save_logits: bool = False
    flush_batches: int = 8
    flush_min_seconds: float = 5.0
    cache: bool | None = None
    decode: Decode = "cpu"
    command: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        from ilsvrc_bench.errors import UsageError

        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.workers < 0:
            raise UsageError(f"--workers must be 0 or more, got {self.workers}")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}")
        if self.protocol not in PROTOCOLS:
            raise UsageError(f"unknown protocol {self.protocol!r}; use {', '.join(PROTOCOLS)}")
        if self.precision not in PRECISIONS:
            raise UsageError(f"unknown precision {self.precision!r}; use {', '.join(PRECISIONS)}")
        if self.decode not in ("cpu", "gpu"):
            raise UsageError(f"unknown decoder {self.decode!r}; use cpu or gpu")
        if self.flush_batches < 1:
            raise UsageError("flush_batches must be at least 1")
