"""Every source format, each built in its exact real layout from the same sample."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from ilsvrc_bench.data import Dataset, prepare
from ilsvrc_bench.data.sources import detect
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import by_wnid


def labels_of(ds: Dataset) -> dict[str, str]:
    return {Path(r.path).name: r.wnid for r in ds.records}


def assert_readable(ds: Dataset) -> None:
    import hashlib

    for r in ds.records:
        assert hashlib.sha256(ds.read_bytes(r)).hexdigest() == r.sha256
        assert r.class_index == by_wnid(r.wnid).class_index


def test_flat_with_devkit_ground_truth(flat_folder, sample_archives, sample_truth, tmp_path):
    ds = prepare([flat_folder, sample_archives[1]], root=tmp_path / "r")
    assert ds.source == "flat"
    assert labels_of(ds) == sample_truth
    assert sum(r.blacklisted for r in ds.records) == 1
    assert all(r.devkit_id is not None for r in ds.records)
    assert_readable(ds)


def test_flat_and_official_hash_the_same(flat_folder, sample_archives, prepared, tmp_path):
    ds = prepare([flat_folder, sample_archives[1]], root=tmp_path / "r")
    assert ds.manifest_sha256 == prepared.manifest_sha256


def test_flat_ground_truth_file_needs_devkit(flat_folder, sample_archives, tmp_path):
    with tarfile.open(sample_archives[1]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("ground_truth.txt"))
        data = tar.extractfile(member).read()  # type: ignore[union-attr]
    gt = tmp_path / "ILSVRC2012_validation_ground_truth.txt"
    gt.write_bytes(data)
    with pytest.raises(DataError, match="devkit"):
        prepare([flat_folder, gt], root=tmp_path / "r")
    (flat_folder / gt.name).write_bytes(data)  # beside the images, found by name
    ds = prepare([flat_folder, sample_archives[1]], root=tmp_path / "r")
    assert ds.n_images == 20


def write_solution(path: Path, truth: dict[str, str]) -> None:
    lines = ["ImageId,PredictionString"]
    for name, wnid in sorted(truth.items(), reverse=True):  # Kaggle's file is not sorted
        lines.append(f"{Path(name).stem},{wnid} 10 20 110 120 {wnid} 5 6 50 60 ")
    path.write_text("\n".join(lines) + "\n")


def test_flat_with_kaggle_solution_csv(flat_folder, sample_truth, tmp_path):
    write_solution(tmp_path / "LOC_val_solution.csv", sample_truth)
    ds = prepare([flat_folder, tmp_path / "LOC_val_solution.csv"], root=tmp_path / "r")
    assert labels_of(ds) == sample_truth


def test_kaggle_tree(sample_archives, sample_truth, tmp_path):
    tree = tmp_path / "imagenet-object-localization-challenge"
    val = tree / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    val.mkdir(parents=True)
    with tarfile.open(sample_archives[0]) as tar:
        tar.extractall(val, filter="data")
    (tree / "ILSVRC" / "Data" / "CLS-LOC" / "train").mkdir()
    write_solution(tree / "LOC_val_solution.csv", sample_truth)
    (tree / "LOC_synset_mapping.txt").write_text("n01440764 tench, Tinca tinca\n")
    assert detect([tree]) == "kaggle"
    ds = prepare([tree], root=tmp_path / "r")
    assert ds.source == "kaggle"
    assert labels_of(ds) == sample_truth
    assert_readable(ds)


def test_caffe_val_txt(flat_folder, sample_truth, tmp_path):
    val_txt = tmp_path / "val.txt"
    val_txt.write_text(
        "".join(f"{n} {by_wnid(w).class_index}\n" for n, w in sorted(sample_truth.items()))
    )
    ds = prepare([flat_folder, val_txt], root=tmp_path / "r")
    assert labels_of(ds) == sample_truth


def test_caffe_val_txt_in_devkit_order_is_refused(
    flat_folder, sample_archives, sample_truth, tmp_path
):
    from ilsvrc_bench.data.sample import sample_devkit_ids

    ids = sample_devkit_ids()
    val_txt = tmp_path / "val.txt"
    val_txt.write_text("".join(f"{n} {ids[w] - 1}\n" for n, w in sorted(sample_truth.items())))
    with pytest.raises(DataError, match="devkit order"):
        prepare([flat_folder, val_txt, sample_archives[1]], root=tmp_path / "r")


def test_imagefolder(flat_folder, sample_truth, tmp_path):
    tree = tmp_path / "val_tree"
    for name, wnid in sample_truth.items():
        (tree / wnid).mkdir(parents=True, exist_ok=True)
        shutil.copy(flat_folder / name, tree / wnid / name)
    assert detect([tree]) == "imagefolder"
    ds = prepare([tree], root=tmp_path / "r")
    assert ds.source == "imagefolder"
    assert labels_of(ds) == sample_truth
    assert ds.records[0].path.startswith("n0")
    assert_readable(ds)


def test_imagefolder_unknown_wnid(flat_folder, tmp_path):
    tree = tmp_path / "val_tree"
    (tree / "n99999999").mkdir(parents=True)
    shutil.copy(next(flat_folder.iterdir()), tree / "n99999999" / "x.JPEG")
    with pytest.raises(DataError, match="n99999999"):
        prepare([tree], root=tmp_path / "r")


def test_imagenetv2_folders_are_integers_not_strings(flat_folder, tmp_path):
    tree = tmp_path / "imagenetv2-matched-frequency-format-val"
    source = sorted(flat_folder.iterdir())
    # 2, 10 and 100 sort differently as strings; each must keep its own integer class.
    for i, cls in enumerate([2, 10, 100, 999]):
        (tree / str(cls)).mkdir(parents=True)
        shutil.copy(source[i], tree / str(cls) / f"{i}abc.jpeg")
    assert detect([tree]) == "imagenetv2"
    ds = prepare([tree], root=tmp_path / "r")
    assert ds.name == "imagenetv2-matched-frequency"
    assert {r.path.split("/")[0]: r.class_index for r in ds.records} == {
        "2": 2, "10": 10, "100": 100, "999": 999,
    }  # fmt: skip
    assert_readable(ds)


def test_hf_parquet_shards(flat_folder, sample_truth, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    repo = tmp_path / "imagenet-1k"
    (repo / "data").mkdir(parents=True)
    names = sorted(sample_truth)
    for shard, chunk in enumerate((names[:12], names[12:])):
        table = pa.table(
            {
                "image": [{"bytes": (flat_folder / n).read_bytes(), "path": n} for n in chunk],
                "label": [by_wnid(sample_truth[n]).class_index for n in chunk],
            }
        )
        pq.write_table(table, repo / "data" / f"validation-{shard:05d}-of-00002.parquet")
    pq.write_table(pa.table({"image": [], "label": pa.array([], pa.int64())}),
                   repo / "data" / "train-00000-of-00001.parquet")  # fmt: skip
    assert detect([repo]) == "hf"
    ds = prepare([repo], root=tmp_path / "r")
    assert ds.source == "hf"
    assert labels_of(ds) == sample_truth
    assert_readable(ds)


def test_label_file_naming_missing_image_prepares_a_subset(flat_folder, sample_truth, tmp_path):
    write_solution(tmp_path / "LOC_val_solution.csv", sample_truth)
    (flat_folder / "ILSVRC2012_val_00000003.JPEG").unlink()
    ds = prepare([flat_folder, tmp_path / "LOC_val_solution.csv"], root=tmp_path / "r")
    assert ds.n_images == 19 and ds.info["is_subset"] and ds.info["n_listed"] == 20
    assert "label file lists 20 images; 19 present: prepared a subset" in ds.info["notes"]


def test_unrecognised_source(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a recognised"):
        prepare([tmp_path / "empty"], root=tmp_path / "r")


def test_hf_name_with_wnid_must_agree_with_label(flat_folder, sample_truth, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = sorted(sample_truth)[0]
    wnid = sample_truth[name]
    stored = name.replace(".JPEG", f"_{wnid}.JPEG")
    image = {"bytes": (flat_folder / name).read_bytes(), "path": stored}
    shard = tmp_path / "validation-00000-of-00001.parquet"
    wrong = (by_wnid(wnid).class_index + 1) % 1000
    pq.write_table(pa.table({"image": [image], "label": [wrong]}), shard)
    with pytest.raises(DataError, match="not in sorted-wnid order"):
        prepare([shard], root=tmp_path / "r")
    pq.write_table(pa.table({"image": [image], "label": [by_wnid(wnid).class_index]}), shard)
    ds = prepare([shard], root=tmp_path / "r")
    assert ds.records[0].path == stored and ds.records[0].wnid == wnid


def test_imagefolder_with_wrong_mapping_is_caught_by_devkit(flat_folder, sample_truth, tmp_path):
    """A seen devkit's ground truth stops an ImageFolder whose classes were assigned wrongly."""
    from ilsvrc_bench.data.devkit import Devkit, save_devkit
    from ilsvrc_bench.data.sample import sample_devkit_ids

    root = tmp_path / "r"
    ids = sample_devkit_ids()
    numbers = {int(n[15:23]): w for n, w in sample_truth.items()}
    truth = tuple(ids[numbers[i]] for i in range(1, len(numbers) + 1))
    save_devkit(Devkit({v: k for k, v in ids.items()}, {}, {}, truth, frozenset()), root)
    tree = tmp_path / "val_tree"
    wnids = sorted(set(sample_truth.values()))
    for name, wnid in sample_truth.items():
        wrong = wnids[(wnids.index(wnid) + 1) % len(wnids)]
        (tree / wrong).mkdir(parents=True, exist_ok=True)
        shutil.copy(flat_folder / name, tree / wrong / name)
    with pytest.raises(DataError, match="disagree with the devkit ground truth"):
        prepare([tree], root=root)


def test_the_cli_offers_every_reader_and_no_other() -> None:
    """`data prepare --format` lists exactly the formats ``data/sources.py`` can read."""
    from ilsvrc_bench.cli.data import SOURCE_FORMATS
    from ilsvrc_bench.data.sources import FORMATS

    assert SOURCE_FORMATS == FORMATS
