"""A sweep of the real int8 MobileNetV2 on the 200 real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ilsvrc_bench import runs
from ilsvrc_bench.engine import EvalOptions
from ilsvrc_bench.engine.sweep import holm, sweep
from ilsvrc_bench.metrics import mcnemar_exact
from tests.ensemble.test_real_ensemble import real_dataset

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _top1_ok(run_dir: Path) -> np.ndarray:
    table = runs.read_predictions(run_dir)
    return np.stack(table["pred"].to_list())[:, 0] == table["label"].to_numpy()


def test_real_sweep(real_images: Path, real_onnx: Path, tmp_path: Path) -> None:
    root = real_dataset(real_images, tmp_path)
    points = sweep(
        f"onnx:{real_onnx}",
        {"resize_size": [256, 288], "interpolation": ["bilinear", "bicubic"]},
        data="real",
        root=root,
        runs_dir=tmp_path / "runs",
        options=EvalOptions(device="cpu", batch_size=25, resume=False, limit=100),
    )
    assert len(points) == 4  # the recipe (256, bilinear) is on the grid: not added again
    recipe = points[0]
    assert recipe.is_recipe and recipe.overrides == {
        "resize_size": 256,
        "interpolation": "bilinear",
    }
    assert recipe.result.record.preprocessing["resize_size"] == 256
    ok_recipe = _top1_ok(recipe.result.run_dir)
    p_values = {}
    for i, point in enumerate(points[1:]):
        ok = _top1_ok(point.result.run_dir)
        p_values[i] = mcnemar_exact(int((ok & ~ok_recipe).sum()), int((~ok & ok_recipe).sum()))
        assert point.mcnemar_p == pytest.approx(p_values[i])
    real = holm(p_values, 0.05)
    assert [p.holm_real for p in points[1:]] == [real[i] for i in range(3)]
    assert recipe.result.record.final_metrics.top1_acc > 70
