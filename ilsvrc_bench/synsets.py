"""The 1000 ILSVRC2012 classes: sorted-wnid index <-> wnid <-> names, lemmas and gloss.

The table is our own data file, ``synsets.tsv`` beside this module (one row per class, in
sorted-wnid order), validated when first read. It was generated once from timm's ImageNetInfo data
(wnids, lemmas, glosses) and torchvision's weights metadata (display names), and
``tests/data/test_synsets.py`` checks it still equals what both libraries ship. Reading it needs
neither library, so this module (and ``ilsvrc-bench synsets``) never imports torch.

The devkit's ``ILSVRC2012_ID`` (``devkit_id``) is not in the table: it comes from the devkit the
user prepares (``data/devkit.py``) and is never a class index.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from ilsvrc_bench.errors import DataError

N_CLASSES = 1000
FIRST_WNID = "n01440764"
TABLE = "synsets.tsv"
COLUMNS = ("class_index", "wnid", "name", "lemmas", "gloss")


@dataclass(frozen=True)
class Synset:
    """One class. ``class_index`` is in sorted-wnid order (0 = n01440764), never devkit order."""

    class_index: int
    wnid: str
    name: str
    lemmas: tuple[str, ...]
    gloss: str


def _row(fields: list[str], where: str, expected_index: int) -> Synset:
    if len(fields) != len(COLUMNS):
        raise DataError(f"{where}: {len(fields)} fields, expected {len(COLUMNS)}")
    index, wnid, name, lemmas, gloss = (f.strip() for f in fields)
    if index != str(expected_index):
        raise DataError(f"{where}: class_index {index!r}, expected {expected_index}")
    if len(wnid) != 9 or wnid[0] != "n" or not wnid[1:].isdigit():
        raise DataError(f"{where}: {wnid!r} is not a wnid")
    names = tuple(x.strip() for x in lemmas.split(","))
    if not name or not gloss or not all(names):
        raise DataError(f"{where}: empty name, lemma or gloss")
    return Synset(class_index=expected_index, wnid=wnid, name=name, lemmas=names, gloss=gloss)


def parse_table(text: str, source: str = TABLE) -> tuple[Synset, ...]:
    """The classes in ``text`` (the ``synsets.tsv`` format); DataError naming the line if wrong."""
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise DataError(f"{source}: header must be {' '.join(COLUMNS)} (tab-separated)")
    rows = [
        _row(line.split("\t"), f"{source} line {n}", n - 2)
        for n, line in enumerate(lines[1:], start=2)
    ]
    wnids = [s.wnid for s in rows]
    if len(rows) != N_CLASSES or wnids != sorted(set(wnids)) or wnids[0] != FIRST_WNID:
        raise DataError(f"{source}: expected {N_CLASSES} unique wnids in sorted order")
    if len({s.name for s in rows}) != N_CLASSES:
        raise DataError(f"{source}: display names must be unique")
    return tuple(rows)


@cache
def all_synsets() -> tuple[Synset, ...]:
    """The 1000 classes in sorted-wnid order, validated on load."""
    table = resources.files("ilsvrc_bench").joinpath(TABLE)
    try:
        text = table.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{table}: cannot read the class table ({exc.strerror})") from exc
    return parse_table(text, str(table))


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
