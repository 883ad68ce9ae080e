from __future__ import annotations

import json
from pathlib import Path

import pytest

from ilsvrc_bench.data import open_dataset, prepare
from ilsvrc_bench.data.devkit import load_hierarchy, read_devkit
from ilsvrc_bench.data.sample import sample_devkit_ids
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import by_wnid
from tests.recorded_progress import RecordedProgress


def test_prepare_official_labels_follow_devkit(sample_archives, prepared) -> None:
    devkit = read_devkit(sample_archives[1])
    assert prepared.n_images == 20
    assert prepared.n_classes == 10
    assert prepared.source == "official"
    for record in prepared.records:
        number = int(record.path[-13:-5])
        devkit_id = devkit.ground_truth[number - 1]
        assert record.devkit_id == devkit_id
        assert record.wnid == devkit.wnid_of_devkit_id[devkit_id]
        assert record.class_index == by_wnid(record.wnid).class_index
    assert [r.path for r in prepared.records] == sorted(r.path for r in prepared.records)
    assert sum(r.blacklisted for r in prepared.records) == 1


def test_devkit_ids_are_not_sorted_index_plus_one() -> None:
    ids = sample_devkit_ids()
    assert sum(ids[s] == by_wnid(s).class_index + 1 for s in ids) < 10


def test_read_bytes_in_place_matches_sha(prepared) -> None:
    import hashlib

    for record in prepared.records:
        data = prepared.read_bytes(record)
        assert hashlib.sha256(data).hexdigest() == record.sha256
        assert data[:3] == b"\xff\xd8\xff"


def test_open_dataset_by_name_and_path(prepared, tmp_path: Path) -> None:
    # 20 images are not the complete val: never the default name plain `eval` reads
    assert prepared.name == "ilsvrc2012-val-subset-20"
    with pytest.raises(DataError, match="ilsvrc2012-val-subset-20"):
        open_dataset(root=tmp_path / "root")
    again = open_dataset("ilsvrc2012-val-subset-20", root=tmp_path / "root")
    assert again.manifest_sha256 == prepared.manifest_sha256
    assert open_dataset(prepared.path).records == prepared.records
    info = json.loads((prepared.path / "dataset.json").read_text())
    assert info["md5_checks"]["ILSVRC2012_img_val.tar"]["verified"] is True


def test_open_dataset_absent_is_helpful(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data prepare"):
        open_dataset(root=tmp_path)


def test_same_archives_same_manifest_hash(sample_archives, tmp_path: Path) -> None:
    a = prepare(list(sample_archives), root=tmp_path / "a")
    b = prepare(list(sample_archives), root=tmp_path / "b", name="other")
    assert a.manifest_sha256 == b.manifest_sha256
    assert b.name == "other"


def test_hierarchy_from_devkit(prepared) -> None:
    from ilsvrc_bench.synsets import all_synsets

    parents = load_hierarchy(prepared)
    assert all(s.wnid in parents for s in all_synsets())
    groups = set(parents[s.wnid] for s in all_synsets())
    assert len(groups) == 10
    assert len({parents[g] for g in groups}) == 1  # one root above the groups


def test_vanished_tar_names_file(sample_archives, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    copy.mkdir()
    for p in (*sample_archives, sample_archives[0].parent / "MD5SUMS"):
        shutil.copy(p, copy / p.name)
    ds = prepare([copy], root=tmp_path / "root")
    (copy / "ILSVRC2012_img_val.tar").unlink()
    with pytest.raises(DataError, match=r"ILSVRC2012_img_val\.tar"):
        ds.read_bytes(ds.records[0])


def test_progress_reports_every_byte_of_the_tar(sample_archives, tmp_path: Path) -> None:
    progress = RecordedProgress()
    prepare(list(sample_archives), root=tmp_path / "r", progress=progress)
    stage = "index ILSVRC2012_img_val.tar"
    assert progress.done[stage] == progress.totals[stage] == sample_archives[0].stat().st_size
    assert progress.units[stage] == "bytes"
    assert progress.open is None  # every stage was stopped


def test_a_sample_has_the_same_bytes_every_time(tmp_path: Path) -> None:
    """`data sample` output is reproducible: its MD5s can be pinned (the MAT header has no date)."""
    import time

    from ilsvrc_bench.data.sample import write_sample

    first = write_sample(tmp_path / "a", classes=3, per_class=1, seed=5)
    time.sleep(1.1)  # the MAT writer stamps the second into its header
    second = write_sample(tmp_path / "b", classes=3, per_class=1, seed=5)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
