"""Hugging Face ``imagenet-1k`` validation parquet shards: ``image{bytes,path}`` and ``label``.

The label is the sorted-wnid class index; where the stored file name carries a wnid
(``ILSVRC2012_val_00000001_n01751748.JPEG``) the two must agree. Random access into parquet is
slow, so the images are unpacked once into the dataset folder (``images/``), a batch at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from ilsvrc_bench.data.dataset import DEFAULT_NAME, Storage
from ilsvrc_bench.data.scan import Context, Entry, Scan, wnid_in_name
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.progress import stage
from ilsvrc_bench.synsets import N_CLASSES, all_synsets

IMAGES_DIR = "images"
BATCH = 256


def shards(sources: Sequence[Path]) -> list[Path]:
    """The validation shards among ``sources`` (files or folders searched recursively)."""
    found: list[Path] = []
    for src in sources:
        found += sorted(src.rglob("*.parquet")) if src.is_dir() else [src]
    validation = [p for p in found if "validation" in p.name or "val" in p.parent.name]
    return validation or found


def _safe_name(raw: str | None, shard: Path, row: int) -> str:
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    if not name or name in {".", ".."}:
        name = f"{shard.stem}-{row:06d}.JPEG"
    return name


@cache
def _wnids() -> list[str]:
    return [s.wnid for s in all_synsets()]


def _rows(shard: Path) -> Any:
    import pyarrow.parquet as pq

    try:
        for batch in pq.ParquetFile(shard).iter_batches(BATCH, columns=["image", "label"]):
            images, labels = batch.column("image").to_pylist(), batch.column("label").to_pylist()
            yield from zip(images, labels, strict=True)
    except Exception as exc:  # pyarrow raises several kinds on a bad file
        raise DataError(f"{shard}: not a readable imagenet-1k parquet shard ({exc})") from exc


def _entry(shard: Path, row: int, image: Any, label: Any, target: Path) -> Entry:
    wnids = _wnids()
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < N_CLASSES:
        raise DataError(f"{shard}: row {row} has label {label!r}, not 0..999")
    data = (image or {}).get("bytes") or b""
    name = _safe_name((image or {}).get("path"), shard, row)
    named = wnid_in_name(name)
    if named is not None and named != wnids[label]:
        raise DataError(
            f"{shard}: row {row} ({name}) has label {label} = {wnids[label]}, but its name says "
            f"{named}; the labels are not in sorted-wnid order"
        )
    try:
        (target / name).write_bytes(data)
    except OSError as exc:
        raise DataError(f"{target / name}: cannot write ({exc.strerror})") from exc
    return Entry(name, wnids[label], len(data), hashlib.sha256(data).hexdigest(), data[:16])


def scan_hf(sources: Sequence[Path], ctx: Context) -> Scan:
    target = ctx.workdir / IMAGES_DIR
    target.mkdir(parents=True, exist_ok=True)
    files = shards(sources)
    if not files:
        raise DataError(f"{sources[0]}: no parquet shards found")
    entries: list[Entry] = []
    with stage(ctx.progress, "unpack parquet", None) as advance:
        for shard in files:
            for row, (image, label) in enumerate(_rows(shard)):
                entries.append(_entry(shard, row, image, label, target))
                advance(1)
    return Scan(
        "hf", entries, Storage("dir", Path(IMAGES_DIR)), DEFAULT_NAME, devkit=ctx.seen_devkit
    )
