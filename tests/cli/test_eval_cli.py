"""`ilsvrc-bench eval` through the CLI: formats, exit codes, Ctrl-C, and a SIGKILL then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from ilsvrc_bench import runs
from ilsvrc_bench.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = "tests.engine.helpers:tiny"
SMALL = ["--resize-size", "40", "--crop-size", "32", "--workers", "0"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env={"COLUMNS": "200", **(env or {})}).invoke(main, ["eval", *args])


@pytest.fixture
def sample(sample_root: Path, tmp_path: Path) -> list[str]:
    return ["--root", str(sample_root), "--data", "sample", "--runs-dir", str(tmp_path / "runs")]


def test_json_is_alone_on_stdout(sample: list[str]) -> None:
    result = invoke("-m", TINY, *sample, *SMALL, "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    for key in (
        "model",
        "weights",
        "data",
        "protocol",
        "n_images",
        "top1_acc",
        "top5_acc",
        "top1_err",
        "top5_err",
        "top1_correct",
        "top1_ci_lo",
        "top1_ci_hi",
        "images_per_second",
        "run_id",
        "run_dir",
    ):
        assert key in row
    assert row["n_images"] == 20 and row["data"] == "sample" and row["protocol"] == "center"
    assert row["top1_acc"] + row["top1_err"] == pytest.approx(100)
    rec = runs.read_record(Path(row["run_dir"]))
    assert list(rec.command[:2]) == ["ilsvrc-bench", "eval"] or rec.command[0] == "ilsvrc-bench"
    assert rec.metrics is not None and rec.metrics.top1_acc == row["top1_acc"]


def test_table_csv_and_output_file(sample: list[str], tmp_path: Path) -> None:
    result = invoke("-m", TINY, *sample, *SMALL, "--limit", "10", "--protocol", "10crop")
    assert result.exit_code == 0, result.output
    assert "top-1 %" in result.stdout and "10crop" in result.stdout
    out = tmp_path / "r.csv"
    result = invoke("-m", TINY, *sample, *SMALL, "--limit", "10", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    header = out.read_text().splitlines()[0]
    assert header.split(",") == list(runs.ROW_COLUMNS)  # the run record's one flat row


@pytest.mark.parametrize("columns", ["80", "200"])
def test_the_table_names_the_data_and_keeps_the_run_id_whole(
    sample: list[str], columns: str
) -> None:
    """A CI log is 80 columns: the table must still show what was scored and a copyable run id."""
    result = invoke("-m", TINY, *sample, *SMALL, "--limit", "10", env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    assert all(len(line) <= int(columns) for line in result.stdout.splitlines())
    (run_dir,) = runs.iter_run_dirs(Path(sample[-1]))
    assert run_dir.name in result.stdout  # on one line, not folded
    assert "sample (subset, 10 images, --limit)" in result.stdout
    assert "center" in result.stdout


def test_cuda_without_cuda_exits_5(sample: list[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    result = invoke("-m", TINY, *sample, "--device", "cuda")
    assert result.exit_code == 5
    assert "CUDA is not available" in result.stderr


def test_no_prepared_data_exits_3(tmp_path: Path) -> None:
    result = invoke("-m", TINY, "--root", str(tmp_path / "empty"), "--runs-dir", str(tmp_path))
    assert result.exit_code == 3
    assert "no prepared data" in result.stderr


def test_runs_dir_not_writable_exits_5(sample_root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = ["--root", str(sample_root), "--data", "sample", "--runs-dir", str(blocker / "runs")]
    result = invoke("-m", TINY, *args)
    assert result.exit_code == 5
    assert "not writable" in result.stderr


def test_output_width_mismatch_exits_4(sample: list[str]) -> None:
    result = invoke("-m", "tests.engine.helpers:ten_outputs", *sample, *SMALL)
    assert result.exit_code == 4, result.output
    assert "1000" in result.stderr


def corrupt_one_image(tmp_path: Path) -> tuple[Path, str]:
    """A prepared copy of the sample whose first image's bytes (inside the tar) are garbage."""
    from ilsvrc_bench.data import open_dataset, prepare, write_sample

    tar, devkit = write_sample(tmp_path / "src", classes=4, per_class=2)
    root = tmp_path / "root"
    prepare([tar, devkit], root=root, name="broken")
    ds = open_dataset("broken", root=root)
    rec = ds.records[0]
    with tar.open("r+b") as fh:
        fh.seek(ds.storage.offsets[rec.index])
        fh.write(b"\0" * rec.size)
    return root, rec.path


