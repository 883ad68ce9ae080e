"""Distribution-shift test sets laid out as wnid folders: ImageNet-R, ImageNet-A, ImageNet-Sketch.

ImageNet-Sketch covers all 1000 classes. ImageNet-R and ImageNet-A cover 200 classes each
(lists in ``imagenet-r-classes.txt`` / ``imagenet-a-classes.txt``); a prepared dataset records
that subset (``class_subset`` in ``dataset.json``, sorted-wnid class indices) and ``eval``
ranks only those classes, the protocol of the papers that introduced the sets. ImageNetV2
(folders ``0..999``) is read by ``folders.scan_imagenetv2``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ilsvrc_bench.data.archives import file_sha256
from ilsvrc_bench.data.dataset import Storage
from ilsvrc_bench.data.scan import IMAGE_SUFFIXES, Context, Entry, Scan
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.progress import stage
from ilsvrc_bench.synsets import N_CLASSES, index_of


@dataclass(frozen=True)
class ShiftSet:
    """One shift set: its source name, default dataset name and class-list file (None = all)."""

    source: str
    default_name: str
    classes_file: str | None
    folder_names: tuple[str, ...]


SHIFT_SETS: dict[str, ShiftSet] = {
    "imagenet-r": ShiftSet("imagenet-r", "imagenet-r", "imagenet-r-classes.txt", ("imagenet-r",)),
    "imagenet-a": ShiftSet("imagenet-a", "imagenet-a", "imagenet-a-classes.txt", ("imagenet-a",)),
    "imagenet-sketch": ShiftSet(
        "imagenet-sketch", "imagenet-sketch", None, ("imagenet-sketch", "sketch")
    ),
}
# Sources whose runs measure a shifted distribution (the robustness view's columns).
SHIFT_SOURCES = (*SHIFT_SETS, "imagenetv2")
WNID_RE = re.compile(r"^n\d{8}$")


@cache
def subset_wnids(kind: str) -> tuple[str, ...] | None:
    """The wnids of a shift set's classes, sorted; None when it covers all 1000."""
    shift = SHIFT_SETS[kind]
    if shift.classes_file is None:
        return None
    text = resources.files("ilsvrc_bench.data").joinpath(shift.classes_file).read_text("utf-8")
    wnids = tuple(w for w in (line.strip() for line in text.splitlines()) if w and w[0] != "#")
    return tuple(sorted(wnids))


def class_subset(kind: str) -> tuple[int, ...] | None:
    """The sorted-wnid class indices of a shift set's classes; None when it covers all 1000."""
    wnids = subset_wnids(kind)
    return None if wnids is None else tuple(sorted(index_of(w) for w in wnids))


def dataset_class_subset(info: Mapping[str, Any] | None) -> tuple[int, ...] | None:
    """The class subset a prepared dataset declares (``dataset.json``), checked; None if none."""
    raw = (info or {}).get("class_subset")
    if raw is None:
        return None
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(c, int) and 0 <= c < N_CLASSES for c in raw)
        or len(set(raw)) != len(raw)
    ):
        raise DataError(
            f"{(info or {}).get('name', 'dataset')}: dataset.json class_subset must be a list of "
            "distinct class indices 0..999; prepare the dataset again"
        )
    return tuple(sorted(raw))


def detect_shift(folder: Path) -> str | None:
    """Which shift set a folder of wnid folders is: by its name, else by its exact class set."""
    name = folder.resolve().name.lower()
    for kind, shift in SHIFT_SETS.items():
        if name in shift.folder_names:
            return kind
    present = {p.name for p in folder.iterdir() if p.is_dir()}
    for kind in ("imagenet-r", "imagenet-a"):
        if present == set(subset_wnids(kind) or ()):
            return kind
    return None


def scan_shift(sources: Sequence[Path], ctx: Context, *, kind: str) -> Scan:
    """A shift set: one folder per wnid (other files, e.g. ImageNet-A's README, are ignored)."""
    if len(sources) != 1 or not sources[0].is_dir():
        raise DataError(f"{sources[0]}: the {kind} format takes one folder")
    folder = sources[0]
    allowed = subset_wnids(kind)
    labels: dict[str, str] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not WNID_RE.match(sub.name):
            raise DataError(f"{sub}: {kind} class folders are wnids (n01440764, ...)")
        index_of(sub.name)  # DataError on a folder that is not one of the 1000 wnids
        if allowed is not None and sub.name not in allowed:
            raise DataError(f"{sub}: {sub.name} is not one of the 200 {kind} classes")
        for image in sorted(sub.iterdir()):
            if image.is_file() and image.suffix.lower() in IMAGE_SUFFIXES:
                labels[f"{sub.name}/{image.name}"] = sub.name
    if not labels:
        raise DataError(f"{folder}: no images in wnid folders")
    shift = SHIFT_SETS[kind]
    entries = []
    with stage(ctx.progress, "hash images", len(labels)) as advance:
        for rel in sorted(labels):
            size, sha, head = file_sha256(folder / rel)
            entries.append(Entry(rel, labels[rel], size, sha, head))
            advance(1)
    return Scan(
        shift.source,
        entries,
        Storage("dir", folder.resolve()),
        shift.default_name,
        split="test",
        class_subset=class_subset(kind),
    )
