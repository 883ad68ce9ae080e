"""A dataset held in memory: encoded images and their labels, for tests, benchmarks, notebooks.

It has what the engine reads of a prepared :class:`~ilsvrc_bench.data.Dataset` (name, path,
records, ``read_bytes``, a manifest hash) and nothing on disk, so ``evaluate_specs`` scores it
exactly like val: ``evaluate_specs(specs, MemoryDataset.from_images(pairs), ...)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ilsvrc_bench.data.dataset import ImageRecord
from ilsvrc_bench.errors import DataError


@dataclass
class MemoryDataset:
    """Images as bytes (any format Pillow reads) with sorted-wnid class indices.

    ``records[i]`` is image ``i``; ``manifest_sha256`` hashes every image's SHA-256 and label,
    so the run key changes when the content does. Not a complete val: ``info["is_subset"]``.
    """

    images: Sequence[bytes]
    labels: Sequence[int]
    name: str = "memory"
    blacklisted: frozenset[int] = frozenset()
    source: str = "memory"
    split: str = "val"
    info: dict[str, Any] = field(default_factory=lambda: {"is_subset": True})

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise DataError(
                f"memory dataset {self.name}: {len(self.images)} images but "
                f"{len(self.labels)} labels"
            )
        bad = [c for c in self.labels if not 0 <= int(c) < 1000]
        if bad:
            raise DataError(f"memory dataset {self.name}: class index {bad[0]} is not in 0..999")
        self._records = tuple(
            ImageRecord(
                index=i,
                path=f"{i:08d}",
                class_index=int(label),
                wnid="",
                devkit_id=None,
                blacklisted=i in self.blacklisted,
                size=len(blob),
                sha256=hashlib.sha256(blob).hexdigest(),
            )
            for i, (blob, label) in enumerate(zip(self.images, self.labels, strict=True))
        )
        digest = hashlib.sha256()
        for rec in self._records:
            digest.update(f"{rec.index}\t{rec.sha256}\t{rec.class_index}\n".encode())
        self.manifest_sha256 = digest.hexdigest()
        self.path = Path(f"<memory:{self.name}>")

    @classmethod
    def from_images(cls, pairs: Iterable[tuple[bytes, int]], **kwargs: Any) -> MemoryDataset:
        """From ``(encoded image, class index)`` pairs."""
        items = list(pairs)
        return cls([b for b, _ in items], [c for _, c in items], **kwargs)

    @property
    def records(self) -> tuple[ImageRecord, ...]:
        return self._records

    @property
    def n_images(self) -> int:
        return len(self._records)

    def read_bytes(self, record: ImageRecord) -> bytes:
        return self.images[record.index]
