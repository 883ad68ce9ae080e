"""Engine fixtures: a generated official-layout dataset, prepared once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.helpers import make_sample_root


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding dataset ``sample``: 10 classes x 2 images from ``write_sample``."""
    return make_sample_root(tmp_path_factory.mktemp("engine-sample"))
