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


@pytest.fixture(scope="session")
def sample_truth(sample_archives: tuple[Path, Path]) -> dict[str, str]:
    """Val image file name -> wnid, from the sample's own devkit ground truth."""
    from ilsvrc_bench.data.devkit import read_devkit

    devkit = read_devkit(sample_archives[1])
    return {
        f"ILSVRC2012_val_{n:08d}.JPEG": devkit.wnid_of_devkit_id[d]
        for n, d in enumerate(devkit.ground_truth, start=1)
    }


@pytest.fixture
def flat_folder(sample_archives: tuple[Path, Path], tmp_path: Path) -> Path:
    """The sample val tar extracted flat, as `tar xf ILSVRC2012_img_val.tar` would."""
    import tarfile

    folder = tmp_path / "val"
    folder.mkdir()
    with tarfile.open(sample_archives[0]) as tar:
        tar.extractall(folder, filter="data")
    return folder