def test_unreadable_image_is_a_miss_or_with_strict_exit_3(tmp_path: Path) -> None:
    root, bad = corrupt_one_image(tmp_path)
    common = ["-m", TINY, "--root", str(root), "--data", "broken", *SMALL]
    result = invoke(*common, "--runs-dir", str(tmp_path / "r1"), "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["n_images"] == 8 and row["n_unreadable"] == 1 and row["unreadable"] == [bad]
    assert bad in result.stderr
    strict = invoke(*common, "--runs-dir", str(tmp_path / "r2"), "--strict")
    assert strict.exit_code == 3
    assert "--strict" in strict.stderr and bad in strict.stderr


def test_data_gone_since_prepare_exits_3(tmp_path: Path) -> None:
    from ilsvrc_bench.data import prepare, write_sample

    tar, devkit = write_sample(tmp_path / "src", classes=2, per_class=1)
    prepare([tar, devkit], root=tmp_path / "root", name="gone")
    tar.unlink()
    result = invoke("-m", TINY, "--root", str(tmp_path / "root"), "--data", "gone", *SMALL)
    assert result.exit_code == 3
    assert "is gone" in result.stderr


def test_ctrl_c_exits_130_and_resumes(sample: list[str]) -> None:
    args = ["-m", "tests.engine.helpers:interrupt_after", *sample, *SMALL]
    args += ["--batch-size", "2", "--flush-batches", "1", "--format", "json"]
    stopped = invoke(*args, env={"ILSVRC_TEST_INTERRUPT_AT": "3"})
    assert stopped.exit_code == 130
    resumed = invoke(*args, env={"ILSVRC_TEST_INTERRUPT_AT": "0"})
    assert resumed.exit_code == 0, resumed.output
    (row,) = json.loads(resumed.stdout)
    assert row["reused_images"] == 4 and row["n_images"] == 20


@pytest.mark.slow
def test_sigkill_midway_then_resume_matches_an_uninterrupted_run(
    sample_root: Path, tmp_path: Path
) -> None:
    def command(runs_dir: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "ilsvrc_bench",
            "eval",
            "-m",
            "tests.engine.helpers:slow",
            "--root",
            str(sample_root),
            "--data",
            "sample",
            "--runs-dir",
            str(runs_dir),
            *SMALL,
            "--batch-size",
            "2",
            "--flush-batches",
            "1",
            "--format",
            "json",
        ]

    env = {**os.environ, "PYTHONPATH": str(REPO), "ILSVRC_TEST_SLEEP": "0.3"}
    killed_runs = tmp_path / "killed"
    proc = subprocess.Popen(
        command(killed_runs), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not list(killed_runs.glob("*/chunks/chunk-*.parquet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no chunk written"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    (run_dir,) = runs.iter_run_dirs(killed_runs)
    assert runs.read_record(run_dir).status == "running"

    fast = {**env, "ILSVRC_TEST_SLEEP": "0"}
    resumed = subprocess.run(
        command(killed_runs), cwd=REPO, env=fast, capture_output=True, check=False
    )
    assert resumed.returncode == 0, resumed.stderr.decode()
    (row,) = json.loads(resumed.stdout)
    assert row["run_dir"] == str(run_dir)
    assert 0 < row["reused_images"] < 20

    fresh = subprocess.run(
        command(tmp_path / "fresh"), cwd=REPO, env=fast, capture_output=True, check=False
    )
    assert fresh.returncode == 0, fresh.stderr.decode()
    (ref,) = json.loads(fresh.stdout)
    assert ref["reused_images"] == 0
    a = runs.read_record(Path(row["run_dir"]))
    b = runs.read_record(Path(ref["run_dir"]))
    assert a.metrics == b.metrics and a.run_key == b.run_key
    pa, pb = (
        runs.read_predictions(a_dir := Path(row["run_dir"])),
        runs.read_predictions(Path(ref["run_dir"])),
    )
    assert a_dir.joinpath("predictions.parquet").is_file()
    assert pa[["index", "path", "label", "blacklisted", "readable"]].equals(
        pb[["index", "path", "label", "blacklisted", "readable"]]
    )
    assert np.array_equal(np.stack(pa["pred"].to_list()), np.stack(pb["pred"].to_list()))
    assert np.array_equal(np.stack(pa["prob"].to_list()), np.stack(pb["prob"].to_list()))


def test_preprocessing_flags_reach_the_run_record(sample: list[str]) -> None:
    result = invoke(
        "-m", TINY, *sample, "--resize", "40", "--crop", "32", "--workers", "0",
        "--interpolation", "bicubic", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    prep = runs.read_record(Path(row["run_dir"])).preprocessing
    assert prep["resize_size"] == 40 and prep["crop_size"] == 32
    assert prep["interpolation"] == "bicubic"
    assert list(prep["mean"]) == [0.5, 0.5, 0.5] and list(prep["std"]) == [0.25, 0.25, 0.25]


def test_a_malformed_mean_is_a_usage_error(sample: list[str]) -> None:
    result = invoke("-m", TINY, *sample, *SMALL, "--mean", "0.5,0.5")
    assert result.exit_code == 2
    assert "mean" in result.output


def test_the_record_keeps_the_command_as_typed_not_the_test_runners_argv(
    sample: list[str],
) -> None:
    args = ["-m", TINY, *sample, *SMALL, "--format", "json"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    record = runs.read_record(Path(row["run_dir"]))
    assert record.command == ("ilsvrc-bench", "eval", *args)
