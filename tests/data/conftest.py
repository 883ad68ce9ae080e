"""Data fixtures, built with ``write_sample`` so tests go through the real archive code."""

from __future__ import annotations

from pathlib import Path

import pytest

from ilsvrc_bench.data import Dataset, prepare, write_sample


@pytest.fixture(scope="session")
def sample_archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 10-class, 20-image sample in the official layout (read-only: copy before changing)."""
    return write_sample(tmp_path_factory.mktemp("sample"), classes=10, per_class=2, seed=0)


@pytest.fixture
def prepared(sample_archives: tuple[Path, Path], tmp_path: Path) -> Dataset:
    return prepare(list(sample_archives), root=tmp_path / "root")
