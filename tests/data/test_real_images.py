"""The 200 real ImageNet photos, packed into the official layout, get the labels of their names."""

from __future__ import annotations

from pathlib import Path

import pytest

from ilsvrc_bench.data import prepare
from ilsvrc_bench.data.sample import pack_official

pytestmark = pytest.mark.realdata


def test_real_images_in_official_layout(real_images: Path, tmp_path: Path) -> None:
    files = sorted(real_images.glob("*.JPEG"))
    assert len(files) == 200
    # Shuffle the numbering so val order is unrelated to class order, as in the real tar.
    import random

    random.Random(7).shuffle(files)
    images = [(f.read_bytes(), f.name.split("_")[0]) for f in files]
    pack_official(tmp_path / "src", images, blacklist=3)
    ds = prepare([tmp_path / "src"], root=tmp_path / "root")
    assert ds.n_images == 200 and ds.n_classes == 200
    assert ds.problems == []
    for record in ds.records:
        number = int(record.path[-13:-5])
        expected_wnid = files[number - 1].name.split("_")[0]
        assert record.wnid == expected_wnid
        assert record.class_index % 5 == 0  # the sample holds every fifth class
    assert sum(r.blacklisted for r in ds.records) == 3
    assert ds.read_bytes(ds.records[0]) == files[0].read_bytes()
