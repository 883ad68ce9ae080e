"""Re-scoring stored predictions without rerunning a model.

- blacklist exclusion: drop the devkit's 1,762 blacklisted val images;
- ReaL labels (Beyer et al. 2020, ``real.json``): a list of acceptable classes per val image,
  in val-number order (entry 0 is ``ILSVRC2012_val_00000001``); a prediction is right if it is
  in the image's list, and images with an empty list are skipped;
- per class: accuracy of every class, worst and best with names;
- WordNet: how far the top-1 mistakes are from the truth in the devkit's hierarchy
  (a dog breed for another dog breed is a near miss; a dog for a car is not).

Class indices are in sorted-wnid order throughout.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ilsvrc_bench.errors import DataError
from ilsvrc_bench.metrics import Accuracy, correct_at_k, per_class_accuracy

N_CLASSES = 1000
VAL_NUMBER = re.compile(r"ILSVRC2012_val_(\d{8})")
REAL_IN_TIMM = ("data", "_info", "imagenet_real_labels.json")


def predictions_matrix(predictions: pd.DataFrame) -> np.ndarray:
    """The ``pred`` column as an ``[N, 5]`` int array (``-1`` rows for unreadable images)."""
    if len(predictions) == 0:
        return np.zeros((0, 5), dtype=np.int64)
    return np.stack([np.asarray(p, dtype=np.int64) for p in predictions["pred"]])


def default_real_labels() -> Path | None:
    """timm's bundled copy of ``real.json``, found without importing timm; None if absent."""
    spec = importlib.util.find_spec("timm")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location).joinpath(*REAL_IN_TIMM)
        if candidate.is_file():
            return candidate
    return None


class RealLabels(list[list[int]]):
    """The ReaL lists of class indices, one per val image in val-number order, and their file."""

    def __init__(self, lists: Sequence[list[int]], path: Path) -> None:
        super().__init__(lists)
        self.path = path


def load_real_labels(path: Path) -> RealLabels:
    """``real.json``: a JSON list, one list of class indices per val image in val-number order."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ReaL labels ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(x, list) for x in data):
        raise DataError(f"{path}: ReaL labels must be a JSON list of lists of class indices")
    for i, labels in enumerate(data):
        if not all(isinstance(c, int) and 0 <= c < N_CLASSES for c in labels):
            raise DataError(f"{path}: entry {i} (val image {i + 1}) holds a bad class index")
    return RealLabels(data, Path(path))


def val_numbers(predictions: pd.DataFrame) -> np.ndarray:
    """The 1-based val image number of each row, from its official file name."""
    numbers = []
    for path in predictions["path"]:
        match = VAL_NUMBER.search(str(path))
        if match is None:
            raise DataError(
                f"{path}: not an official val file name (ILSVRC2012_val_NNNNNNNN); "
                "ReaL labels are keyed by val image number"
            )
        numbers.append(int(match.group(1)))
    return np.asarray(numbers, dtype=np.int64)


@dataclass(frozen=True)
class Rescored:
    """Accuracy under a scoring rule, with the images it left out."""

    scoring: str  # "standard", "blacklist excluded", "ReaL", "ReaL, blacklist excluded"
    accuracy: Accuracy
    n_skipped: int  # images left out (blacklisted, or an empty ReaL list)
    correct_top1: np.ndarray  # per counted image
    counted: np.ndarray  # bool mask over the prediction rows


def rescore(
    predictions: pd.DataFrame,
    *,
    exclude_blacklist: bool = False,
    real_labels: Sequence[Sequence[int]] | None = None,
) -> Rescored:
    """Top-1/top-5 of stored predictions under the chosen rule (standard labels by default)."""
    pred = predictions_matrix(predictions)
    keep = np.ones(len(predictions), dtype=bool)
    if exclude_blacklist:
        keep &= ~predictions["blacklisted"].to_numpy(dtype=bool)
    if real_labels is None:
        labels = predictions["label"].to_numpy(dtype=np.int64)
        ok1, ok5 = correct_at_k(labels, pred, 1), correct_at_k(labels, pred, 5)
    else:
        numbers = val_numbers(predictions)
        if len(numbers) and numbers.max() > len(real_labels):
            where = getattr(real_labels, "path", "the ReaL labels")
            raise DataError(
                f"{where}: val image {numbers.max()} has no entry ({len(real_labels):,} entries; "
                "a complete ReaL file has one for each of the 50,000 val images)"
            )
        sets = [set(real_labels[n - 1]) for n in numbers]
        keep &= np.array([bool(s) for s in sets], dtype=bool)
        ok1 = np.array([int(p[0]) in s for p, s in zip(pred, sets, strict=True)], dtype=bool)
        ok5 = np.array(
            [any(int(c) in s for c in p[:5]) for p, s in zip(pred, sets, strict=True)], dtype=bool
        )
    parts = (["ReaL"] if real_labels is not None else []) + (
        ["blacklist excluded"] if exclude_blacklist else []
    )
    return Rescored(
        scoring=", ".join(parts) or "standard",
        accuracy=Accuracy(
            n_images=int(keep.sum()),
            top1_correct=int(ok1[keep].sum()),
            top5_correct=int(ok5[keep].sum()),
        ),
        n_skipped=int((~keep).sum()),
        correct_top1=ok1[keep],
        counted=keep,
    )


def _synset(index: int) -> tuple[str, str]:
    try:
        from ilsvrc_bench import synsets

        s = synsets.by_index(index)
        return s.wnid, s.name
    except Exception:  # names are a nicety; the numbers never depend on them
        return "", f"class {index}"


PER_CLASS_COLUMNS = ("class_index", "wnid", "name", "n_images", "top1_acc", "top5_acc")


def per_class(predictions: pd.DataFrame, *, exclude_blacklist: bool = False) -> pd.DataFrame:
    """Accuracy of every class with images (:data:`PER_CLASS_COLUMNS`), worst top-1 first."""
    pred = predictions_matrix(predictions)
    labels = predictions["label"].to_numpy(dtype=np.int64)
    keep = labels >= 0
    if exclude_blacklist:
        keep &= ~predictions["blacklisted"].to_numpy(dtype=bool)
    labels, pred = labels[keep], pred[keep]
    top1 = per_class_accuracy(labels, correct_at_k(labels, pred, 1), N_CLASSES)
    top5 = per_class_accuracy(labels, correct_at_k(labels, pred, 5), N_CLASSES)
    counts = np.bincount(labels, minlength=N_CLASSES)
    present = np.flatnonzero(counts)
    names = [_synset(int(i)) for i in present]
    table = pd.DataFrame(
        {
            "class_index": present,
            "wnid": [w for w, _ in names],
            "name": [n for _, n in names],
            "n_images": counts[present],
            "top1_acc": top1[present],
            "top5_acc": top5[present],
        }
    )
    ordered: pd.DataFrame = table.sort_values(["top1_acc", "class_index"], kind="stable")
    reindexed: pd.DataFrame = ordered.reset_index(drop=True)
    return reindexed


def worst_and_best(table: pd.DataFrame, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` worst and ``n`` best classes of a :func:`per_class` table."""
    best = table.sort_values(["top1_acc", "class_index"], ascending=[False, True], kind="stable")
    return table.head(n).reset_index(drop=True), best.head(n).reset_index(drop=True)


