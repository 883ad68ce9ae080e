"""Real torch.distributed (gloo on the CPU): every image scored exactly once over the ranks,
predictions bit-identical to a single process on the same batch grid, one record; a rank killed
with SIGKILL stops the others with exit 5 and the run resumes with a different world size."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ilsvrc_bench import runs
from ilsvrc_bench.engine.launch import free_port, rank_env

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--resize-size", "40", "--crop-size", "32", "--workers", "0"]


def eval_args(root: Path, runs_dir: Path, *extra: str, model: str = "tests.engine.helpers:tiny"):
    return [
        "eval", "-m", model, "--root", str(root), "--data", "sample",
        "--runs-dir", str(runs_dir), *SMALL, "--batch-size", "3", "--format", "json", *extra,
    ]  # fmt: skip


def base_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    # One intra-op thread everywhere, so the single-process reference computes like a rank.
    env["OMP_NUM_THREADS"] = "1"
    env["COLUMNS"] = "500"  # one error line stays one line
    return env


def cli(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ilsvrc_bench", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def predictions(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = runs.read_predictions(run_dir)
    return (
        df["index"].to_numpy(),
        np.stack(df["pred"].to_list()),
        np.stack(df["prob"].to_list()),
    )


def assert_same_predictions(a: Path, b: Path) -> None:
    ia, pa, qa = predictions(a)
    ib, pb, qb = predictions(b)
    assert np.array_equal(ia, ib)
    assert np.array_equal(pa, pb)
    # Bit-identical, not merely close.
    assert qa.tobytes() == qb.tobytes()


def single(root: Path, runs_dir: Path) -> Path:
    done = cli(eval_args(root, runs_dir), base_env())
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    return Path(row["run_dir"])


@pytest.mark.parametrize("nproc", [2, 3])
def test_nproc_equals_single_process_with_one_record(
    sample_root: Path, tmp_path: Path, nproc: int
) -> None:
    reference = single(sample_root, tmp_path / "single")
    done = cli(eval_args(sample_root, tmp_path / "dist", "--nproc", str(nproc)), base_env())
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)  # one table, from rank 0 only
    (run_dir,) = runs.iter_run_dirs(tmp_path / "dist")
    assert row["run_dir"] == str(run_dir) and row["n_images"] == 20
    assert not (run_dir / "chunks").exists()
    assert_same_predictions(run_dir, reference)
    record = runs.read_record(run_dir)
    assert record.metrics == runs.read_record(reference).metrics
    dist = record.distributed
    assert dist is not None and dist.world_size == nproc and dist.backend == "gloo"
    assert [r.rank for r in dist.ranks] == list(range(nproc))
    # 20 images on a grid of 3: 7 batches dealt round robin; every image exactly once.
    per_rank = [
        len(range(r, 7, nproc)) * 3 - (1 if (6 - r) % nproc == 0 else 0) for r in range(nproc)
    ]
    assert [r.images for r in dist.ranks] == per_rank
    assert record.timings is not None
    assert sum(per_rank) == 20 == record.timings.images_this_process
    assert all(r.host and r.device.type == "cpu" for r in dist.ranks)
    assert record.command[:2] == ("ilsvrc-bench", "eval") and "--nproc" in record.command
    assert row["world_size"] == nproc

    # check and report read a distributed run like any other.
    same = cli(["check", "--baseline", str(reference), "--candidate", str(run_dir)], base_env())
    assert same.returncode == 0, same.stdout + same.stderr


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_one_rank_stops_the_other_and_resume_with_three_ranks(
    sample_root: Path, tmp_path: Path
) -> None:
    runs_dir = tmp_path / "killed"
    args = eval_args(
        sample_root, runs_dir, "--flush-batches", "1", model="tests.engine.helpers:slow"
    )
    port = free_port()
    env = base_env(ILSVRC_TEST_SLEEP="0.5")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ilsvrc_bench", *args],
            cwd=REPO,
            env={**rank_env(rank, 2, port, ["ilsvrc-bench", *args]), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    try:
        wait_for(lambda: list(runs_dir.glob("*/chunks/chunk-r000001-*.parquet")), 240, "a chunk")
        procs[1].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = procs[0].communicate(timeout=60)
        stopped_after = time.monotonic() - killed_at
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert procs[0].returncode == 5, err
    assert stopped_after < 30
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("error: rank 0 of 2") and "another rank stopped" in lines[-1]
    assert "Traceback" not in err
    (run_dir,) = runs.iter_run_dirs(runs_dir)
    assert runs.read_record(run_dir).status == "running"
    assert list(run_dir.glob("chunks/chunk-r000000-*.parquet"))

    # The same command with three ranks reuses every chunk either rank wrote.
    resumed = cli([*args, "--nproc", "3"], base_env(ILSVRC_TEST_SLEEP="0"))
    assert resumed.returncode == 0, resumed.stderr
    (row,) = json.loads(resumed.stdout)
    assert row["run_dir"] == str(run_dir)
    assert 2 <= row["reused_images"] < 20 and row["n_images"] == 20
    reference = single(sample_root, tmp_path / "single")
    assert_same_predictions(run_dir, reference)
    assert runs.read_record(run_dir).metrics == runs.read_record(reference).metrics


def real_args(root: Path, runs_dir: Path, onnx: Path) -> list[str]:
    return [
        "eval", "-m", str(onnx), "--root", str(root), "--data", "real200",
        "--runs-dir", str(runs_dir), "-b", "16", "-j", "0", "--format", "json",
    ]  # fmt: skip


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["nproc 2", "torchrun 3"])
def test_real_images_real_model_equal_a_single_process(
    real200_root: Path, real_onnx: Path, tmp_path: Path, launcher: str
) -> None:
    """The 200 real photos and the real int8 MobileNetV2: 13 batches of 16 (the last one 8)
    over 2 or 3 ranks, through ``--nproc`` and through torchrun itself."""
    how, world = launcher.split()
    single_done = cli(real_args(real200_root, tmp_path / "single", real_onnx), base_env())
    assert single_done.returncode == 0, single_done.stderr
    args = real_args(real200_root, tmp_path / "dist", real_onnx)
    if how == "nproc":
        done = cli([*args, "--nproc", world], base_env())
    else:
        done = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone",
             "--nproc-per-node", world, "-m", "ilsvrc_bench", *args],
            cwd=REPO, env=base_env(), capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    (reference,) = json.loads(single_done.stdout)
    (run_dir,) = runs.iter_run_dirs(tmp_path / "dist")
    assert row["n_images"] == 200 and row["world_size"] == int(world)
    assert_same_predictions(run_dir, Path(reference["run_dir"]))
    record = runs.read_record(run_dir)
    assert record.metrics == runs.read_record(Path(reference["run_dir"])).metrics
    assert record.distributed is not None
    assert sum(r.images for r in record.distributed.ranks) == 200
    # A real pretrained model on real photos: far above chance.
    assert record.metrics is not None and record.metrics.top1_correct > 100


@pytest.mark.gpu
def test_nccl_world_size_one_goes_through_the_distributed_path(
    sample_root: Path, tmp_path: Path
) -> None:
    done = cli(eval_args(sample_root, tmp_path, "--nproc", "1", "--device", "cuda"), base_env())
    assert done.returncode == 0, done.stderr
    (run_dir,) = runs.iter_run_dirs(tmp_path)
    record = runs.read_record(run_dir)
    assert record.distributed is not None
    assert record.distributed.backend == "nccl" and record.distributed.world_size == 1
    assert record.distributed.ranks[0].device.type == "cuda"
    assert record.metrics is not None and record.metrics.n_images == 20


def test_ranks_with_different_weights_are_refused(sample_root: Path, tmp_path: Path) -> None:
    args = eval_args(sample_root, tmp_path, "--nproc", "2", model="tests.engine.helpers:unseeded")
    done = cli(args, base_env())
    assert done.returncode == 4, done.stderr
    assert "loaded other weights than rank 0" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_sigterm_from_the_launcher_flushes_and_exits_5(sample_root: Path, tmp_path: Path) -> None:
    """torchrun's agent sends SIGTERM to the other ranks when one dies."""
    runs_dir = tmp_path / "runs"
    args = eval_args(
        sample_root, runs_dir, "--flush-batches", "1", model="tests.engine.helpers:slow"
    )
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ilsvrc_bench", *args],
            cwd=REPO,
            env={
                **rank_env(rank, 2, port, ["ilsvrc-bench", *args]),
                **base_env(ILSVRC_TEST_SLEEP="0.5"),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    try:
        wait_for(lambda: list(runs_dir.glob("*/chunks/chunk-r000001-*.parquet")), 240, "a chunk")
        procs[1].send_signal(signal.SIGTERM)
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [5, 5], outs
    assert "stopped by SIGTERM" in outs[1][1] and "Traceback" not in outs[1][1]
    assert "rank 1 failed" in outs[0][1] or "another rank stopped" in outs[0][1]
