"""The 1000 ILSVRC2012 classes: sorted-wnid index <-> wnid <-> names, lemmas and gloss.

Wnids, lemmas and glosses come from the data files timm ships with ``ImageNetInfo``; display
names from torchvision's ``_IMAGENET_CATEGORIES``. Both are read as files, never imported, so
this module (and ``ilsvrc-bench synsets``) stays free of torch.
"""

from __future__ import annotations

import ast
import importlib.util
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ilsvrc_bench.errors import DataError

N_CLASSES = 1000
FIRST_WNID = "n01440764"


@dataclass(frozen=True)
class Synset:
    """One class. ``class_index`` is in sorted-wnid order (0 = n01440764), never devkit order."""

    class_index: int
    wnid: str
    name: str
    lemmas: tuple[str, ...]
    gloss: str


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the {package} package is not installed; it ships the ImageNet class data")
    return Path(next(iter(spec.submodule_search_locations)))


def _read_tsv(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read synset data ({exc.strerror})") from exc
    table: dict[str, str] = {}
    for line in lines:
        wnid, _, text = line.partition("\t")
        table[wnid.strip()] = text.strip()
    return table


def _torchvision_names() -> list[str] | None:
    """torchvision's 1000 display names, parsed from its source without importing it."""
    try:
        meta = _package_dir("torchvision") / "models" / "_meta.py"
        tree = ast.parse(meta.read_text(encoding="utf-8"))
    except (DataError, OSError, SyntaxError):
        return None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "_IMAGENET_CATEGORIES"
        ):
            names = ast.literal_eval(node.value)
            if isinstance(names, list) and len(names) == N_CLASSES:
                return [str(n) for n in names]
    return None


def _unique_names(names: list[str], wnids: list[str], lemmas: list[tuple[str, ...]]) -> list[str]:
    """Keep display names distinguishable: a repeated name gets a second lemma or the wnid."""
    counts = Counter(names)
    unique = list(names)
    for i, name in enumerate(names):
        if counts[name] > 1:
            extra = next((lem for lem in lemmas[i][1:] if lem != name), wnids[i])
            unique[i] = f"{name} ({extra})"
    if len(set(unique)) != len(unique):  # pragma: no cover - the data would have to change
        unique = [f"{n} ({w})" if counts[n] > 1 else n for n, w in zip(names, wnids, strict=True)]
    return unique


@cache
def all_synsets() -> tuple[Synset, ...]:
    """The 1000 classes in sorted-wnid order, validated on load."""
    info = _package_dir("timm") / "data" / "_info"
    wnids_file = info / "imagenet_synsets.txt"
    try:
        wnids = [w.strip() for w in wnids_file.read_text(encoding="utf-8").split() if w.strip()]
    except OSError as exc:
        raise DataError(f"{wnids_file}: cannot read the ImageNet wnids ({exc.strerror})") from exc
    if len(wnids) != N_CLASSES or wnids != sorted(set(wnids)) or wnids[0] != FIRST_WNID:
        raise DataError(f"{wnids_file}: expected 1000 sorted unique wnids, got {len(wnids)}")
    lemma_text = _read_tsv(info / "imagenet_synset_to_lemma.txt")
    glosses = _read_tsv(info / "imagenet_synset_to_definition.txt")
    lemmas = [tuple(x.strip() for x in lemma_text.get(w, w).split(",") if x.strip()) for w in wnids]
    names = _torchvision_names() or [lem[0] for lem in lemmas]
    names = _unique_names(names, wnids, lemmas)
    return tuple(
        Synset(class_index=i, wnid=w, name=names[i], lemmas=lemmas[i], gloss=glosses.get(w, ""))
        for i, w in enumerate(wnids)
    )


@cache
def _wnid_index() -> dict[str, int]:
    return {s.wnid: s.class_index for s in all_synsets()}


def index_of(wnid: str) -> int:
    """The sorted-wnid class index of ``wnid``; DataError on an unknown wnid."""
    try:
        return _wnid_index()[wnid]
    except KeyError:
        raise DataError(f"unknown wnid {wnid!r}: not one of the 1000 ILSVRC2012 classes") from None


def by_wnid(wnid: str) -> Synset:
    """The class with this wnid; DataError if it is not one of the 1000."""
    return all_synsets()[index_of(wnid)]


def by_index(class_index: int) -> Synset:
    """The class at this sorted-wnid index (0..999); DataError outside that range."""
    if not 0 <= class_index < N_CLASSES:
        raise DataError(f"class index {class_index} out of range 0..{N_CLASSES - 1}")
    return all_synsets()[class_index]


def search(query: str) -> list[Synset]:
    """Classes matching ``query``: a wnid or index, else words in names or lemmas, else glosses."""
    q = query.strip()
    if q.isdigit() and int(q) < N_CLASSES:
        return [by_index(int(q))]
    if q in _wnid_index():
        return [by_wnid(q)]
    low = q.lower()
    by_words = [
        s for s in all_synsets() if low in s.name.lower() or any(low in x.lower() for x in s.lemmas)
    ]
    return by_words or [s for s in all_synsets() if low in s.gloss.lower()]
