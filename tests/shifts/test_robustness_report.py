"""``report --robustness``: val beside each shift set, the logit-space line, and the plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main
from ilsvrc_bench.data import prepare
from ilsvrc_bench.data.shifts import subset_wnids
from ilsvrc_bench.engine import EvalOptions, evaluate
from tests.shifts.layouts import jpeg

PREP = {"resize_size": 40, "crop_size": 32}
# Images per class: models favour one class each, so top-1 = that class's share.
VAL_COUNTS = (4, 2, 1, 1)  # favour_r0: 50%, favour_r1: 25%, favour_r2: 12.5%
SHIFT_COUNTS = (1, 1, 2, 1)  # favour_r0: 20%, favour_r1: 20%, favour_r2: 40%
MODELS = (
    "tests.shifts.models:favour_r0",
    "tests.shifts.models:favour_r1",
    "tests.shifts.models:favour_r2",
)


def _folder(base: Path, counts: tuple[int, ...]) -> Path:
    wnids = (subset_wnids("imagenet-r") or ())[: len(counts)]
    for c, (wnid, n) in enumerate(zip(wnids, counts, strict=True)):
        (base / wnid).mkdir(parents=True)
        for i in range(n):
            (base / wnid / f"{i}.jpg").write_bytes(jpeg(c * 10 + i))
    return base


@pytest.fixture(scope="module")
def robustness_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("robustness")
    root, runs_dir = base / "root", base / "runs"
    prepare([_folder(base / "val", VAL_COUNTS)], root=root, name="val-like", fmt="imagefolder")
    prepare([_folder(base / "imagenet-r", SHIFT_COUNTS)], root=root)
    options = EvalOptions(device="cpu", batch_size=8, resume=False)
    for data in ("val-like", "imagenet-r"):
        evaluate(
            list(MODELS),
            data=data,
            root=root,
            runs_dir=runs_dir,
            preprocessing=PREP,
            options=options,
        )
    return root, runs_dir


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def test_rows_pair_val_and_shift_with_effective_robustness(
    robustness_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    root, runs_dir = robustness_runs
    plot = tmp_path / "rob.png"
    result = CliRunner().invoke(
        main,
        [
            "report",
            "--robustness",
            "--format",
            "json",
            "--runs-dir",
            str(runs_dir),
            "--root",
            str(root),
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    # Best val top-1 first.
    assert [r["model"].split(":")[-1] for r in rows] == ["favour_r0", "favour_r1", "favour_r2"]
    by = {r["model"].split(":")[-1]: r for r in rows}
    assert len(by) == 3
    val = np.array([50.0, 25.0, 12.5])
    shift = np.array([20.0, 20.0, 40.0])
    # An independent fit: least squares of logit(shift) on logit(val).
    slope, intercept = np.polyfit(_logit(val / 100), _logit(shift / 100), 1)
    for i, name in enumerate(["favour_r0", "favour_r1", "favour_r2"]):
        row = next(r for k, r in by.items() if k.endswith(name))
        assert row["val_top1"] == pytest.approx(val[i])
        assert row["shift_top1"] == pytest.approx(shift[i])
        assert row["classes_ranked"] == 200 and row["shift_source"] == "imagenet-r"
        fitted = 100 / (1 + math.exp(-(slope * _logit(val[i] / 100) + intercept)))
        assert row["fitted_top1"] == pytest.approx(fitted, abs=1e-3)
        assert row["effective_robustness"] == pytest.approx(shift[i] - fitted, abs=1e-3)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_and_html(robustness_runs: tuple[Path, Path], tmp_path: Path) -> None:
    root, runs_dir = robustness_runs
    args = ["report", "--robustness", "--runs-dir", str(runs_dir), "--root", str(root)]
    result = CliRunner().invoke(main, [*args, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "eff. robustness (pp)" in result.stdout and "over 3 models" in result.stdout
    html = tmp_path / "r.html"
    result = CliRunner().invoke(main, [*args, "--format", "html", "-o", str(html)])
    assert result.exit_code == 0, result.output
    assert "data:image/png;base64" in html.read_text()


def test_one_model_has_no_line(robustness_runs: tuple[Path, Path]) -> None:
    root, runs_dir = robustness_runs
    result = CliRunner().invoke(
        main,
        [
            "report",
            "--robustness",
            "--format",
            "json",
            "--model",
            "*favour_r0",
            "--runs-dir",
            str(runs_dir),
            "--root",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["effective_robustness"] is None and row["shift_top1"] == pytest.approx(20.0)


def test_no_shift_runs_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["report", "--robustness", "--format", "json", "--runs-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    assert "no run on val data" in result.stderr


def test_the_same_model_at_another_recipe_is_another_point(tmp_path: Path) -> None:
    from ilsvrc_bench.reports import robustness
    from ilsvrc_bench.runs import load_runs

    root, runs_dir = tmp_path / "root", tmp_path / "runs"
    prepare([_folder(tmp_path / "val", VAL_COUNTS)], root=root, name="val-like", fmt="imagefolder")
    prepare([_folder(tmp_path / "imagenet-r", SHIFT_COUNTS)], root=root)
    for data in ("val-like", "imagenet-r"):
        for resize in (40, 48):
            evaluate(
                [MODELS[0]],
                data=data,
                root=root,
                runs_dir=runs_dir,
                preprocessing={"resize_size": resize, "crop_size": 32},
                options=EvalOptions(device="cpu", batch_size=8, resume=False),
            )
    view = robustness.build(load_runs(runs_dir))
    rows = view.rows()
    assert len(rows) == 2
    assert {r["model"].split("(")[-1].split(",")[-1].strip() for r in rows} == {
        "40/32 bilinear)",
        "48/32 bilinear)",
    }


def test_a_model_without_a_val_run_is_named_not_silently_left_out(
    robustness_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    root, runs_dir = robustness_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs_dir, copy)
    for record in copy.glob("*/run.json"):
        run = json.loads(record.read_text())
        if run["data"]["name"] == "val-like" and run["model"]["ref"].endswith("favour_r2"):
            shutil.rmtree(record.parent)
    result = CliRunner().invoke(
        main,
        [
            "report",
            "--robustness",
            "--format",
            "json",
            "--runs-dir",
            str(copy),
            "--root",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2
    assert "favour_r2: left out, it has shift-set runs but no run on val-like" in result.stderr
