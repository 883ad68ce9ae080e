"""The robustness view: each model's val accuracy beside its accuracy on each shift set.

A run belongs to a *shift set* when its data's source is ImageNetV2, ImageNet-R, ImageNet-A or
ImageNet-Sketch; every other run is on *val*. Runs are paired per model (reference, weights,
protocol, precision, preprocessing); the newest run of a model on a dataset counts.

Effective robustness (Taori et al., 2020): across the models present, shift-set top-1 is fitted
as a linear function of val top-1 after a logit transform of both, ``logit(y) = a logit(x) + b``;
a model's effective robustness is its shift-set top-1 minus the fitted line's value at its val
top-1 (percentage points). Above zero: more robust than its val accuracy predicts. The line
needs two models with different val accuracy; with two it passes through both (both 0), so it
means something from three models on.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ilsvrc_bench import runs, serialize
from ilsvrc_bench.errors import RunError

SHIFT_SOURCES = ("imagenetv2", "imagenet-r", "imagenet-a", "imagenet-sketch")
COLUMNS = (
    "model",
    "weights",
    "protocol",
    "val_data",
    "val_top1",
    "val_top1_ci",
    "shift_data",
    "shift_source",
    "classes_ranked",
    "shift_top1",
    "shift_top1_ci",
    "fitted_top1",
    "effective_robustness",
    "shift_run_id",
)
HEADERS = {
    "val_data": "val data",
    "val_top1": "val top-1 %",
    "val_top1_ci": "val 95% CI",
    "shift_data": "shift set",
    "shift_source": "kind",
    "classes_ranked": "classes ranked",
    "shift_top1": "shift top-1 %",
    "shift_top1_ci": "shift 95% CI",
    "fitted_top1": "line at val %",
    "effective_robustness": "eff. robustness (pp)",
    "shift_run_id": "run",
}


@dataclass(frozen=True)
class Measured:
    """One model's top-1 on one dataset (percent, 95% Wilson interval)."""

    run_id: str
    data: str
    source: str
    top1: float
    ci: tuple[float, float]
    classes_ranked: int


@dataclass(frozen=True)
class Fit:
    """``logit(shift) = slope * logit(val) + intercept`` over ``n_models`` models."""

    slope: float
    intercept: float
    n_models: int

    def at(self, val_top1: float) -> float:
        return 100 * _sigmoid(self.slope * _logit(val_top1 / 100) + self.intercept)


@dataclass(frozen=True)
class RobustnessView:
    val_data: str | None
    models: dict[tuple[str, ...], dict[str, Measured]]  # model key -> dataset name -> measured
    labels: dict[tuple[str, ...], str]
    shifts: list[str]  # shift dataset names, sorted
    fits: dict[str, Fit | None]

    def rows(self) -> list[dict[str, Any]]:
        """One row per (model, shift set), models in order of val top-1, best first."""
        out = []
        keyed = [(k, m) for k, m in self.models.items() if self.val_data in m]
        keyed.sort(key=lambda km: -km[1][str(self.val_data)].top1)
        for key, measured in keyed:
            val = measured[str(self.val_data)]
            for shift in self.shifts:
                if shift not in measured:
                    continue
                s = measured[shift]
                fit = self.fits.get(shift)
                fitted = fit.at(val.top1) if fit is not None else None
                out.append(
                    {
                        "model": self.labels[key],
                        "weights": key[1],
                        "protocol": key[2],
                        "val_data": val.data,
                        "val_top1": round(val.top1, 3),
                        "val_top1_ci": [round(v, 3) for v in val.ci],
                        "shift_data": s.data,
                        "shift_source": s.source,
                        "classes_ranked": s.classes_ranked,
                        "shift_top1": round(s.top1, 3),
                        "shift_top1_ci": [round(v, 3) for v in s.ci],
                        "fitted_top1": None if fitted is None else round(fitted, 3),
                        "effective_robustness": None
                        if fitted is None
                        else round(s.top1 - fitted, 3),
                        "shift_run_id": s.run_id,
                    }
                )
        return out

    def unpaired(self) -> list[str]:
        """Models with a shift-set run but no run on ``val_data``: left out of the view."""
        return sorted(
            self.labels[k]
            for k, m in self.models.items()
            if self.val_data is not None
            and self.val_data not in m
            and any(shift in m for shift in self.shifts)
        )

    def points(self, shift: str) -> list[tuple[str, Measured, Measured]]:
        """``(label, val, shift)`` of every model measured on both."""
        return [
            (self.labels[k], m[str(self.val_data)], m[shift])
            for k, m in self.models.items()
            if self.val_data in m and shift in m
        ]


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def fit_line(pairs: Sequence[tuple[float, float]]) -> Fit | None:
    """Least squares in logit space over ``(val_top1, shift_top1)`` percent pairs; None if the
    val accuracies do not differ (fewer than two distinct models)."""
    xs = [_logit(x / 100) for x, _ in pairs]
    ys = [_logit(y / 100) for _, y in pairs]
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return Fit(slope, my - slope * mx, len(pairs))


