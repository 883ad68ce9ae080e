"""Loader workers fork safely after an earlier pass's model (a hang found with ONNX sweeps)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models.test_onnx import _graph

REPO = Path(__file__).resolve().parents[2]


def test_a_second_pass_does_not_hang_on_the_first_passs_onnx_session(tmp_path: Path) -> None:
    """The first pass's onnxruntime session is garbage when the second pass forks its workers;
    a worker that collected it waited for the session's threads, which a forked child does not
    have, for ever. The workers here collect garbage before every read, under the command
    line's collector thresholds (``tests/engine/fork_child.py``)."""
    pytest.importorskip("onnxruntime")
    model = _graph(tmp_path / "tiny.onnx", input_shape=["N", 3, "H", "W"], outputs=1000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.engine.fork_child", f"onnx:{model}", str(tmp_path)],
            check=False,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the second decoding pass hung: a loader worker collected the first model")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["8", "8"]
