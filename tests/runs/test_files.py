"""The run record on disk: round trips, errors that name the file, runs as a DataFrame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ilsvrc_bench import runs
from ilsvrc_bench.errors import RunError, UsageError


def make_record(run_id: str = "20261125-120000-alexnet-abcdef", **over: object) -> runs.RunRecord:
    base: dict[str, object] = {
        "schema_version": runs.SCHEMA_VERSION,
        "run_id": run_id,
        "status": runs.STATUS_COMPLETE,
        "created_at": "2026-11-25T12:00:00Z",
        "finished_at": "2026-11-25T12:01:00Z",
        "command": ["ilsvrc-bench", "eval", "-m", "alexnet"],
        "model": {"name": "alexnet", "ref": "alexnet"},
        "weights": {"name": "random", "path": None, "sha256": "ab" * 32, "random": True},
        "data": {
            "name": "val",
            "path": "/d",
            "source": "official",
            "split": "val",
            "manifest_sha256": "cd" * 32,
            "n_images": 4,
            "limit": None,
            "subset_sha256": None,
        },
        "preprocessing": {"resize_size": 256, "crop_size": 224},
        "protocol": "center",
        "precision": "fp32",
        "device": {"type": "cpu", "name": "cpu"},
        "batch_size": 8,
        "workers": 0,
        "channels_last": False,
        "compile": False,
        "versions": {"torch": "2"},
        "run_key": "ef" * 32,
        "metrics": {"n_images": 4, "top1_correct": 2, "top5_correct": 3},
        "timings": {"wall_s": 1.0, "images_per_second": 4.0},
    }
    base.update(over)
    return runs.RunRecord.from_dict(base)


def write_run(runs_dir: Path, rec: runs.RunRecord) -> Path:
    run_dir = runs_dir / rec.run_id
    run_dir.mkdir(parents=True)
    runs.write_record(run_dir, rec)
    return run_dir


def test_record_round_trip(tmp_path: Path) -> None:
    rec = make_record()
    run_dir = write_run(tmp_path, rec)
    assert runs.read_record(run_dir) == rec
    assert json.loads((run_dir / "run.json").read_text())["schema_version"] == 2


def test_newer_schema_refused_naming_file(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, make_record())
    data = json.loads((run_dir / "run.json").read_text())
    data["schema_version"] = runs.SCHEMA_VERSION + 1
    (run_dir / "run.json").write_text(json.dumps(data))
    with pytest.raises(RunError, match=r"run\.json.*newer"):
        runs.read_record(run_dir)


def test_corrupt_and_missing_record(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    with pytest.raises(RunError, match="no run record"):
        runs.read_record(tmp_path / "r")
    (tmp_path / "r" / "run.json").write_text("{not json")
    with pytest.raises(RunError, match=r"run\.json: corrupt"):
        runs.read_record(tmp_path / "r")


def test_predictions_and_logits_round_trip(tmp_path: Path) -> None:
    pred = np.array([[1, 2, 3, 4, 5], [-1] * 5])
    prob = np.array([[0.5, 0.2, 0.1, 0.1, 0.05], [0.0] * 5], dtype=np.float32)
    table = runs.predictions_table(
        index=[0, 1],
        path=["a.JPEG", "b.JPEG"],
        label=[1, 7],
        blacklisted=[False, True],
        readable=[True, False],
        pred=pred,
        prob=prob,
    )
    runs.write_parquet(tmp_path / runs.PREDICTIONS, table)
    df = runs.read_predictions(tmp_path)
    assert list(df.columns) == list(runs.PREDICTION_COLUMNS)
    assert np.array_equal(np.stack(df["pred"].to_list()), pred)
    assert np.allclose(np.stack(df["prob"].to_list()), prob)
    assert df["readable"].tolist() == [True, False]
    assert runs.read_logits(tmp_path) is None
    runs.write_logits(tmp_path / runs.LOGITS, np.ones((2, 1000)))
    logits = runs.read_logits(tmp_path)
    assert logits is not None and logits.dtype == np.float16 and logits.shape == (2, 1000)


def test_find_run_by_id_prefix_and_path(tmp_path: Path) -> None:
    a = write_run(tmp_path, make_record("20261125-120000-alexnet-aaaaaa"))
    write_run(tmp_path, make_record("20261125-130000-vgg16-bbbbbb"))
    assert runs.find_run("20261125-120000-alexnet-aaaaaa", runs_dir=tmp_path) == a
    assert runs.find_run("20261125-12", runs_dir=tmp_path) == a
    assert runs.find_run(a, runs_dir=tmp_path / "elsewhere") == a
    with pytest.raises(UsageError, match="ambiguous"):
        runs.find_run("20261125", runs_dir=tmp_path)
    with pytest.raises(UsageError, match="no run"):
        runs.find_run("nope", runs_dir=tmp_path)


def test_load_runs_skips_incomplete(tmp_path: Path) -> None:
    write_run(tmp_path, make_record("20261125-120000-alexnet-aaaaaa"))
    write_run(
        tmp_path,
        make_record("20261125-130000-alexnet-cccccc", status="running", metrics=None, timings=None),
    )
    frame = runs.load_runs(tmp_path)
    assert list(frame.columns) == list(runs.LOAD_RUNS_COLUMNS)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["top1_acc"] == 50.0 and row["model"] == "alexnet"
    assert row["top1_ci_lo"] == pytest.approx(15.0, abs=0.1)  # Wilson 95%, 2 of 4
    assert runs.load_runs(tmp_path / "missing").empty


def test_run_key_depends_on_each_part() -> None:
    base = dict(
        model_ref="alexnet",
        weights_sha256="a",
        manifest_sha256="b",
        preprocessing={"crop_size": 224},
        protocol="center",
        precision="fp32",
        limit=None,
    )
    key = runs.compute_run_key(**base)  # type: ignore[arg-type]
    assert key == runs.compute_run_key(**base)  # type: ignore[arg-type]
    for name, value in [("protocol", "10crop"), ("precision", "bf16"), ("limit", 10)]:
        assert runs.compute_run_key(**{**base, name: value}) != key  # type: ignore[arg-type]


def test_new_run_id_is_slugged() -> None:
    rid = runs.new_run_id("My Model/v2")
    assert "-my-model-v2-" in rid
