"""Metrics of a finished run, from its predictions: every manifest image counts, exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ilsvrc_bench import metrics
from ilsvrc_bench.engine.store import Rows

N_CLASSES = 1000


def _block(labels: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    acc = metrics.accuracy(labels, pred)
    per1 = metrics.per_class_accuracy(labels, metrics.correct_at_k(labels, pred, 1), N_CLASSES)
    per5 = metrics.per_class_accuracy(labels, metrics.correct_at_k(labels, pred, 5), N_CLASSES)
    present = ~np.isnan(per1)
    return {
        **acc.as_dict(),
        "top1_correct": acc.top1_correct,
        "top5_correct": acc.top5_correct,
        "mean_per_class_acc": float(per1[present].mean()) if present.any() else None,
        "mean_per_class_top5_acc": float(per5[present].mean()) if present.any() else None,
    }


def compute_metrics(rows: Rows, records: Sequence[Any]) -> dict[str, Any]:
    """The run record's ``metrics``; ``rows`` and ``records`` are both in manifest order.

    Unreadable images stay in the denominator as misses (their predictions are -1).
    """
    labels = np.array([r.class_index for r in records], dtype=np.int64)
    blacklisted = np.array([r.blacklisted for r in records], dtype=bool)
    result = _block(labels, rows.pred)
    result["n_unreadable"] = int((~rows.readable).sum())
    if blacklisted.any():
        keep = ~blacklisted
        excluded = _block(labels[keep], rows.pred[keep])
        excluded["n_blacklisted"] = int(blacklisted.sum())
        result["blacklist_excluded"] = excluded
    else:
        result["blacklist_excluded"] = None
    return result


def unreadable_list(rows: Rows, records: Sequence[Any]) -> list[dict[str, Any]]:
    """``[{"index", "path", "error"}]`` for every image that could not be read."""
    paths = {r.index: r.path for r in records}
    return [
        {"index": int(i), "path": paths.get(int(i)), "error": e}
        for i, ok, e in zip(rows.index.tolist(), rows.readable.tolist(), rows.errors, strict=True)
        if not ok
    ]
