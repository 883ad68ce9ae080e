"""Pure functions over predictions: top-k with one tie rule, accuracies, intervals, paired tests.

Tie rule (everywhere in ilsvrc-bench): classes are ranked by score, highest first; classes
with *equal* scores are ranked by class index, lowest first (sorted-wnid order). This is what a
stable sort of the negated scores gives, so the same scores always give the same top-k.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

WILSON_Z95 = 1.959963984540054


def topk(scores: npt.ArrayLike, k: int = 5) -> np.ndarray:
    """Indices of the ``k`` best classes per row, best first, ties to the lower class index."""
    arr = np.asarray(scores)
    if arr.ndim != 2:
        raise ValueError(f"scores must be 2-D (images x classes), got shape {arr.shape}")
    order = np.argsort(-arr, axis=1, kind="stable")
    return order[:, :k]


def correct_at_k(labels: npt.ArrayLike, predictions: npt.ArrayLike, k: int) -> np.ndarray:
    """Boolean per image: the label is among the first ``k`` predicted classes.

    A label of -1 or a prediction row of -1s (an unreadable image) is never correct.
    """
    lab = np.asarray(labels).reshape(-1, 1)
    pred = np.asarray(predictions)[:, :k]
    hits: np.ndarray = ((pred == lab) & (lab >= 0)).any(axis=1)
    return hits


def z_for_level(level: float) -> float:
    """The two-sided normal quantile of a confidence ``level`` (1.96 for 0.95)."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be between 0 and 1, got {level}")
    if level == 0.95:
        return WILSON_Z95
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson_interval(successes: int, n: int, z: float = WILSON_Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion, in percent (95% by default; ``z`` from
    :func:`z_for_level` for another level). ``(nan, nan)`` when ``n == 0``."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact at the ends: rounding left 5.6e-15% as the lower bound of 0 hits in 3
    lo = 0.0 if successes <= 0 else 100 * max(0.0, centre - half)
    hi = 100.0 if successes >= n else 100 * min(1.0, centre + half)
    return (lo, hi)


def per_class_accuracy(
    labels: npt.ArrayLike, correct: npt.ArrayLike, n_classes: int = 1000
) -> np.ndarray:
    """Accuracy in percent per class index; NaN for classes with no image."""
    lab = np.asarray(labels, dtype=np.int64)
    ok = np.asarray(correct, dtype=np.float64)
    keep = lab >= 0
    counts = np.bincount(lab[keep], minlength=n_classes).astype(np.float64)
    hits = np.bincount(lab[keep], weights=ok[keep], minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, 100 * hits / counts, np.nan)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    ``b``: images only the first model got right; ``c``: only the second. Under the null each
    discordant image is a fair coin, so the p-value is twice the binomial tail at min(b, c).
    """
    n = b + c
    if n == 0:
        return 1.0
    tail: float = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Accuracy:
    """Top-1 and top-5 over a set of images, in percent, with 95% Wilson intervals."""

    n_images: int
    top1_correct: int
    top5_correct: int

    @property
    def top1_acc(self) -> float:
        return 100 * self.top1_correct / self.n_images if self.n_images else math.nan

    @property
    def top5_acc(self) -> float:
        return 100 * self.top5_correct / self.n_images if self.n_images else math.nan

    @property
    def top1_err(self) -> float:
        return 100 - self.top1_acc

    @property
    def top5_err(self) -> float:
        return 100 - self.top5_acc

    @property
    def top1_ci(self) -> tuple[float, float]:
        return wilson_interval(self.top1_correct, self.n_images)

    @property
    def top5_ci(self) -> tuple[float, float]:
        return wilson_interval(self.top5_correct, self.n_images)

    def as_dict(self) -> dict[str, object]:
        return {
            "n_images": self.n_images,
            "top1_acc": self.top1_acc,
            "top5_acc": self.top5_acc,
            "top1_err": self.top1_err,
            "top5_err": self.top5_err,
            "top1_ci": list(self.top1_ci),
            "top5_ci": list(self.top5_ci),
        }


def accuracy(
    labels: npt.ArrayLike, predictions: npt.ArrayLike, mask: npt.ArrayLike | None = None
) -> Accuracy:
    """Top-1/top-5 of ``predictions`` (images x >=5 class indices) against ``labels``.

    ``mask`` selects the images that count (e.g. the blacklist-excluded variant).
    """
    lab = np.asarray(labels)
    pred = np.asarray(predictions)
    keep = np.ones(len(lab), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    return Accuracy(
        n_images=int(keep.sum()),
        top1_correct=int(correct_at_k(lab, pred, 1)[keep].sum()),
        top5_correct=int(correct_at_k(lab, pred, 5)[keep].sum()),
    )
