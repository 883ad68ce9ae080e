"""A prepared dataset: its manifest, its identity and where its image bytes are.

Layout of ``<root>/datasets/<name>/``:

* ``manifest.jsonl``: one JSON object per image, sorted by path (see ``ImageRecord``). It holds
  only what identifies the data (paths, labels, sizes, SHA-256), so the same images with the
  same labels hash the same wherever and however they are stored.
* ``dataset.json``: name, source, split, counts, ``manifest_sha256``, MD5 checks done or skipped,
  problems found while preparing, and ``storage``: a tar read in place (member offsets) or a folder.
* ``devkit.json``: what the devkit said, when one was seen (devkit ids, hierarchy).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from functools import cached_property
from pathlib import Path
from typing import Any

from ilsvrc_bench import paths, serialize
from ilsvrc_bench.errors import DataError

SCHEMA_VERSION = 1
DEFAULT_NAME = "ilsvrc2012-val"
MANIFEST = "manifest.jsonl"
DATASET_JSON = "dataset.json"
DATASETS_DIR = "datasets"


class ImageChangedError(DataError):
    """An image (or the tar holding it) no longer has the size the manifest recorded."""


@dataclass(frozen=True)
class ImageRecord:
    """One image. ``class_index`` is in sorted-wnid order; ``devkit_id`` is never an index."""

    index: int
    path: str
    class_index: int
    wnid: str
    devkit_id: int | None
    blacklisted: bool
    size: int
    sha256: str


@dataclass(frozen=True)
class Storage:
    """Where the bytes are: ``kind`` is ``tar`` (read in place at ``offsets``) or ``dir``."""

    kind: str
    location: Path
    offsets: tuple[int, ...] = ()
    archive_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "location": str(self.location)}
        if self.kind == "tar":
            data["archive_size"] = self.archive_size
            data["offsets"] = list(self.offsets)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Storage:
        return cls(
            kind=data["kind"],
            location=Path(data["location"]),
            offsets=tuple(data.get("offsets", ())),
            archive_size=data.get("archive_size"),
        )


@dataclass
class Dataset:
    """A prepared dataset, opened read-only. ``records`` are in manifest order."""

    name: str
    path: Path
    source: str
    split: str
    records: tuple[ImageRecord, ...]
    manifest_sha256: str
    storage: Storage
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        return len(self.records)

    @cached_property
    def n_classes(self) -> int:
        return len({r.class_index for r in self.records})

    @property
    def problems(self) -> list[dict[str, str]]:
        """Images ``prepare`` found empty or not JPEG: ``[{"path", "problem"}]``."""
        return list(self.info.get("problems", []))

    def file_path(self, record: ImageRecord) -> Path:
        """The file holding ``record``'s bytes (the tar itself when read in place)."""
        if self.storage.kind == "tar":
            return self.storage.location
        return self.storage.location / record.path

    def read_bytes(self, record: ImageRecord) -> bytes:
        """The image's bytes; DataError naming the file if it vanished or changed size."""
        if self.storage.kind == "tar":
            return self._read_from_tar(record)
        file = self.storage.location / record.path
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise DataError(f"{file}: cannot read image ({exc.strerror or exc})") from exc
        if len(data) != record.size:
            raise ImageChangedError(
                f"{file}: has {len(data)} bytes, the manifest says {record.size}; "
                "the data changed since it was prepared (run `ilsvrc-bench data verify`)"
            )
        return data

    def _read_from_tar(self, record: ImageRecord) -> bytes:
        tar = self.storage.location
        try:
            with tar.open("rb") as fobj:
                if os.fstat(fobj.fileno()).st_size != self.storage.archive_size:
                    raise ImageChangedError(
                        f"{tar}: archive size changed since it was prepared "
                        f"(reading {record.path}); prepare it again"
                    )
                fobj.seek(self.storage.offsets[record.index])
                data = fobj.read(record.size)
        except OSError as exc:
            raise DataError(f"{tar}: cannot read {record.path} ({exc.strerror or exc})") from exc
        if len(data) != record.size:
            raise ImageChangedError(
                f"{tar}: {record.path} is truncated ({len(data)} of {record.size})"
            )
        return data


