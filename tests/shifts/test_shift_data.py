"""ImageNet-R, ImageNet-A and ImageNet-Sketch layouts become datasets with their class subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main
from ilsvrc_bench.data import prepare
from ilsvrc_bench.data.shifts import class_subset, dataset_class_subset, subset_wnids
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import all_synsets, index_of
from tests.shifts.layouts import from_real, generated


def test_class_lists_are_200_known_wnids() -> None:
    for kind in ("imagenet-r", "imagenet-a"):
        wnids = subset_wnids(kind)
        assert wnids is not None and len(wnids) == 200 == len(set(wnids))
        indices = class_subset(kind)
        assert indices == tuple(sorted(index_of(w) for w in wnids))
    # Well-known members: goldfish in R, stingray in A; 113 classes are in both.
    assert "n01443537" in (subset_wnids("imagenet-r") or ())
    assert "n01498041" in (subset_wnids("imagenet-a") or ())
    assert subset_wnids("imagenet-sketch") is None


def test_imagenet_r_by_folder_name_records_the_subset(tmp_path: Path) -> None:
    wnids = (subset_wnids("imagenet-r") or ())[:3]
    src = generated(tmp_path / "imagenet-r", wnids)
    ds = prepare([src], root=tmp_path / "root")
    assert (ds.name, ds.source, ds.split) == ("imagenet-r", "imagenet-r", "test")
    assert ds.n_images == 6 and ds.n_classes == 3
    assert ds.info["class_subset"] == list(class_subset("imagenet-r") or ())
    assert dataset_class_subset(ds.info) == class_subset("imagenet-r")


def test_imagenet_a_by_its_exact_class_set(tmp_path: Path) -> None:
    """A folder under any name holding exactly the 200 ImageNet-A wnids (and a README) is -A."""
    src = generated(tmp_path / "natural-adv", subset_wnids("imagenet-a") or (), per_class=1)
    (src / "README.txt").write_text("ImageNet-A\n")
    ds = prepare([src], root=tmp_path / "root")
    assert (ds.source, ds.n_classes, len(ds.info["class_subset"])) == ("imagenet-a", 200, 200)


def test_sketch_is_all_1000_classes(tmp_path: Path) -> None:
    wnids = [s.wnid for s in all_synsets()][:4]
    ds = prepare([generated(tmp_path / "sketch", wnids)], root=tmp_path / "root")
    assert (ds.name, ds.source, ds.n_classes) == ("imagenet-sketch", "imagenet-sketch", 4)
    assert "class_subset" not in ds.info and dataset_class_subset(ds.info) is None


def test_a_class_outside_the_subset_is_refused(tmp_path: Path) -> None:
    outside = next(
        s.wnid for s in all_synsets() if s.wnid not in (subset_wnids("imagenet-r") or ())
    )
    src = generated(tmp_path / "imagenet-r", [outside])
    with pytest.raises(DataError, match=f"{outside} is not one of the 200 imagenet-r classes"):
        prepare([src], root=tmp_path / "root")
    result = CliRunner().invoke(
        main, ["data", "prepare", str(src), "--root", str(tmp_path / "root")]
    )
    assert result.exit_code == 3
    assert "not one of the 200 imagenet-r classes" in result.output
    assert "Traceback" not in result.output


def test_forced_format_and_non_wnid_folder(tmp_path: Path) -> None:
    src = generated(tmp_path / "mine", (subset_wnids("imagenet-a") or ())[:2])
    (src / "extra").mkdir()
    result = CliRunner().invoke(
        main,
        ["data", "prepare", str(src), "--format", "imagenet-a", "--root", str(tmp_path / "r")],
    )
    assert result.exit_code == 3, result.output
    assert "class folders are wnids" in result.output
    (src / "extra").rmdir()
    result = CliRunner().invoke(
        main,
        ["data", "prepare", str(src), "--format", "imagenet-a", "--root", str(tmp_path / "r")],
    )
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "r" / "datasets" / "imagenet-a" / "dataset.json").read_text())
    assert info["source"] == "imagenet-a" and len(info["class_subset"]) == 200


def test_a_tampered_class_subset_is_a_data_error() -> None:
    with pytest.raises(DataError, match="class_subset must be"):
        dataset_class_subset({"name": "x", "class_subset": [1, 1]})
    with pytest.raises(DataError, match="class_subset must be"):
        dataset_class_subset({"name": "x", "class_subset": [1000]})


@pytest.mark.realdata
def test_real_photos_in_the_imagenet_r_layout(real_images: Path, tmp_path: Path) -> None:
    src = from_real(tmp_path / "imagenet-r", real_images, subset_wnids("imagenet-r"))
    ds = prepare([src], root=tmp_path / "root")
    assert ds.source == "imagenet-r" and ds.n_images == 39 and ds.n_classes == 39
    assert {r.class_index for r in ds.records} <= set(class_subset("imagenet-r") or ())
