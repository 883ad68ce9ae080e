"""Preprocessing sweeps: one run per point of a grid of resize/crop/interpolation/antialias.

Every point is an ordinary run (its own run record, resumable, placed in reports like any run).
The model's own recipe is always evaluated (added to the grid when the grid misses it), and each
other point's top-1 is compared with the recipe's on the same images by an exact McNemar test;
a difference is called real when it survives Holm's correction for the number of points at 5%.
The points share one decoding pass and one built model (``engine.plan``): each image is decoded
once for the whole grid.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ilsvrc_bench import metrics, runs
from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.result import EvalResult
from ilsvrc_bench.errors import UsageError
from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.progress import Progress

# --sweep KEY -> Preprocessing field
AXES = {
    "resize": "resize_size",
    "crop": "crop_size",
    "interpolation": "interpolation",
    "antialias": "antialias",
}
ALPHA = 0.05


def parse_axes(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["resize=224,256", "interpolation=bilinear,bicubic"]`` -> ``{field: values}``."""
    axes: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in AXES:
            raise UsageError(
                f"--sweep {item!r}: expected KEY=V1,V2,... with KEY one of {', '.join(AXES)}"
            )
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not values:
            raise UsageError(f"--sweep {item!r}: no values")
        field = AXES[key]
        if field in axes:
            raise UsageError(f"--sweep {key} given twice; list every value in one --sweep")
        axes[field] = [_value(field, v, item) for v in values]
        if len(set(axes[field])) != len(axes[field]):
            raise UsageError(f"--sweep {item!r}: a value is repeated")
    if not axes:
        raise UsageError("no --sweep axis given, e.g. --sweep resize=224,232,256")
    return axes


def _value(field: str, raw: str, item: str) -> Any:
    if field == "antialias":
        if raw.lower() in ("on", "true", "yes", "1"):
            return True
        if raw.lower() in ("off", "false", "no", "0"):
            return False
        raise UsageError(f"--sweep {item!r}: antialias values are on/off")
    if field in ("resize_size", "crop_size"):
        if not raw.isdigit() or int(raw) < 1:
            raise UsageError(f"--sweep {item!r}: {raw!r} is not a positive integer")
        return int(raw)
    return raw.lower()


def grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, in the order given."""
    keys = list(axes)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes.values())]


@dataclass(frozen=True)
class SweepPoint:
    overrides: dict[str, Any]  # the grid values of this point (empty for an added recipe point)
    result: EvalResult
    is_recipe: bool
    mcnemar_p: float | None  # None for the recipe itself
    holm_real: bool | None  # the difference survives Holm at 5%; None for the recipe


def sweep(
    model: str,
    axes: Mapping[str, Sequence[Any]],
    *,
    data: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    weights: WeightsChoice | str | None = None,
    preprocessing: PreprocessingOverrides | None = None,
    options: EvalOptions | None = None,
    progress: Progress | None = None,
) -> list[SweepPoint]:
    """Evaluate ``model`` at every grid point (and at its own recipe); recipe first."""
    from ilsvrc_bench import paths
    from ilsvrc_bench.data import open_dataset
    from ilsvrc_bench.engine import device as devices
    from ilsvrc_bench.engine import rundir
    from ilsvrc_bench.engine.session import evaluate_specs
    from ilsvrc_bench.models import load, resolve

    options = options or EvalOptions()
    out_dir = paths.runs_dir(runs_dir, root=root)
    rundir.ensure_writable(out_dir)
    device = devices.select_device(options.device)
    dataset = open_dataset(data, root=root)
    fixed = preprocessing or PreprocessingOverrides()
    base = resolve(model, weights=weights, preprocessing=fixed)
    recipe = base.preprocessing
    points = grid(axes)
    specs = [
        resolve(
            model,
            weights=weights,
            preprocessing=PreprocessingOverrides.from_mapping({**fixed.given, **p}),
        )
        for p in points
    ]
    recipe_at = next((i for i, s in enumerate(specs) if s.preprocessing == recipe), None)
    if recipe_at is None:
        points.insert(0, {})
        specs.insert(0, base)
        recipe_at = 0
    if len({s.preprocessing for s in specs}) != len(specs):  # pragma: no cover - parse_axes
        raise UsageError("two grid points give the same preprocessing")
    results = evaluate_specs(
        [(model, s) for s in specs],
        dataset,
        runs_dir=out_dir,
        options=replace(options, command=options.command or ("ilsvrc-bench", "sweep", model)),
        load=load,
        progress=progress,
        device=device,
    )
    return _compare(points, results, recipe_at)


def _top1_correct(result: EvalResult) -> np.ndarray:
    table = runs.read_predictions(result.run_dir)
    pred = np.stack(table["pred"].to_list()) if len(table) else np.zeros((0, 5), np.int64)
    return metrics.correct_at_k(table["label"].to_numpy(), pred, 1)


def _compare(
    points: list[dict[str, Any]], results: Sequence[EvalResult], recipe_at: int
) -> list[SweepPoint]:
    recipe_ok = _top1_correct(results[recipe_at])
    p_values: dict[int, float] = {}
    for i, result in enumerate(results):
        if i != recipe_at:
            ok = _top1_correct(result)
            b, c = int((ok & ~recipe_ok).sum()), int((~ok & recipe_ok).sum())
            p_values[i] = metrics.mcnemar_exact(b, c)
    real = holm(p_values, ALPHA)
    order = [recipe_at, *(i for i in range(len(results)) if i != recipe_at)]
    return [
        SweepPoint(points[i], results[i], i == recipe_at, p_values.get(i), real.get(i))
        for i in order
    ]


def holm(p_values: Mapping[int, float], alpha: float) -> dict[int, bool]:
    """Holm-Bonferroni: which hypotheses are rejected at family-wise level ``alpha``."""
    ranked = sorted(p_values, key=p_values.__getitem__)
    rejected: dict[int, bool] = dict.fromkeys(p_values, False)
    m = len(ranked)
    for rank, key in enumerate(ranked):
        if p_values[key] > alpha / (m - rank):
            break
        rejected[key] = True
    return rejected
