"""Engine fixtures: a generated official-layout dataset, prepared once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding dataset ``sample``: 10 classes x 2 images from ``write_sample``."""
    from ilsvrc_bench.data import prepare, write_sample

    base = tmp_path_factory.mktemp("engine-sample")
    tar, devkit = write_sample(base / "src", classes=10, per_class=2, seed=0)
    prepare([tar, devkit], root=base / "root", name="sample")
    return base / "root"
