"""Hugging Face ``imagenet-1k`` validation parquet shards: ``image{bytes,path}`` and ``label``.

The label is the sorted-wnid class index. Random access into parquet is slow, so the images are
unpacked once into the dataset folder (``images/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ilsvrc_bench.data.dataset import DEFAULT_NAME, Storage
from ilsvrc_bench.data.scan import Context, Entry, Scan
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import N_CLASSES, all_synsets

IMAGES_DIR = "images"


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


def scan_hf(sources: Sequence[Path], ctx: Context) -> Scan:
    import hashlib

    import pyarrow.parquet as pq

    wnids = [s.wnid for s in all_synsets()]
    target = ctx.workdir / IMAGES_DIR
    target.mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []
    files = shards(sources)
    if not files:
        raise DataError(f"{sources[0]}: no parquet shards found")
    for shard in files:
        try:
            table = pq.read_table(shard, columns=["image", "label"])
        except Exception as exc:  # pyarrow raises several kinds on a bad file
            raise DataError(f"{shard}: not a readable imagenet-1k parquet shard ({exc})") from exc
        images, labels = table.column("image").to_pylist(), table.column("label").to_pylist()
        for row, (image, label) in enumerate(zip(images, labels, strict=True)):
            if not isinstance(label, int) or not 0 <= label < N_CLASSES:
                raise DataError(f"{shard}: row {row} has label {label!r}, not 0..999")
            data = (image or {}).get("bytes") or b""
            name = _safe_name((image or {}).get("path"), shard, row)
            try:
                (target / name).write_bytes(data)
            except OSError as exc:
                raise DataError(f"{target / name}: cannot write ({exc.strerror})") from exc
            sha = hashlib.sha256(data).hexdigest()
            entries.append(Entry(name, wnids[label], len(data), sha, data[:16]))
            ctx.tick("unpack parquet", 1, None)
    storage = Storage("dir", Path(IMAGES_DIR))
    return Scan("hf", entries, storage, DEFAULT_NAME, devkit=ctx.seen_devkit)
