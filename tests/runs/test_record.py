"""The typed run record: validated when read, version 1 still read, one flat row."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from ilsvrc_bench import runs
from ilsvrc_bench.cli import main
from ilsvrc_bench.errors import RunError
from ilsvrc_bench.metrics import wilson_interval, z_for_level
from tests.runs.test_files import make_record, write_run


def _edit(run_dir: Path, **changes: object) -> None:
    path = run_dir / "run.json"
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", "64", r"field batch_size must be an integer, not '64'"),
        ("metrics__top1_correct", 2.5, r"field metrics\.top1_correct must be an integer"),
        ("metrics__n_images", True, r"field metrics\.n_images must be an integer, not True"),
        ("data__manifest_sha256", None, r"field data\.manifest_sha256 must be a string, not None"),
        ("command", "ilsvrc-bench eval", r"field command must be a list"),
        ("model", ["alexnet"], r"field model must be an object, not a list"),
        ("timings__wall_s", "fast", r"field timings\.wall_s must be a number"),
        ("metrics__top1_correct", 9, r"field metrics\.top1_correct is 9, outside 0\.\.4"),
        ("metrics__top1_acc", 75.0, r"field metrics\.top1_acc is 75\.0 but the counts give 50"),
    ],
)
def test_wrong_value_types_are_refused_naming_file_and_field(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    run_dir = write_run(tmp_path, make_record())
    _edit(run_dir, **{field: value})
    with pytest.raises(RunError, match=rf"run\.json: {message}"):
        runs.read_record(run_dir)


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, make_record())
    data = json.loads((run_dir / "run.json").read_text())
    del data["data"]["manifest_sha256"]
    (run_dir / "run.json").write_text(json.dumps(data))
    with pytest.raises(RunError, match=r"field data\.manifest_sha256 is missing"):
        runs.read_record(run_dir)


def test_a_wrongly_typed_record_exits_5_from_the_cli(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, make_record())
    _edit(run_dir, metrics__top5_correct="3")
    result = CliRunner().invoke(
        main, ["check", "--runs-dir", str(tmp_path), "--baseline", "x", "--candidate", str(run_dir)]
    )
    assert result.exit_code == 5
    assert "run.json: field metrics.top5_correct must be an integer" in result.stderr
    assert "Traceback" not in result.output


V1 = {
    "schema_version": 1,
    "run_id": "20261125-122800-alexnet-875941",
    "status": "complete",
    "created_at": "2026-11-25T12:28:00Z",
    "command": ["ilsvrc-bench", "eval", "-m", "alexnet"],
    "model": {
        "name": "alexnet",
        "source": "torchvision",
        "architecture": "alexnet",
        "weights": {
            "name": "IMAGENET1K_V1",
            "path": None,
            "url": "https://x/a.pth",
            "sha256": None,
        },
        "preprocessing": {"resize_size": 256, "crop_size": 224},
        "num_outputs": 1000,
        "class_offset": 0,
        "reference": {"top1": 56.522, "top5": 79.066, "source": "torchvision"},
        "num_params": 61100840,
        "gflops": 0.714,
        "target": "torchvision.models:alexnet",
        "ref": "alexnet",
    },
    "weights": {"name": "IMAGENET1K_V1", "path": None, "sha256": "ab" * 32, "random": False},
    "data": {
        "name": "val",
        "path": "/d",
        "source": "official",
        "split": "val",
        "manifest_sha256": "cd" * 32,
        "n_images": 30,
        "limit": 20,
        "subset_sha256": "ef" * 32,
    },
    "preprocessing": {"resize_size": 256, "crop_size": 224},
    "protocol": "center",
    "precision": "fp32",
    "device": {"type": "cpu", "name": "AMD EPYC"},
    "batch_size": 64,
    "workers": 0,
    "channels_last": False,
    "compile": False,
    "versions": {"torch": "2.14.1"},
    "run_key": "12" * 32,
    "finished_at": "2026-11-25T12:28:04Z",
    "metrics": {
        "n_images": 20,
        "top1_acc": 55.0,
        "top5_acc": 80.0,
        "top1_err": 45.0,
        "top5_err": 20.0,
        "top1_ci": [34.2, 74.2],
        "top5_ci": [58.4, 91.9],
        "top1_correct": 11,
        "top5_correct": 16,
        "mean_per_class_acc": 55.0,
        "mean_per_class_top5_acc": 80.0,
        "n_unreadable": 1,
        "blacklist_excluded": None,
    },
    "unreadable": [{"index": 3, "path": "x.JPEG", "error": "truncated"}],
    "timings": {"wall_s": 1.459, "images_per_second": 13.71, "images_this_process": 20},
    "reused_images": 0,
    "notes": [],
}


def test_version_1_records_are_still_read(tmp_path: Path) -> None:
    run_dir = tmp_path / V1["run_id"]  # type: ignore[operator]
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps(V1))
    rec = runs.read_record(run_dir)
    assert rec.schema_version == 1
    assert rec.metrics is not None and rec.metrics.top1_correct == 11
    assert rec.metrics.top1_acc == 55.0
    assert rec.weights.url == "https://x/a.pth"  # moved from model.weights
    assert rec.model.reference is not None and rec.model.reference.top1 == 56.522
    assert rec.unreadable[0].path == "x.JPEG"
    assert runs.load_runs(tmp_path)["top1_correct"].tolist() == [11]


def test_a_schema_version_it_never_had_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({**V1, "schema_version": 0}))
    with pytest.raises(RunError, match="schema_version 0 is not one"):
        runs.read_record(run_dir)


def test_version_2_on_disk_keeps_counts_and_no_intervals(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, make_record())
    metrics = json.loads((run_dir / "run.json").read_text())["metrics"]
    assert metrics["top1_correct"] == 2 and metrics["top1_acc"] == 50.0
    assert "top1_ci" not in metrics  # level-dependent: computed when asked for


def test_row_intervals_come_from_counts_at_the_asked_level() -> None:
    rec = make_record()
    row95 = rec.row()
    row99 = rec.row(level=0.99)
    assert (row95["top1_ci_lo"], row95["top1_ci_hi"]) == wilson_interval(2, 4)
    assert (row99["top1_ci_lo"], row99["top1_ci_hi"]) == wilson_interval(2, 4, z_for_level(0.99))
    assert row99["top1_ci_lo"] < row95["top1_ci_lo"] and row99["ci_level"] == 0.99
    assert set(row95) == set(runs.ROW_COLUMNS)
    assert math.isclose(z_for_level(0.95), 1.959963984540054)


def test_incomplete_record_rows_have_no_numbers() -> None:
    rec = make_record(status="running", metrics=None, timings=None)
    row = rec.row()
    assert row["top1_acc"] is None and row["n_images"] is None and not rec.complete


def test_report_skips_a_corrupt_run_with_a_warning_and_shows_the_others(tmp_path: Path) -> None:
    good = write_run(tmp_path, make_record("20261125-120000-alexnet-aaaaaa"))
    bad = write_run(tmp_path, make_record("20261125-130000-alexnet-bbbbbb"))
    _edit(bad, batch_size="many")
    result = CliRunner().invoke(
        main, ["report", "--runs-dir", str(tmp_path), "--root", str(tmp_path), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    ids = [r["run_id"] for r in json.loads(result.stdout) if r["kind"] == "run"]
    assert ids == [good.name]
    assert "skipped an unreadable run" in result.stderr
    assert f"{bad.name}/run.json: field batch_size must be an integer" in result.stderr
    with pytest.raises(RunError, match="batch_size"):
        runs.load_runs(tmp_path)  # the library call stays strict
    assert len(runs.read_catalogue(tmp_path).frame) == 1
