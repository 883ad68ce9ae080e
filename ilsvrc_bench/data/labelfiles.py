"""Label files for a folder of val images: Kaggle's solution CSV, lists, the devkit ground truth.

Lists are ``FILE LABEL`` or ``FILE,LABEL`` (a header row such as ``Id,Label`` is skipped), with
or without a path prefix (``./data/ILSVRC2012_val_00000347.JPEG, 65``): images are matched by
file name, so a label file for all 50,000 images labels any subset of them. An integer label is
a class index in sorted-wnid order (``--label-offset`` shifts 1-based files); a wnid is taken
as it is. The same image listed twice with different labels is refused naming both lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ilsvrc_bench.data.devkit import Devkit
from ilsvrc_bench.data.labelorder import integer_label_problem
from ilsvrc_bench.data.scan import val_number
from ilsvrc_bench.data.textfiles import Row, read_text, rows
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import all_synsets, index_of

WNID_RE = re.compile(r"^n\d{8}$")
INT_RE = re.compile(r"^[+-]?\d+$")
LIST_EXPECTED = "two columns, FILE LABEL or FILE,LABEL (LABEL a class index 0..999 or a wnid)"


@dataclass
class Labels:
    """``by_image``: image file name -> wnid for the images present; ``listed``: how many
    images the file names (present or not); ``notes``: things worth saying that are not errors."""

    by_image: dict[str, str]
    listed: int
    notes: list[str] = field(default_factory=list)


def _matcher(images: Iterable[str]) -> dict[str, str]:
    """File name and stem -> the image's name in the folder."""
    lookup: dict[str, str] = {}
    for name in images:
        lookup[name] = name
        lookup.setdefault(PurePosixPath(name).stem, name)
    return lookup


def _key(raw: str) -> str:
    return PurePosixPath(raw.replace("\\", "/")).name


def _dedupe(path: Path, pairs: Iterable[tuple[Row, str, str]], notes: list[str]) -> dict[str, str]:
    """``(row, image key, label)`` -> key -> label; conflicting duplicates are a DataError."""
    first: dict[str, tuple[Row, str]] = {}
    repeated = 0
    for row, key, label in pairs:
        if key in first:
            seen, before = first[key]
            if before != label:
                raise DataError(
                    f"{path}: lines {seen.line} and {row.line} give {key} different labels "
                    f"({before} and {label}); fix the label file"
                )
            repeated += 1
            continue
        first[key] = (row, label)
    if repeated:
        notes.append(f"{path.name}: {repeated} images are listed twice with the same label")
    return {key: label for key, (_, label) in first.items()}


def _kaggle(path: Path, text: str, notes: list[str]) -> dict[str, str]:
    """``ImageId -> wnid`` from ``LOC_val_solution.csv`` (first token of ``PredictionString``)."""
    found = rows(path, text)
    header = found[0].fields
    if header[:2] != ("ImageId", "PredictionString"):
        raise DataError(
            f"{path}: line {found[0].line}: expected the header ImageId,PredictionString"
        )
    pairs = []
    for row in found[1:]:
        if len(row.fields) != 2 or not row.fields[1]:
            raise DataError(
                f"{path}: line {row.line}: expected ImageId,PredictionString, got {row.text!r}"
            )
        wnid = row.fields[1].split()[0]
        if not WNID_RE.match(wnid):
            raise DataError(f"{path}: line {row.line}: {wnid!r} is not a wnid (n + 8 digits)")
        index_of(wnid)
        pairs.append((row, row.fields[0], wnid))
    return _dedupe(path, pairs, notes)


def _is_label(value: str) -> bool:
    return bool(INT_RE.match(value) or WNID_RE.match(value))