def _measured(run_dir: Path) -> tuple[tuple[str, ...], str, Measured]:
    rec = runs.read_record(run_dir)
    m = rec.final_metrics
    key = (
        rec.model.ref or rec.model.name,
        rec.weights.name,
        rec.protocol,
        rec.precision,
        str(rec.weights.sha256),
        _recipe(rec.preprocessing),
    )
    subset = rec.data.class_subset
    measured = Measured(
        run_id=rec.run_id,
        data=rec.data.name,
        source=str(rec.data.source),
        top1=m.top1_acc,
        ci=m.ci("top1"),
        classes_ranked=len(subset) if subset else 1000,
    )
    return key, rec.model.name, measured


def build(frame: pd.DataFrame) -> RobustnessView:
    """The view over the complete runs in ``frame`` (``runs.load_runs`` columns, oldest first)."""
    models: dict[tuple[str, ...], dict[str, Measured]] = {}
    labels: dict[tuple[str, ...], str] = {}
    for run_dir in frame["run_dir"]:
        key, name, measured = _measured(Path(run_dir))
        models.setdefault(key, {})[measured.data] = measured  # newest run wins
        labels[key] = name
    val_sets: dict[str, int] = {}
    shifts: set[str] = set()
    for by_data in models.values():
        for data, m in by_data.items():
            if m.source in SHIFT_SOURCES:
                shifts.add(data)
            else:
                val_sets[data] = val_sets.get(data, 0) + 1
    # The val dataset most models were measured on (ties: name order).
    val_data = min(val_sets, key=lambda d: (-val_sets[d], d)) if val_sets else None
    view = RobustnessView(val_data, models, _unique(labels), sorted(shifts), {})
    for shift in view.shifts:
        view.fits[shift] = fit_line([(v.top1, s.top1) for _, v, s in view.points(shift)])
    return view


def _recipe(prep: dict[str, Any]) -> str:
    """The preprocessing as a short label: a model at another recipe is another point."""
    text = f"{prep.get('resize_size')}/{prep.get('crop_size')} {prep.get('interpolation')}"
    extra = {
        k: v
        for k, v in sorted(prep.items())
        if k not in _RECIPE_SHOWN and v is not None and (k, v) != ("color_order", "RGB")
    }
    return text + (f" {json.dumps(extra, sort_keys=True)}" if extra else "")


_RECIPE_SHOWN = ("resize_size", "crop_size", "interpolation", "antialias", "mean", "std")


def _unique(labels: dict[tuple[str, ...], str]) -> dict[tuple[str, ...], str]:
    """Model names, with weights, protocol and recipe added where two keys share a name."""
    counts: dict[str, int] = {}
    for name in labels.values():
        counts[name] = counts.get(name, 0) + 1
    return {k: n if counts[n] == 1 else f"{n} ({k[1]}, {k[2]}, {k[5]})" for k, n in labels.items()}


def plot_png(view: RobustnessView, *, size_px: tuple[int, int] = (1200, 520)) -> bytes:
    """Shift-set top-1 against val top-1, one panel per shift set, with y = x and the fit."""
    from ilsvrc_bench.reports.plot import use_agg

    use_agg()  # before matplotlib is first imported
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    panels = view.shifts or ["(no shift-set runs)"]
    for i, shift in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        points = view.points(shift) if view.shifts else []
        xs = [v.top1 for _, v, _ in points] or [0.0, 100.0]
        lo, hi = max(0.0, min(xs) - 5), min(100.0, max(xs) + 5)
        ax.plot([0, 100], [0, 100], linestyle=":", color="#888888", label="y = x")
        fit = view.fits.get(shift)
        if fit is not None:
            grid = [lo + (hi - lo) * j / 50 for j in range(51)]
            ax.plot(grid, [fit.at(x) for x in grid], color="#1f3a93", label="fit (logit space)")
        for label, v, s in points:
            ax.errorbar(
                v.top1,
                s.top1,
                xerr=[[v.top1 - v.ci[0]], [v.ci[1] - v.top1]],
                yerr=[[s.top1 - s.ci[0]], [s.ci[1] - s.top1]],
                fmt="o",
                markersize=4,
                capsize=2,
            )
            ax.annotate(
                label, (v.top1, s.top1), textcoords="offset points", xytext=(4, 4), fontsize=7
            )
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, 100)
        ax.set_xlabel(f"{view.val_data or 'val'} top-1 %")
        ax.set_ylabel(f"{shift} top-1 %")
        ax.set_title(f"{shift} vs val", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def write_plot_file(path: Path, png: bytes) -> None:
    """Write ``png`` to ``path`` atomically; RunError naming the file if the disk refuses."""
    serialize.atomic_write_bytes(path, png, error=RunError)