def manifest_lines(records: Iterable[ImageRecord]) -> bytes:
    """The canonical manifest bytes: one compact JSON object per record."""
    dump = json.JSONEncoder(separators=(",", ":")).encode
    fields = [f.name for f in dataclass_fields(ImageRecord)]
    text = "".join(dump({f: getattr(r, f) for f in fields}) + "\n" for r in records)
    return text.encode("utf-8")


def datasets_dir(root: str | os.PathLike[str] | None = None) -> Path:
    return paths.data_root(root) / DATASETS_DIR


def write_dataset(
    directory: Path,
    *,
    name: str,
    source: str,
    split: str,
    records: Sequence[ImageRecord],
    storage: Storage,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Write manifest and ``dataset.json`` into ``directory``; returns the manifest SHA-256."""
    body = manifest_lines(records)
    digest = hashlib.sha256(body).hexdigest()
    serialize.atomic_write_bytes(directory / MANIFEST, body, error=DataError)
    identity = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "source": source,
        "split": split,
        "n_images": len(records),
        "n_classes": len({r.class_index for r in records}),
        "manifest_sha256": digest,
        **(extra or {}),
        "storage": storage.to_json(),
    }
    text = json.dumps(identity, indent=1) + "\n"
    serialize.atomic_write_text(directory / DATASET_JSON, text, error=DataError)
    return digest


def resolve(data: str | os.PathLike[str] | None, root: str | os.PathLike[str] | None) -> Path:
    """The directory of a dataset given by name, path or nothing (the default dataset)."""
    if data is None:
        return datasets_dir(root) / DEFAULT_NAME
    candidate = Path(data).expanduser()
    text = os.fspath(data)
    if os.sep in text or "/" in text or (candidate / DATASET_JSON).is_file():
        return candidate
    named = datasets_dir(root) / text
    # a bare name: the prepared dataset wins over a folder of that name here (its source images)
    return candidate if candidate.is_dir() and not (named / DATASET_JSON).is_file() else named


def open_dataset(
    data: str | os.PathLike[str] | None = None, *, root: str | os.PathLike[str] | None = None
) -> Dataset:
    """Open a prepared dataset by name (under the root), path, or the default ILSVRC2012 val."""
    directory = resolve(data, root)
    identity_file = directory / DATASET_JSON
    if not identity_file.is_file():
        others = list_datasets(root)
        hint = f"; prepared here: {', '.join(others)} (use --data NAME)" if others else ""
        raise DataError(
            f"no prepared data at {directory}; run `ilsvrc-bench data prepare` "
            f"(or `ilsvrc-bench data sample` for a small try-out set){hint}"
        )
    try:
        info = json.loads(identity_file.read_text(encoding="utf-8"))
        body = (directory / MANIFEST).read_bytes()
    except (OSError, ValueError) as exc:
        raise DataError(f"{identity_file}: unreadable dataset record ({exc})") from exc
    digest = hashlib.sha256(body).hexdigest()
    if digest != info.get("manifest_sha256"):
        raise DataError(
            f"{directory / MANIFEST}: manifest hash {digest[:12]} does not match dataset.json; "
            "prepare the dataset again"
        )
    try:
        rows = json.loads(b"[" + b",".join(body.splitlines()) + b"]")
        records = tuple(ImageRecord(**row) for row in rows)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{directory / MANIFEST}: malformed manifest ({exc})") from exc
    storage = Storage.from_json(info["storage"])
    if not storage.location.is_absolute():  # images copied into the dataset folder
        storage = Storage(storage.kind, directory / storage.location, *_rest(storage))
    return Dataset(
        name=info["name"],
        path=directory,
        source=info["source"],
        split=info["split"],
        records=records,
        manifest_sha256=digest,
        storage=storage,
        info=info,
    )


def _rest(storage: Storage) -> tuple[tuple[int, ...], int | None]:
    return storage.offsets, storage.archive_size


def list_datasets(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the prepared datasets under the root."""
    base = datasets_dir(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / DATASET_JSON).is_file())
