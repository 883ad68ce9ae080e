"""Reading a complete cache: memory-mapped views, each checked against its SHA-256."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from ilsvrc_bench.engine.cache.layout import (
    DIGEST_BYTES,
    HASHES,
    VIEWS,
    CachePlan,
    file_size,
    read_done,
)
from ilsvrc_bench.errors import DataError


def open_complete(p: CachePlan) -> CachedViews | None:
    """The complete cache ``p`` describes, or None (absent, partial or for another key).

    A complete cache whose files have the wrong size was damaged after it was written:
    ``DataError`` (silently decoding instead would hide it).
    """
    done = read_done(p)
    if done is None:
        return None
    for path, size in p.file_sizes:
        if file_size(path) != size:
            raise DataError(
                f"{path}: cache file has the wrong size (damaged); delete "
                f"{p.directory} or build it again with `ilsvrc-bench data cache`"
            )
    return CachedViews(p, {int(k): str(v) for k, v in done.get("unreadable", {}).items()})


class CachedViews(TorchDataset[tuple[int, torch.Tensor, bool, str]]):
    """Views read from a complete cache, each checked against its SHA-256 as it is read.

    ``records`` is set by ``for_records``; the memory maps are opened lazily in each process.
    """

    def __init__(self, p: CachePlan, unreadable: dict[int, str]) -> None:
        self.plan = p
        self.unreadable = unreadable
        self.records: list[Any] = []
        self._views: np.memmap[Any, Any] | None = None
        self._hashes: np.memmap[Any, Any] | None = None

    def for_records(self, records: Sequence[Any]) -> CachedViews:
        out = CachedViews(self.plan, self.unreadable)
        out.records = list(records)
        return out

    def __len__(self) -> int:
        return len(self.records)

    def __getstate__(self) -> dict[str, Any]:
        # Workers map the files themselves.
        return {**self.__dict__, "_views": None, "_hashes": None}

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor, bool, str]:
        p = self.plan
        if self._views is None or self._hashes is None:
            c = p.key.crop_size
            shape = (p.n_images, p.n_views, 3, c, c)
            self._views = np.memmap(p.directory / VIEWS, np.uint8, "r", shape=shape)
            self._hashes = np.memmap(
                p.directory / HASHES, np.uint8, "r", shape=(p.n_images, DIGEST_BYTES)
            )
        index = int(self.records[i].index)
        views = np.array(self._views[index])
        if hashlib.sha256(views.tobytes()).digest() != self._hashes[index].tobytes():
            raise DataError(
                f"{p.directory / VIEWS}: image {index} does not match its SHA-256 (the cache is "
                f"damaged); delete {p.directory} or run `ilsvrc-bench data cache` again"
            )
        error = self.unreadable.get(index, "")
        return index, torch.from_numpy(views), not error, error
