"""``sweep``: one run per grid point, the recipe marked, McNemar against it with Holm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ilsvrc_bench import runs
from ilsvrc_bench.cli import main
from ilsvrc_bench.engine import EvalOptions, evaluate
from ilsvrc_bench.engine.sweep import grid, holm, parse_axes
from ilsvrc_bench.errors import UsageError
from ilsvrc_bench.metrics import mcnemar_exact
from tests.engine.helpers import make_sample_root

TINY = "tests.engine.helpers:tiny"


def test_parse_axes_and_grid() -> None:
    axes = parse_axes(["resize=224,256", "interpolation=Bilinear,bicubic", "antialias=on,off"])
    assert axes == {
        "resize_size": [224, 256],
        "interpolation": ["bilinear", "bicubic"],
        "antialias": [True, False],
    }
    points = grid(axes)
    assert len(points) == 8 and points[0] == {
        "resize_size": 224,
        "interpolation": "bilinear",
        "antialias": True,
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["size=224"], "KEY one of"),
        (["resize"], "KEY one of"),
        (["resize="], "no values"),
        (["resize=224,abc"], "not a positive integer"),
        (["resize=0"], "not a positive integer"),
        (["resize=224,224"], "repeated"),
        (["resize=224", "resize=256"], "given twice"),
        (["antialias=maybe"], "on/off"),
        ([], "no --sweep axis"),
    ],
)
def test_bad_axes(items: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_axes(items)


def test_holm() -> None:
    # m = 3: thresholds 0.05/3, 0.05/2, 0.05/1 in p order; stops at the first failure.
    assert holm({0: 0.01, 1: 0.02, 2: 0.04}, 0.05) == {0: True, 1: True, 2: True}
    assert holm({0: 0.01, 1: 0.03, 2: 0.04}, 0.05) == {0: True, 1: False, 2: False}
    assert holm({0: 0.02, 1: 0.9}, 0.05) == {0: True, 1: False}
    assert holm({}, 0.05) == {}


def test_cli_sweep_on_generated_images(tmp_path: Path) -> None:
    root = make_sample_root(tmp_path)
    runs_dir = tmp_path / "runs"
    args = [
        "sweep",
        "-m",
        TINY,
        "--sweep",
        "resize=36,48",
        "--sweep",
        "crop=32",
        "--sweep",
        "interpolation=bilinear,nearest",
        "--root",
        str(root),
        "--data",
        "sample",
        "--runs-dir",
        str(runs_dir),
        "--device",
        "cpu",
        "--workers",
        "0",
        "--format",
        "json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    # Tiny's own recipe (256/224 bilinear) is not on the grid: it is added, first.
    assert rows[0]["point"] == "recipe" and rows[0]["verdict"] == "model's recipe"
    assert (rows[0]["resize_size"], rows[0]["crop_size"]) == (256, 224)
    assert [(r["resize_size"], r["interpolation"]) for r in rows[1:]] == [
        (36, "bilinear"),
        (36, "nearest"),
        (48, "bilinear"),
        (48, "nearest"),
    ]
    assert len({r["run_id"] for r in rows}) == 5
    # Each point equals a plain eval with the same settings.
    (plain,) = evaluate(
        [TINY],
        data="sample",
        root=root,
        runs_dir=tmp_path / "plain",
        preprocessing={"resize_size": 48, "crop_size": 32, "interpolation": "nearest"},
        options=EvalOptions(device="cpu", resume=False),
    )
    point = rows[4]
    same = runs.read_predictions(runs_dir / point["run_id"])
    assert np.array_equal(
        np.stack(same["pred"].to_list()),
        np.stack(runs.read_predictions(plain.run_dir)["pred"].to_list()),
    )
    # The McNemar p, computed independently from the two runs' predictions.
    recipe = runs.read_predictions(runs_dir / rows[0]["run_id"])
    ok_r = np.stack(recipe["pred"].to_list())[:, 0] == recipe["label"].to_numpy()
    ok_p = np.stack(same["pred"].to_list())[:, 0] == same["label"].to_numpy()
    b, c = int((ok_p & ~ok_r).sum()), int((~ok_p & ok_r).sum())
    assert point["mcnemar_p"] == pytest.approx(mcnemar_exact(b, c))
    assert point["delta_top1"] == pytest.approx(point["top1_acc"] - rows[0]["top1_acc"])


def test_cli_usage_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["sweep", "-m", TINY, "--sweep", "zoom=2"])
    assert result.exit_code == 2 and "KEY one of" in result.output
    assert "Traceback" not in result.output
