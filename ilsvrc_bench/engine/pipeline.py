"""The one image pipeline: where a pass's uint8 views come from (decode -> views), chosen once.

``open_batches`` returns batches of ``loader.Batch`` from one of three sources:

* a complete preprocessed cache with the same key (``engine.cache``), when one exists and the
  caller did not turn caches off: no decoding at all, bit-identical views;
* the exact CPU path (``loader.ImageViews``: Pillow decode, torchvision resize and crops), which
  can make several pixel recipes' views from one decode (``also``);
* ``decode="gpu"``: nvJPEG on the device (``engine.gpu_decode``), CPU fallback per image.

Normalising happens on the device, in ``core`` (``models.preprocess.normalize``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ilsvrc_bench.engine import cache as caches
from ilsvrc_bench.engine.loader import (
    Batch,
    DatasetLike,
    collate,
    grid_batches,
    make_loader,
    worker_loader,
)
from ilsvrc_bench.errors import DeviceError, UsageError
from ilsvrc_bench.models.spec import Preprocessing


@dataclass
class Source:
    """Batches and where they come from: ``kind`` is ``cache``, ``cpu`` or ``gpu``."""

    batches: Iterable[Batch]
    kind: str
    note: str | None = None


def decoder_name(decode: str) -> str:
    """The decoder a run records in its preprocessing."""
    if decode == "cpu":
        return "pillow"
    if decode == "gpu":
        from ilsvrc_bench.engine.gpu_decode import GPU_DECODER

        return GPU_DECODER
    raise UsageError(f"unknown decoder {decode!r}; use cpu or gpu")


def check_decode(decode: str, device: torch.device) -> None:
    """Refuse a decoder the device cannot run, before anything is loaded or written."""
    decoder_name(decode)
    if decode == "gpu" and device.type != "cuda":
        raise DeviceError(f"--decode gpu needs a CUDA device; the device is {device.type}")


def find_cache(
    dataset: DatasetLike, prep: Preprocessing, protocol: str, decode: str = "cpu"
) -> caches.CachedViews | None:
    """A complete cache for exactly this data, preprocessing, protocol and decoder, if any."""
    if getattr(dataset, "path", None) is None or decode != "cpu":
        return None
    return caches.open_complete(caches.plan(dataset, prep, protocol))


def open_batches(
    dataset: DatasetLike,
    records: Sequence[Any],
    *,
    prep: Preprocessing,
    protocol: str,
    batch_size: int,
    workers: int,
    device: torch.device,
    keep: Callable[[int], bool] | None = None,
    use_cache: bool = True,
    decode: str = "cpu",
    also: Sequence[Preprocessing] = (),
) -> Source:
    """The batches of one pass over ``records`` (see the module docstring for the sources).

    ``also``: more pixel recipes made from each image's one decode (exact CPU path only).
    """
    pin = device.type == "cuda"
    if also and decode != "cpu":
        raise UsageError("several pixel recipes from one decode need the CPU decoder")
    cached = find_cache(dataset, prep, protocol, decode) if use_cache and not also else None
    if cached is not None:
        loader = worker_loader(
            cached.for_records(records),
            workers=min(workers, 2),
            batch_sampler=grid_batches(len(records), batch_size, keep),
            collate_fn=collate,
            pin_memory=pin,
        )
        return Source(loader, "cache", f"views read from the cache {cached.plan.directory}")
    if decode == "gpu":
        return _gpu_source(
            dataset,
            records,
            prep=prep,
            protocol=protocol,
            batch_size=batch_size,
            workers=workers,
            device=device,
            keep=keep,
        )
    decoder_name(decode)
    loader = make_loader(
        dataset,
        records,
        keep=keep,
        prep=prep,
        also=also,
        protocol=protocol,
        batch_size=batch_size,
        workers=workers,
        pin_memory=pin,
    )
    return Source(loader, "cpu")


def _gpu_source(
    dataset: DatasetLike,
    records: Sequence[Any],
    *,
    prep: Preprocessing,
    protocol: str,
    batch_size: int,
    workers: int,
    device: torch.device,
    keep: Callable[[int], bool] | None,
) -> Source:
    from ilsvrc_bench.engine import gpu_decode

    check_decode("gpu", device)
    loader = worker_loader(
        gpu_decode.EncodedViews(dataset, records, prep, protocol),
        workers=workers,
        batch_sampler=grid_batches(len(records), batch_size, keep),
        collate_fn=gpu_decode.collate_encoded,
    )
    assemble = gpu_decode.GpuAssembler(device, prep, protocol)

    def batches() -> Iterator[Batch]:
        for encoded in loader:
            yield assemble(encoded)

    return Source(_Lazy(batches), "gpu", f"decoded by {gpu_decode.GPU_DECODER} on {device}")


class _Lazy:
    """An iterable that makes a fresh generator per ``iter`` (a pass may be retried)."""

    def __init__(self, make: Callable[[], Iterator[Batch]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[Batch]:
        return self._make()