def _list(path: Path, found: list[Row], notes: list[str]) -> dict[str, str]:
    """``image key -> raw label`` from a two-column list; a first row of names is a header."""
    if found and len(found[0].fields) == 2 and not _is_label(found[0].fields[1]):
        notes.append(f"{path.name}: line {found[0].line} read as a header ({found[0].text!r})")
        found = found[1:]
    pairs = []
    for row in found:
        if len(row.fields) != 2 or not row.fields[0]:
            raise DataError(
                f"{path}: line {row.line} has {len(row.fields)} columns; expected "
                f"{LIST_EXPECTED}: {row.text[:80]!r}"
            )
        if not _is_label(row.fields[1]):
            raise DataError(
                f"{path}: line {row.line}: {row.fields[1][:40]!r} is not a class index or a "
                f"wnid; expected {LIST_EXPECTED}"
            )
        pairs.append((row, _key(row.fields[0]), row.fields[1]))
    return _dedupe(path, pairs, notes)


def _to_wnids(
    path: Path, raw: Mapping[str, str], *, offset: int, devkit: Devkit | None
) -> dict[str, str]:
    """Raw labels (integers or wnids) -> wnids, after the shift-by-one and order checks."""
    ints = {k: int(v) + offset for k, v in raw.items() if INT_RE.match(v)}
    problem = integer_label_problem(ints, devkit, offset=offset)
    if problem:
        raise DataError(f"{path}: {problem}")
    wnids = [s.wnid for s in all_synsets()]
    out = {}
    for key, value in raw.items():
        if WNID_RE.match(value):
            index_of(value)  # DataError on a wnid that is not one of the 1000
            out[key] = value
        else:
            out[key] = wnids[ints[key]]
    return out


def _ground_truth(
    path: Path, found: list[Row], images: Sequence[str], devkit: Devkit | None
) -> dict[str, str]:
    """The devkit's one-id-per-line ground truth: line N labels ``ILSVRC2012_val_N``."""
    if devkit is None:
        raise DataError(
            f"{path}: devkit ground truth holds devkit ids; also give the devkit tar.gz "
            "(ILSVRC2012_devkit_t12.tar.gz) so they can be mapped to wnids"
        )
    for row in found:
        if len(row.fields) != 1 or not row.fields[0].isdigit():
            raise DataError(
                f"{path}: line {row.line}: expected one devkit id per line, got {row.text[:80]!r}"
            )
    truth = [int(row.fields[0]) for row in found]
    labels = {}
    for name in images:
        number = val_number(name)
        if number is None or not 1 <= number <= len(truth):
            raise DataError(
                f"{path}: cannot label {name!r} (not ILSVRC2012_val_N with N in 1..{len(truth)})"
            )
        devkit_id = truth[number - 1]
        if devkit_id not in devkit.wnid_of_devkit_id:
            raise DataError(f"{path}: line {number} has devkit id {devkit_id}, not 1..1000")
        labels[name] = devkit.wnid_of_devkit_id[devkit_id]
    return labels


def read_labels(
    path: Path, images: Sequence[str], devkit: Devkit | None, *, offset: int = 0
) -> Labels:
    """Labels for ``images`` (file names in one folder) from any supported label file."""
    text = read_text(path)
    found = rows(path, text)
    if not found:
        raise DataError(f"{path}: the label file is empty")
    notes: list[str] = []
    if found[0].fields[0] == "ImageId":
        by_image, listed = _match(path, _kaggle(path, text, notes), images)
        return Labels(by_image, listed, notes)
    if len(found[0].fields) == 1 and found[0].fields[0].isdigit():
        return Labels(_ground_truth(path, found, images, devkit), len(found), notes)
    raw = _to_wnids(path, _list(path, found, notes), offset=offset, devkit=devkit)
    by_image, listed = _match(path, raw, images)
    return Labels(by_image, listed, notes)


def _match(path: Path, raw: Mapping[str, str], images: Sequence[str]) -> tuple[dict[str, str], int]:
    """Keep the listed images that are present (by file name or stem)."""
    lookup = _matcher(images)
    by_image = {lookup[k]: wnid for k, wnid in raw.items() if k in lookup}
    if raw and not by_image:
        first = next(iter(raw))
        raise DataError(
            f"{path}: lists {len(raw):,} images but none of them is in the folder "
            f"(first listed: {first!r}); is this the label file for these images?"
        )
    return by_image, len(raw)