MISTAKE_KINDS = ("same parent", "near (within 4 steps)", "far", "no prediction")


def _ancestors(wnid: str, parent_of: Mapping[str, str]) -> list[str]:
    chain = [wnid]
    while chain[-1] in parent_of and len(chain) < 64:
        chain.append(parent_of[chain[-1]])
    return chain


def tree_distance(a: str, b: str, parent_of: Mapping[str, str]) -> int | None:
    """Steps from ``a`` up to the lowest common ancestor and down to ``b``; None if unrelated."""
    up_a = {w: i for i, w in enumerate(_ancestors(a, parent_of))}
    for j, w in enumerate(_ancestors(b, parent_of)):
        if w in up_a:
            return up_a[w] + j
    return None


def mistake_kind(label_wnid: str, pred_wnid: str, parent_of: Mapping[str, str]) -> str:
    if parent_of.get(label_wnid) is not None and parent_of.get(label_wnid) == parent_of.get(
        pred_wnid
    ):
        return MISTAKE_KINDS[0]
    distance = tree_distance(label_wnid, pred_wnid, parent_of)
    return MISTAKE_KINDS[1] if distance is not None and distance <= 4 else MISTAKE_KINDS[2]


@dataclass(frozen=True)
class MistakeView:
    """Top-1 mistakes by distance in the WordNet hierarchy, and the most common confusions."""

    kinds: pd.DataFrame  # kind, n_mistakes, share (percent of mistakes)
    confusions: pd.DataFrame  # label, predicted, kind, n


def wordnet_view(
    predictions: pd.DataFrame,
    parent_of: Mapping[str, str],
    *,
    wnids: Sequence[str],
    top: int = 10,
) -> MistakeView:
    """Classify each top-1 mistake; ``wnids[i]`` is class ``i``'s wnid (sorted-wnid order)."""
    pred = predictions_matrix(predictions)
    labels = predictions["label"].to_numpy(dtype=np.int64)
    wrong = (labels >= 0) & ~correct_at_k(labels, pred, 1)
    kinds: Counter[str] = Counter()
    pairs: Counter[tuple[int, int, str]] = Counter()
    for lab, p in zip(labels[wrong], pred[wrong, 0], strict=True):
        if p < 0:
            kinds[MISTAKE_KINDS[3]] += 1
            continue
        kind = mistake_kind(wnids[lab], wnids[p], parent_of)
        kinds[kind] += 1
        pairs[(int(lab), int(p), kind)] += 1
    total = sum(kinds.values())
    kinds_table = pd.DataFrame(
        {
            "kind": list(MISTAKE_KINDS),
            "n_mistakes": [kinds[k] for k in MISTAKE_KINDS],
            "share": [100 * kinds[k] / total if total else float("nan") for k in MISTAKE_KINDS],
        }
    )
    confusions = pd.DataFrame(
        [
            {
                "label": f"{lab} {_synset(lab)[1]}",
                "predicted": f"{p} {_synset(p)[1]}",
                "kind": kind,
                "n": n,
            }
            for (lab, p, kind), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        ],
        columns=["label", "predicted", "kind", "n"],
    )
    return MistakeView(kinds_table, confusions)
