"""benchmarks/compare_peers.py runs end to end on a CPU-only machine (a small, slow smoke run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.realdata
def test_compare_peers_prints_ratios_for_all_four(real_images: Path) -> None:
    pytest.importorskip("timm")
    command = [
        *(sys.executable, str(REPO / "benchmarks" / "compare_peers.py"), "--arch", "alexnet"),
        *("--images", "6", "--repeats", "1", "--batch-size", "3", "--workers", "0"),
        *("--source", str(real_images)),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for tool in ("torchvision", "timm", "ilsvrc-bench", "cache"):
        assert f"repeat 1 {tool:>12}: loop" in done.stdout
    assert "median loop wall s" in done.stdout and "median process CPU s" in done.stdout
    # the whole process of each tool beside its loop, and the fixed cost between them
    assert "median process wall s" in done.stdout and "fixed s" in done.stdout
    summary = done.stdout.split("(medians)")[1].split("(fixed:")[0]
    table = {r[0]: r for r in (line.split() for line in summary.splitlines()) if r}
    assert set(table) == {"torchvision", "timm", "ilsvrc-bench", "cache"}
    loop, process, fixed = (float(table["ilsvrc-bench"][i]) for i in (1, 3, 4))
    assert process > loop and abs(process - loop - fixed) < 0.02
    assert "machine: " in done.stdout and "load average before" in done.stdout


@pytest.mark.slow
@pytest.mark.realdata
def test_startup_benchmark_prints_every_command(real_images: Path) -> None:
    command = [
        *(sys.executable, str(REPO / "benchmarks" / "startup.py")),
        *("--repeats", "1", "--images", "4", "--source", str(real_images)),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout.split("seconds\n")[1].splitlines()
    assert table[0].split() == ["command", "this", "wall", "this", "CPU"]
    names = [line.split()[0] for line in table[1:]]
    assert names == ["--help", "synsets", "models", "report", "check", "eval"]
    assert all(float(x) > 0 for line in table[1:] for x in line.split()[-2:])
