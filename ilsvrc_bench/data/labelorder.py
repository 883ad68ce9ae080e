"""The label-order guard: make a permuted class order impossible to miss.

Three mistakes give near-zero accuracy on ImageNet while every class still holds 50 images, so
counts alone cannot catch them:

* the devkit's ``ILSVRC2012_ID - 1`` used as the class index instead of the sorted-wnid index;
* ImageNetV2 folders ``0..999`` sorted as strings (``0, 1, 10, 100, ...``) to assign indices;
* any other fixed permutation of the 1000 classes.

The guard works at two points. When preparing, a label file given as integers is compared with
the devkit (when one is known) and refused if it follows the devkit order, and folder-named
classes are read as integers, never string-sorted. After an evaluation, ``check_predictions``
re-scores the top-1 predictions under each known wrong order; if one of them explains the
predictions far better than the labels do, the labels are permuted and it says which way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.data.devkit import Devkit
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import N_CLASSES, index_of

if TYPE_CHECKING:
    from ilsvrc_bench.data.dataset import ImageRecord
    from ilsvrc_bench.data.scan import Scan


def devkit_order_map(devkit: Devkit) -> dict[int, int]:
    """Wrong index (devkit_id - 1) -> the right sorted-wnid index, for every class."""
    return {sid - 1: index_of(wnid) for sid, wnid in devkit.wnid_of_devkit_id.items()}


def string_sorted_map() -> dict[int, int]:
    """Wrong index (position of the folder name in a string sort) -> the folder's integer."""
    names = sorted(str(i) for i in range(N_CLASSES))
    return {pos: int(name) for pos, name in enumerate(names)}


SHIFT_HINT = (
    "1-based labels, as in the 1001-class convention (0 = background) or a 1..1000 numbering; "
    "prepare with --label-offset -1"
)


def _hypotheses(
    labels: Mapping[str, int], devkit: Devkit | None
) -> tuple[int, int, dict[str, int]]:
    """How many labels fit the sorted-wnid index, and how many fit each known mistake, among the
    images whose true class is known (from the devkit ground truth or a wnid in the name)."""
    from ilsvrc_bench.data.scan import val_number, wnid_in_name

    known, right, wrong = 0, 0, Counter[str]()
    for name, label in labels.items():
        wnid, devkit_id = wnid_in_name(name), None
        number = val_number(name)
        if devkit is not None and number is not None and number <= len(devkit.ground_truth):
            devkit_id = devkit.ground_truth[number - 1]
            wnid = devkit.wnid_of_devkit_id[devkit_id]
        if wnid is None:
            continue
        index = index_of(wnid)
        known += 1
        right += label == index
        wrong["shift+1"] += label == index + 1
        wrong["shift-1"] += label == index - 1
        if devkit_id is not None:
            wrong["devkit-1"] += label == devkit_id - 1
            wrong["devkit"] += label == devkit_id
    return known, right, dict(wrong)


def integer_label_problem(
    labels: Mapping[str, int], devkit: Devkit | None, *, offset: int = 0
) -> str | None:
    """Why integer labels (image name -> label, ``offset`` applied) are not sorted-wnid class
    indices, or None. Catches 1-based files on any subset when the true classes are known."""
    if not labels:
        return None
    low, high = min(labels.values()), max(labels.values())
    known, right, wrong = _hypotheses(labels, devkit)
    best = max(wrong, key=lambda k: wrong[k], default=None)
    if best is not None and wrong[best] > right and 2 * wrong[best] >= known:
        return _WRONG_ORDER[best].format(n=wrong[best], of=known)
    if offset and low < 0:
        return (
            f"a label 0 shifted by --label-offset {offset} is {low}: in the 1001-class "
            "convention 0 is the background class, which ILSVRC2012 val does not use"
        )
    if high >= N_CLASSES and low >= 1:
        return (
            f"class indices run {low}..{high}, never 0: {SHIFT_HINT} (if they are devkit ids, "
            "give the devkit tar.gz and its ground truth instead)"
        )
    if high >= N_CLASSES or low < 0:
        return f"class indices run {low}..{high}; expected 0..999 (sorted-wnid order)"
    return None


