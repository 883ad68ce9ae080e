"""The regression verdict: is the candidate worse than the baseline by more than the tolerance?

Rule (documented in docs/ci.md): a regression is an observed drop larger than ``max_drop``
points *and* statistically real at level ``alpha``. Which test says "real" depends on what both
sides have:

- ``mcnemar``: both are runs with per-image predictions on the same images; McNemar's exact
  test on the images where exactly one of the two is right (the flipped images, all listed).
- ``interval``: only aggregate numbers; the ``1 - alpha`` interval of the difference of two
  independent proportions built from the two Wilson intervals (Newcombe's hybrid score method)
  lies below 0.
- ``reference``: the baseline is a published figure (50,000 val images, taken as exact); the
  reference lies above the candidate's ``1 - alpha`` Wilson interval.

Intervals are computed from hit counts at level ``1 - alpha``.

Comparisons that mean nothing are refused: different data raises :class:`DataError` (exit 3),
a different protocol or preprocessing raises :class:`ModelError` (exit 4); each says which and
names the flag that compares them on purpose (a centre-crop run against a 10-crop run of the
same model asks whether 10-crop is worth it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ilsvrc_bench.errors import DataError, ModelError, UsageError
from ilsvrc_bench.metrics import correct_at_k, mcnemar_exact
from ilsvrc_bench.reports.sides import Side
from ilsvrc_bench.reports.verdict import Verdict
from ilsvrc_bench.runs import Metric

CENTER_PROTOCOLS = frozenset({"center"})  # runs.RunRecord.protocol of a single centre crop


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "?"


def ensure_comparable(
    baseline: Side,
    candidate: Side,
    *,
    allow_preprocessing: bool = False,
    allow_protocol: bool = False,
) -> list[str]:
    """Raise when the two sides cannot be compared; return notes on what was not checkable.

    ``allow_protocol`` compares two protocols on purpose (is 10-crop worth it?): the difference
    becomes a note instead of an error."""
    notes: list[str] = []
    if (
        baseline.run_dir is not None
        and candidate.run_dir is not None
        and baseline.run_dir.resolve() == candidate.run_dir.resolve()
    ):
        raise UsageError(
            f"baseline and candidate are the same run ({candidate.run_dir.name}); "
            "nothing to compare"
        )
    if baseline.kind == "reference":
        if candidate.weights_file is not None:
            notes.append(
                f"the candidate loaded {candidate.weights}; the reference is published for "
                f"{baseline.weights}"
            )
        if candidate.split not in (None, "val"):
            raise DataError(
                f"different data: the published reference is ILSVRC2012 val, "
                f"the candidate was measured on the {candidate.split} split of {candidate.data}"
            )
        if candidate.protocol is not None and candidate.protocol not in CENTER_PROTOCOLS:
            _protocol_differs(
                f"different protocol: the published reference is single centre crop, "
                f"the candidate used {candidate.protocol}",
                allow_protocol,
                notes,
            )
    else:
        _ensure_same_data(baseline, candidate, notes)
        if baseline.protocol and candidate.protocol and baseline.protocol != candidate.protocol:
            _protocol_differs(
                f"different protocol: baseline {baseline.protocol}, candidate {candidate.protocol}",
                allow_protocol,
                notes,
            )
    differing = _preprocessing_diff(baseline.preprocessing, candidate.preprocessing)
    if differing:
        message = f"different preprocessing: {differing}"
        if not allow_preprocessing:
            raise ModelError(message + " (pass --allow-preprocessing-change if intended)")
        notes.append(message)
    return notes


def _protocol_differs(message: str, allowed: bool, notes: list[str]) -> None:
    if not allowed:
        raise ModelError(message + " (pass --allow-protocol-change to compare them on purpose)")
    notes.append(message + "; compared on purpose (--allow-protocol-change)")


def _ensure_same_data(baseline: Side, candidate: Side, notes: list[str]) -> None:
    b, c = baseline, candidate
    if b.manifest_sha256 and c.manifest_sha256:
        if b.manifest_sha256 != c.manifest_sha256:
            raise DataError(
                f"different data: baseline on {b.data} (manifest {_short(b.manifest_sha256)}), "
                f"candidate on {c.data} (manifest {_short(c.manifest_sha256)})"
            )
    elif b.data and c.data and b.data != c.data:
        raise DataError(f"different data: baseline on {b.data}, candidate on {c.data}")
    else:
        notes.append("data identity not recorded on both sides; compared image counts only")
    if b.subset_sha256 and c.subset_sha256 and b.subset_sha256 != c.subset_sha256:
        raise DataError(
            f"different images: baseline subset {_short(b.subset_sha256)}, "
            f"candidate subset {_short(c.subset_sha256)} of {b.data}"
        )
    if b.n_images and c.n_images and b.n_images != c.n_images:
        raise DataError(
            f"different images: baseline scored {b.n_images}, candidate {c.n_images} of {b.data}"
        )


# Preprocessing keys a run records only when they differ from the exact CPU path, with the value
# a run without them had: a GPU-decoded run (``decoder: nvjpeg``) differs from one without.
_IMPLIED = {"decoder": "pillow"}


def _preprocessing_diff(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> str:
    if not a or not b:
        return ""
    a, b = {**_IMPLIED, **a}, {**_IMPLIED, **b}
    keys = sorted(k for k in set(a) & set(b) if _norm(a[k]) != _norm(b[k]))
    return ", ".join(f"{k} {a[k]} vs {b[k]}" for k in keys)


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, float):
        return round(value, 6)
    return value


def _pred_matrix(df: pd.DataFrame) -> np.ndarray:
    rows = [np.asarray(p, dtype=np.int64).reshape(-1) for p in df["pred"]]
    width = max((len(r) for r in rows), default=5)
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _key(df: pd.DataFrame) -> str:
    return "path" if "path" in df.columns else "index"


@dataclass(frozen=True)
class Paired:
    """Per-image correctness of both sides on the same images."""

    baseline_correct: np.ndarray
    candidate_correct: np.ndarray
    flips: pd.DataFrame

    @property
    def lost(self) -> int:
        return int((self.baseline_correct & ~self.candidate_correct).sum())

    @property
    def gained(self) -> int:
        return int((~self.baseline_correct & self.candidate_correct).sum())

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.lost, self.gained)


def pair(baseline: pd.DataFrame, candidate: pd.DataFrame, metric: Metric) -> Paired:
    """Line up two prediction tables image by image; refuse different image sets or labels."""
    key = _key(baseline)
    if key not in candidate.columns:
        raise DataError(f"predictions cannot be paired: the candidate has no {key} column")
    if baseline[key].duplicated().any() or candidate[key].duplicated().any():
        raise DataError(f"predictions cannot be paired: duplicate {key} values")
    b = baseline.set_index(key)
    c = candidate.set_index(key)
    if set(b.index) != set(c.index):
        common = len(set(b.index) & set(c.index))
        raise DataError(
            f"different images: baseline has {len(b)}, candidate {len(c)}, {common} in common"
        )
    c = c.loc[b.index]
    labels_b = b["label"].to_numpy(dtype=np.int64)
    if not np.array_equal(labels_b, c["label"].to_numpy(dtype=np.int64)):
        raise DataError("different labels: the same images carry different labels in the two runs")
    k = 1 if metric == "top1" else 5
    pred_b, pred_c = _pred_matrix(b), _pred_matrix(c)
    ok_b = correct_at_k(labels_b, pred_b, k)
    ok_c = correct_at_k(labels_b, pred_c, k)
    flipped = ok_b != ok_c
    flips = pd.DataFrame(
        {
            "path": b.index[flipped].astype(str),
            "label": labels_b[flipped],
            "baseline_pred": pred_b[flipped, 0],
            "candidate_pred": pred_c[flipped, 0],
            "change": np.where(ok_b[flipped], "lost", "gained"),
        }
    )
    return Paired(ok_b, ok_c, flips.reset_index(drop=True))


def newcombe_interval(
    p1: float, ci1: tuple[float, float], p2: float, ci2: tuple[float, float]
) -> tuple[float, float]:
    """95% interval of ``p1 - p2`` (independent proportions) from their Wilson intervals."""
    (l1, u1), (l2, u2) = ci1, ci2
    d = p1 - p2
    return (d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2))


def compare(
    baseline: Side,
    candidate: Side,
    *,
    metric: Metric = "top1",
    max_drop: float = 0.0,
    alpha: float = 0.05,
    allow_preprocessing: bool = False,
    allow_protocol: bool = False,
) -> Verdict:
    """The verdict on ``candidate`` against ``baseline`` (see the module docstring for the rule)."""
    notes = ensure_comparable(
        baseline,
        candidate,
        allow_preprocessing=allow_preprocessing,
        allow_protocol=allow_protocol,
    )
    fields: dict[str, Any] = {
        "metric": metric,
        "max_drop": max_drop,
        "alpha": alpha,
        "baseline": baseline,
        "candidate": candidate,
    }
    if baseline.predictions is not None and candidate.predictions is not None:
        paired = pair(baseline.predictions, candidate.predictions, metric)
        n = len(paired.baseline_correct)
        acc_b = 100 * float(paired.baseline_correct.mean()) if n else math.nan
        acc_c = 100 * float(paired.candidate_correct.mean()) if n else math.nan
        significant = paired.p_value < alpha and acc_c < acc_b
        fields.update(
            method="mcnemar",
            n_images=n,
            p_value=paired.p_value,
            lost=paired.lost,
            gained=paired.gained,
            flips=paired.flips,
        )
    else:
        acc_b, acc_c = baseline.acc(metric), candidate.acc(metric)
        method, significant, diff_ci = _aggregate_evidence(
            baseline, candidate, metric, notes, level=1 - alpha
        )
        fields.update(method=method, n_images=candidate.n_images, diff_ci=diff_ci)
    if acc_b - acc_c > max_drop and not significant:
        notes.append("the drop exceeds the tolerance but is within noise; not failing")
    return Verdict(
        regression=significant and acc_b - acc_c > max_drop,
        baseline_acc=acc_b,
        candidate_acc=acc_c,
        significant=significant,
        notes=tuple(notes),
        **fields,
    )


def _aggregate_evidence(
    baseline: Side, candidate: Side, metric: Metric, notes: list[str], *, level: float
) -> tuple[str, bool, tuple[float, float] | None]:
    """Method, whether the candidate is significantly worse, and the difference's interval."""
    acc_b, acc_c = baseline.acc(metric), candidate.acc(metric)
    ci_b, ci_c = baseline.ci(metric, level), candidate.ci(metric, level)
    for side in (baseline, candidate):
        if side.kind != "reference" and side.n_images and not side.has_counts:
            notes.append(
                f"{side.label} holds no hit counts; derived them from its rounded percentages"
            )
    if baseline.kind == "reference":
        if candidate.n_images and candidate.n_images < 50000:
            notes.append(
                f"the reference is the full 50,000-image val; the candidate saw "
                f"{candidate.n_images} images"
            )
        if ci_c is None:
            notes.append("no image count on the candidate; judged on the point estimates alone")
            return "reference", acc_c < acc_b, None
        return "reference", acc_b > ci_c[1], None
    notes.append("no per-image predictions on both sides; used confidence intervals")
    if ci_b is None or ci_c is None:
        notes.append("an image count is missing; judged on the point estimates alone")
        return "interval", acc_c < acc_b, None
    diff_ci = newcombe_interval(acc_c, ci_c, acc_b, ci_b)
    return "interval", diff_ci[1] < 0, diff_ci
