"""Nothing is written outside the data root, the runs directory and ``$TORCH_HOME``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def test_weights_hash_cache_stays_in_torch_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ilsvrc_bench.models import weights as wts

    xdg_data = tmp_path / "xdg-data"
    monkeypatch.delenv("ILSVRC_BENCH_ROOT")
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg_data))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"not really weights")
    wts.sha256_file(weights)
    assert not xdg_data.exists() and not (tmp_path / "home").exists()
    assert any(Path(os.environ["TORCH_HOME"]).rglob("*.json"))