_WRONG_ORDER = {
    "shift+1": "{n} of {of} labels are the sorted-wnid index + 1: " + SHIFT_HINT,
    "shift-1": "{n} of {of} labels are the sorted-wnid index - 1; prepare with --label-offset 1",
    "devkit-1": (
        "these labels follow the devkit order (ILSVRC2012_ID - 1), not the sorted-wnid order "
        "({n} of {of}); a model would score near zero. Use the devkit ground truth instead"
    ),
    "devkit": (
        "these labels are devkit ids (ILSVRC2012_ID), not sorted-wnid indices ({n} of {of}); "
        "use the devkit ground truth instead"
    ),
}


def check_scan(scan: Scan, records: Sequence[ImageRecord]) -> dict[str, Any]:
    """Summarise the class counts of a prepared dataset; records for ``dataset.json``."""
    counts = Counter(r.class_index for r in records)
    summary: dict[str, Any] = {
        "n_classes": len(counts),
        "min_per_class": min(counts.values(), default=0),
        "max_per_class": max(counts.values(), default=0),
        "class_order": "sorted-wnid",
    }
    if scan.devkit is not None:
        mismatched = [
            r.path
            for r in records
            if r.devkit_id is not None and scan.devkit.wnid_of_devkit_id.get(r.devkit_id) != r.wnid
        ]
        if mismatched:
            raise DataError(
                f"{scan.storage.location}: {len(mismatched)} labels disagree with the devkit, "
                f"e.g. {mismatched[0]}; the class order is mixed up"
            )
        _check_ground_truth(scan, records, scan.devkit)
        summary["checked_against_devkit"] = True
    return summary


def _check_ground_truth(scan: Scan, records: Sequence[ImageRecord], devkit: Devkit) -> None:
    """Val images named by number must carry the devkit's ground-truth class."""
    from ilsvrc_bench.data.scan import val_number

    truth = devkit.ground_truth
    wrong = [
        r.path
        for r in records
        if (number := val_number(r.path)) is not None
        and number <= len(truth)
        and devkit.wnid_of_devkit_id[truth[number - 1]] != r.wnid
    ]
    if wrong:
        raise DataError(
            f"{scan.storage.location}: {len(wrong)} of {len(records)} labels disagree with the "
            f"devkit ground truth (first: {wrong[0]}); the labels look permuted"
        )


@dataclass(frozen=True)
class OrderVerdict:
    """How well each class order explains the predictions; ``suspect`` names a wrong order."""

    accuracy: dict[str, float]
    suspect: str | None

    @property
    def message(self) -> str | None:
        if self.suspect is None:
            return None
        acc = self.accuracy
        return (
            f"labels look permuted: top-1 is {acc['sorted-wnid']:.1%} with the dataset's labels "
            f"but {acc[self.suspect]:.1%} if the labels were in {self.suspect} order; "
            "check how the dataset was prepared (see docs/data.md, 'label-order guard')"
        )


def check_predictions(
    labels: Sequence[int], top1: Sequence[int], *, devkit: Devkit | None = None
) -> OrderVerdict:
    """Re-score top-1 predictions (sorted-wnid order) under each known wrong label order."""
    if len(labels) != len(top1):
        raise DataError(f"{len(labels)} labels but {len(top1)} predictions")
    n = max(len(labels), 1)
    orders: dict[str, Mapping[int, int]] = {
        "string-sorted folder": string_sorted_map(),
        # a 1-based label file (the 1001-class convention) read as 0-based, and the reverse
        "shifted by one (1-based)": {y: y - 1 for y in range(1, N_CLASSES)},
        "shifted by minus one": {y: y + 1 for y in range(N_CLASSES - 1)},
    }
    if devkit is not None:
        orders["devkit"] = devkit_order_map(devkit)
    acc = {"sorted-wnid": sum(int(p == y) for p, y in zip(top1, labels, strict=True)) / n}
    for order, mapping in orders.items():
        hits = sum(int(p == mapping.get(y, -1)) for p, y in zip(top1, labels, strict=True))
        acc[order] = hits / n
    best = max(orders, key=lambda o: acc[o], default=None)
    # A wrong order must beat the labels clearly, not by a tie on a tiny or hopeless run.
    suspect = None
    if best is not None and acc[best] >= max(0.2, 3 * acc["sorted-wnid"]) and len(labels) >= 20:
        suspect = best
    return OrderVerdict(acc, suspect)
