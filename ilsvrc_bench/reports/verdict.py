"""A verdict of ``check``: the outcome of one comparison, and how it reads (one line, plain data).

:func:`ilsvrc_bench.reports.check.compare` makes it; ``cli/check.py``, ``junit.py`` and
``summary.py`` render it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ilsvrc_bench.reports.sides import Side
from ilsvrc_bench.runs import Metric

FLIPS_COLUMNS = ("path", "label", "baseline_pred", "candidate_pred", "change")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one comparison; accuracies and differences in percentage points."""

    regression: bool
    metric: Metric
    method: str  # "mcnemar", "interval" or "reference"
    baseline: Side
    candidate: Side
    baseline_acc: float
    candidate_acc: float
    n_images: int | None
    max_drop: float
    alpha: float
    significant: bool
    p_value: float | None = None
    diff_ci: tuple[float, float] | None = None
    lost: int | None = None  # images only the baseline got right
    gained: int | None = None  # images only the candidate got right
    flips: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(FLIPS_COLUMNS)), repr=False
    )
    notes: tuple[str, ...] = ()

    @property
    def delta(self) -> float:
        """Candidate minus baseline, in points (negative is worse)."""
        return self.candidate_acc - self.baseline_acc

    @property
    def status(self) -> str:
        return "REGRESSION" if self.regression else "PASS"

    def evidence(self) -> str:
        if self.method == "mcnemar":
            return (
                f"McNemar exact p={_p(self.p_value)}, {self.lost} lost / {self.gained} gained"
                f" of {self.n_images} images"
            )
        if self.method == "interval":
            if self.diff_ci is None:
                return "point estimates only (no image count)"
            lo, hi = self.diff_ci
            return f"{self.level_text} CI of the difference [{lo:+.2f}, {hi:+.2f}] pts"
        ci = self.candidate.ci(self.metric, self.level)
        if ci is None:
            return "no interval (no image count)"
        return (
            f"candidate {self.level_text} CI [{ci[0]:.2f}, {ci[1]:.2f}] vs published "
            f"{self.baseline_acc:.2f}"
        )

    @property
    def level(self) -> float:
        """The confidence level of every interval shown: ``1 - alpha``."""
        return 1 - self.alpha

    @property
    def level_text(self) -> str:
        return f"{100 * self.level:g}%"

    def line(self) -> str:
        """The one-line verdict for stdout."""
        tolerance = ">" if -self.delta > self.max_drop else "<="
        return (
            f"{self.status} {self.metric} acc: candidate {self.candidate_acc:.2f}% vs baseline "
            f"{self.baseline_acc:.2f}% ({self.delta:+.2f} pts; drop {tolerance} max "
            f"{self.max_drop:g}; {self.evidence()})"
        )

    def as_dict(self, *, flips: bool = False) -> dict[str, Any]:
        """The verdict as plain data; ``flips`` adds the flipped images (``--format json``)."""
        out = {
            "status": self.status.lower(),
            "regression": self.regression,
            "metric": self.metric,
            "method": self.method,
            "baseline": self.baseline.label,
            "candidate": self.candidate.label,
            "baseline_acc": self.baseline_acc,
            "candidate_acc": self.candidate_acc,
            "delta": self.delta,
            "n_images": self.n_images,
            "max_drop": self.max_drop,
            "alpha": self.alpha,
            "ci_level": self.level,
            "baseline_ci": _list(self.baseline.ci(self.metric, self.level)),
            "candidate_ci": _list(self.candidate.ci(self.metric, self.level)),
            "significant": self.significant,
            "p_value": self.p_value,
            "diff_ci": list(self.diff_ci) if self.diff_ci else None,
            "lost": self.lost,
            "gained": self.gained,
            "notes": list(self.notes),
            "baseline_side": _side_dict(self.baseline),
            "candidate_side": _side_dict(self.candidate),
        }
        if flips:
            out["flips"] = self.flips.to_dict("records")
        return out


def _side_dict(side: Side) -> dict[str, Any]:
    return {
        "label": side.label,
        "kind": side.kind,
        "model": side.model,
        "weights": side.weights,
        "data": side.data,
        "protocol": side.protocol,
        "n_images": side.n_images,
        "top1_correct": side.top1_correct,
        "top5_correct": side.top5_correct,
        "top1_acc": side.top1_acc,
        "top5_acc": side.top5_acc,
        "run_dir": None if side.run_dir is None else str(side.run_dir),
    }


def _list(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else list(ci)


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.2e}"
