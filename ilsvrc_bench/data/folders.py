"""Readers for sources already unpacked: a flat val folder with a label file, the Kaggle tree,
an ImageFolder of wnid folders, ImageNetV2 folders ``0..999``, and Hugging Face parquet shards.

Images in folders are read in place; only parquet shards are unpacked into the dataset folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ilsvrc_bench.data.archives import file_sha256
from ilsvrc_bench.data.dataset import DEFAULT_NAME, Storage
from ilsvrc_bench.data.devkit import Devkit, read_devkit
from ilsvrc_bench.data.labelfiles import read_labels
from ilsvrc_bench.data.official import is_devkit, label_by_number
from ilsvrc_bench.data.scan import IMAGE_SUFFIXES, Context, Entry, Scan, check_numbers, val_number
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.progress import stage
from ilsvrc_bench.synsets import N_CLASSES, all_synsets, index_of

KAGGLE_VAL = Path("ILSVRC/Data/CLS-LOC/val")
KAGGLE_SOLUTION = "LOC_val_solution.csv"
LABEL_FILES = (KAGGLE_SOLUTION, "val.txt", "ILSVRC2012_validation_ground_truth.txt")
WNID_RE = re.compile(r"^n\d{8}$")


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _hash_all(base: Path, rel_paths: Sequence[str], ctx: Context) -> list[tuple[int, str, bytes]]:
    out = []
    with stage(ctx.progress, "hash images", len(rel_paths)) as advance:
        for rel in rel_paths:
            out.append(file_sha256(base / rel))
            advance(1)
    return out


def _entries(
    base: Path, labelled: dict[str, str], ctx: Context, devkit: Devkit | None
) -> list[Entry]:
    paths = sorted(labelled)
    entries = []
    for rel, (size, sha, head) in zip(paths, _hash_all(base, paths, ctx), strict=True):
        number = val_number(rel)
        black = bool(devkit and number is not None and number in devkit.blacklist)
        entries.append(Entry(rel, labelled[rel], size, sha, head, blacklisted=black))
    return entries


# -- readers ----------------------------------------------------------------------------------


def _split_flat(sources: Sequence[Path]) -> tuple[Path, Path | None, Path | None]:
    folders = [p for p in sources if p.is_dir()]
    kits = [p for p in sources if is_devkit(p)]
    labels = [p for p in sources if p.is_file() and not is_devkit(p)]
    if len(folders) != 1 or len(kits) > 1 or len(labels) > 1:
        raise DataError(
            f"{sources[0]}: give one image folder, at most one label file and at most one devkit"
        )
    return folders[0], labels[0] if labels else None, kits[0] if kits else None


def scan_flat(sources: Sequence[Path], ctx: Context, *, source: str = "flat") -> Scan:
    """A flat folder of ``ILSVRC2012_val_*.JPEG`` (or the Kaggle tree) plus a label file."""
    folder, label_file, devkit_tgz = _split_flat(sources)
    checks = {}
    devkit = ctx.seen_devkit
    if devkit_tgz is not None:
        checks[devkit_tgz.name] = ctx.check_md5(devkit_tgz)
        devkit = read_devkit(devkit_tgz)
    base = folder
    if (folder / KAGGLE_VAL).is_dir():
        base, source = folder / KAGGLE_VAL, "kaggle"
    images = sorted(p.name for p in base.iterdir() if is_image(p))
    if label_file is None:
        found = [p for n in LABEL_FILES if (p := folder / n).is_file()]
        label_file = found[0] if found else None
    check_numbers(base, images)
    notes: list[str] = []
    if label_file is not None:
        read = read_labels(label_file, images, devkit, offset=ctx.label_offset)
        labels, listed, notes = read.by_image, read.listed, read.notes
    elif devkit_tgz is not None and devkit is not None:
        triples = label_by_number(images, devkit, labels_file=devkit_tgz)
        labels = {rel: t[0] for rel, t in zip(images, triples, strict=True)}
        listed = len(devkit.ground_truth)
    else:
        raise DataError(
            f"{folder}: no label file; give LOC_val_solution.csv, val.txt, or the devkit tar.gz"
        )
    unlabelled = [rel for rel in images if rel not in labels]
    if unlabelled:
        raise DataError(f"{label_file}: has no label for {unlabelled[0]!r} in {base}")
    entries = _entries(base, labels, ctx, devkit)
    storage = Storage("dir", base.resolve())
    return Scan(
        source,
        entries,
        storage,
        DEFAULT_NAME,
        devkit=devkit,
        checks=checks,
        n_listed=listed,
        notes=notes,
    )


def scan_imagefolder(sources: Sequence[Path], ctx: Context) -> Scan:
    """An ImageFolder: one folder per wnid (``n01440764/...``)."""
    folder = _one_folder(sources, "imagefolder")
    labels = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        index_of(sub.name)  # DataError on a folder that is not one of the 1000 wnids
        for image in sorted(sub.iterdir()):
            if is_image(image):
                labels[f"{sub.name}/{image.name}"] = sub.name
    devkit = ctx.seen_devkit
    entries = _entries(folder, labels, ctx, devkit)
    return Scan(
        "imagefolder", entries, Storage("dir", folder.resolve()), DEFAULT_NAME, devkit=devkit
    )


def scan_imagenetv2(sources: Sequence[Path], ctx: Context) -> Scan:
    """ImageNetV2: folders ``0..999`` whose names are the integer class index (no string sort)."""
    folder = _one_folder(sources, "imagenetv2")
    wnids = [s.wnid for s in all_synsets()]
    labels = {}
    for sub in sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name):
        if not sub.name.isdigit() or int(sub.name) >= N_CLASSES:
            raise DataError(f"{sub}: ImageNetV2 class folders are named 0..999")
        for image in sorted(sub.iterdir()):
            if is_image(image):
                labels[f"{sub.name}/{image.name}"] = wnids[int(sub.name)]
    entries = _entries(folder, labels, ctx, None)
    name = re.sub(r"-format-val$", "", folder.resolve().name).lower()
    name = name if name.startswith("imagenetv2") else "imagenetv2"
    return Scan("imagenetv2", entries, Storage("dir", folder.resolve()), name, split="test")


def _one_folder(sources: Sequence[Path], fmt: str) -> Path:
    if len(sources) != 1 or not sources[0].is_dir():
        raise DataError(f"{sources[0]}: the {fmt} format takes one folder")
    return sources[0]


def looks_like(folder: Path) -> str | None:
    """The folder format detected from its layout, or None."""
    if (folder / KAGGLE_VAL).is_dir():
        return "kaggle"
    subdirs = [p.name for p in folder.iterdir() if p.is_dir()]
    if subdirs and all(WNID_RE.match(n) for n in subdirs):
        return "imagefolder"
    if subdirs and all(n.isdigit() for n in subdirs):
        return "imagenetv2"
    if any(folder.rglob("*.parquet")):
        return "hf"
    if any(val_number(p.name) for p in folder.iterdir() if is_image(p)):
        return "flat"
    return None
