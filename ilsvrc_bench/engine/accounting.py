"""Metrics of a finished run, from its predictions: every manifest image counts, exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ilsvrc_bench import metrics, runs
from ilsvrc_bench.engine.store import Rows

N_CLASSES = 1000


def _block(labels: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    acc = metrics.accuracy(labels, pred)
    per1 = metrics.per_class_accuracy(labels, metrics.correct_at_k(labels, pred, 1), N_CLASSES)
    per5 = metrics.per_class_accuracy(labels, metrics.correct_at_k(labels, pred, 5), N_CLASSES)
    present = ~np.isnan(per1)
    return {
        "n_images": acc.n_images,
        "top1_correct": acc.top1_correct,
        "top5_correct": acc.top5_correct,
        "mean_per_class_acc": float(per1[present].mean()) if present.any() else None,
        "mean_per_class_top5_acc": float(per5[present].mean()) if present.any() else None,
    }


def compute_metrics(rows: Rows, records: Sequence[Any]) -> runs.Metrics:
    """The run record's ``metrics``; ``rows`` and ``records`` are both in manifest order.

    Unreadable images stay in the denominator as misses (their predictions are -1).
    """
    labels = np.array([r.class_index for r in records], dtype=np.int64)
    blacklisted = np.array([r.blacklisted for r in records], dtype=bool)
    excluded = None
    if blacklisted.any():
        keep = ~blacklisted
        excluded = runs.BlacklistExcluded(
            **_block(labels[keep], rows.pred[keep]), n_blacklisted=int(blacklisted.sum())
        )
    return runs.Metrics(
        **_block(labels, rows.pred),
        n_unreadable=int((~rows.readable).sum()),
        blacklist_excluded=excluded,
    )


def label_order_warning(rows: Rows, records: Sequence[Any], dataset: Any) -> str | None:
    """A loud message when the predictions fit a known wrong class order better than the labels.

    A model that is right under the devkit order (or string-sorted ImageNetV2 folder names) but
    near chance under the dataset's labels points at a mislabelled dataset, not a bad model.
    """
    from ilsvrc_bench.data import devkit as devkits
    from ilsvrc_bench.data import labelorder

    path = getattr(dataset, "path", None)
    devkit = None
    if isinstance(path, Path):
        devkit = devkits.load_devkit(path) or devkits.load_devkit(path.parent.parent)
    labels = [int(r.class_index) for r in records]
    verdict = labelorder.check_predictions(labels, rows.pred[:, 0].tolist(), devkit=devkit)
    return verdict.message


def unreadable_list(rows: Rows, records: Sequence[Any]) -> tuple[runs.UnreadableImage, ...]:
    """Every image that could not be read: its manifest row, path and error."""
    paths = {r.index: r.path for r in records}
    return tuple(
        runs.UnreadableImage(index=int(i), path=paths.get(int(i)), error=str(e))
        for i, ok, e in zip(rows.index.tolist(), rows.readable.tolist(), rows.errors, strict=True)
        if not ok
    )
