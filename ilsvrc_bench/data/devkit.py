"""The ILSVRC2012 devkit: ``meta.mat`` (devkit ids, wnids, hierarchy), ground truth, blacklist.

The devkit's ``ILSVRC2012_ID`` (here ``devkit_id``, 1..1000 for the leaves) is NOT the class
index: the class index is the position of the wnid in sorted order. What a prepared dataset needs
from the devkit is stored as ``devkit.json`` in the dataset directory and in the data root.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ilsvrc_bench import paths, serialize
from ilsvrc_bench.data.archives import read_members
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import N_CLASSES, index_of

if TYPE_CHECKING:
    from ilsvrc_bench.data.dataset import Dataset

META = "data/meta.mat"
GROUND_TRUTH = "data/ILSVRC2012_validation_ground_truth.txt"
BLACKLIST = "data/ILSVRC2012_validation_blacklist.txt"
DEVKIT_JSON = "devkit.json"


@dataclass(frozen=True)
class Devkit:
    """What the devkit says. ``ground_truth[k]`` is the devkit id of val image ``k + 1``."""

    wnid_of_devkit_id: Mapping[int, str]
    parent_of: Mapping[str, str]  # wnid -> parent wnid, for every node that has a parent
    words_of: Mapping[str, str]  # every node's words, internal nodes included
    ground_truth: tuple[int, ...]
    blacklist: frozenset[int]  # 1-based val image numbers

    def devkit_id_of(self) -> dict[str, int]:
        return {w: i for i, w in self.wnid_of_devkit_id.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "devkit_ids": {str(k): v for k, v in sorted(self.wnid_of_devkit_id.items())},
            "parents": dict(sorted(self.parent_of.items())),
            "words": dict(sorted(self.words_of.items())),
            "ground_truth": list(self.ground_truth),
            "blacklist": sorted(self.blacklist),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Devkit:
        return cls(
            wnid_of_devkit_id={int(k): v for k, v in data["devkit_ids"].items()},
            parent_of=dict(data["parents"]),
            words_of=dict(data.get("words", {})),
            ground_truth=tuple(data["ground_truth"]),
            blacklist=frozenset(data["blacklist"]),
        )


def _parse_meta(archive: Path, raw: bytes) -> tuple[dict[int, str], dict[str, str], dict[str, str]]:
    from scipy.io import loadmat

    try:
        synsets = loadmat(io.BytesIO(raw), squeeze_me=True)["synsets"]
        rows = [
            (int(s["ILSVRC2012_ID"]), str(s["WNID"]), str(s["words"]), s["children"])
            for s in synsets.ravel()
        ]
    except Exception as exc:  # scipy raises many kinds on a bad file
        raise DataError(f"{archive}: {META} is not a readable devkit meta.mat ({exc})") from exc
    wnid_of = {sid: wnid for sid, wnid, _, _ in rows}
    parents: dict[str, str] = {}
    for _, wnid, _, children in rows:
        for child in _as_ints(children):
            if child in wnid_of:
                parents[wnid_of[child]] = wnid
    leaves = {sid: wnid_of[sid] for sid in range(1, N_CLASSES + 1) if sid in wnid_of}
    if len(leaves) != N_CLASSES:
        raise DataError(f"{archive}: {META} has {len(leaves)} of the 1000 leaf synsets")
    for wnid in leaves.values():
        index_of(wnid)  # DataError on an unknown wnid
    return leaves, parents, {wnid: words for _, wnid, words, _ in rows}


def _as_ints(value: Any) -> list[int]:
    try:
        return [int(v) for v in value.ravel()] if hasattr(value, "ravel") else [int(value)]
    except (TypeError, ValueError):
        return []


def _parse_ints(archive: Path, member: str, raw: bytes) -> tuple[int, ...]:
    try:
        return tuple(int(line) for line in raw.decode("ascii").split())
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{archive}: {member} is not a list of integers ({exc})") from exc


def read_devkit(archive: Path) -> Devkit:
    """Parse the devkit tar.gz; DataError if ``meta.mat`` or the ground truth is missing."""
    found: dict[str, bytes] = {}
    suffixes = (META, GROUND_TRUTH, BLACKLIST)
    for name, data in read_members(archive, lambda n: n.endswith(suffixes)):
        found[next(s for s in suffixes if name.endswith(s))] = data
    for needed in (META, GROUND_TRUTH):
        if needed not in found:
            raise DataError(f"{archive}: devkit has no {needed}")
    leaves, parents, words = _parse_meta(archive, found[META])
    ground_truth = _parse_ints(archive, GROUND_TRUTH, found[GROUND_TRUTH])
    bad = sorted({g for g in ground_truth if g not in leaves})
    if bad:
        raise DataError(f"{archive}: {GROUND_TRUTH} has devkit ids outside 1..1000: {bad[:5]}")
    blacklist = frozenset(_parse_ints(archive, BLACKLIST, found.get(BLACKLIST, b"")))
    return Devkit(leaves, parents, words, ground_truth, blacklist)


def save_devkit(devkit: Devkit, directory: Path) -> Path:
    """Write ``devkit.json`` into ``directory`` (a dataset directory or the data root), durably;
    :class:`DataError` naming the file if it cannot be written."""
    target = directory / DEVKIT_JSON
    text = json.dumps(devkit.to_json(), separators=(",", ":"))
    serialize.atomic_write_text(target, text, error=DataError)
    return target


def load_devkit(directory: Path) -> Devkit | None:
    """The devkit stored in ``directory``, or None when none was seen there."""
    target = directory / DEVKIT_JSON
    if not target.is_file():
        return None
    try:
        return Devkit.from_json(json.loads(target.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{target}: unreadable devkit record ({exc})") from exc


def seen_devkit(root: str | os.PathLike[str] | None = None) -> Devkit | None:
    """The devkit last seen by ``prepare`` under the data root, if any."""
    return load_devkit(paths.data_root(root))


def devkit_ids(root: str | os.PathLike[str] | None = None) -> dict[str, int] | None:
    """wnid -> devkit id, when a devkit has been seen under the data root."""
    devkit = seen_devkit(root)
    return None if devkit is None else devkit.devkit_id_of()


def load_hierarchy(dataset: Dataset) -> dict[str, str]:
    """wnid -> parent wnid from the devkit seen with ``dataset``; DataError without one."""
    devkit = load_devkit(dataset.path) or seen_devkit(dataset.path.parent.parent)
    if devkit is None:
        raise DataError(
            f"{dataset.path}: no devkit was seen for this dataset; "
            "prepare it with the devkit tar.gz"
        )
    return dict(devkit.parent_of)
