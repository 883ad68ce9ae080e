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
    assert "machine: " in done.stdout and "load average before" in done.stdout
