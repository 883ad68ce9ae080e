"""Bad input: each gives a one-line DataError naming the file and the problem."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from ilsvrc_bench.data import prepare
from ilsvrc_bench.data.sample import meta_mat_bytes, pack_official
from ilsvrc_bench.errors import DataError, ExitCode

DEVKIT = "ILSVRC2012_devkit_t12.tar.gz"
VAL = "ILSVRC2012_img_val.tar"


@pytest.fixture
def copy(sample_archives, tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for p in (*sample_archives, sample_archives[0].parent / "MD5SUMS"):
        shutil.copy(p, folder / p.name)
    return folder


def one_line(exc: pytest.ExceptionInfo[DataError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert exc.value.exit_code == ExitCode.DATA
    return message


def add(tar: tarfile.TarFile, name: str, data: bytes = b"x", **kw: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in kw.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def test_wrong_md5(copy, tmp_path):
    tar = copy / VAL
    data = bytearray(tar.read_bytes())
    data[5000] ^= 0xFF
    tar.write_bytes(bytes(data))
    with pytest.raises(DataError) as exc:
        prepare([copy], root=tmp_path / "r")
    message = one_line(exc)
    assert VAL in message and "MD5" in message
    assert not (tmp_path / "r" / "datasets" / "ilsvrc2012-val").exists()


def test_md5_override_and_no_verify_are_recorded(copy, tmp_path):
    (copy / "MD5SUMS").unlink()
    with pytest.raises(DataError, match=r"does not match .* \(official\)"):
        prepare([copy], root=tmp_path / "r")  # the official MD5 applies to the official name
    ds = prepare([copy], root=tmp_path / "r", verify=False)
    assert ds.info["verify_skipped"] is True
    assert ds.info["md5_checks"][VAL]["verified"] is False
    from ilsvrc_bench.data.archives import file_md5

    md5 = {VAL: file_md5(copy / VAL), DEVKIT: file_md5(copy / DEVKIT)}
    ds = prepare([copy], root=tmp_path / "r", md5=md5)
    assert ds.info["md5_checks"][VAL] == {
        "md5": md5[VAL],
        "verified": True,
        "expected_from": "--md5",
    }


@pytest.mark.parametrize("name", [VAL, DEVKIT])
def test_truncated_archive(copy, tmp_path, name):
    path = copy / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError) as exc:
        prepare([copy], root=tmp_path / "r", verify=False)
    message = one_line(exc)
    assert name in message and "truncated" in message


@pytest.mark.parametrize(
    ("member", "kw", "problem"),
    [
        ("../escape.JPEG", {}, "'..'"),
        ("/etc/evil.JPEG", {}, "absolute"),
        ("link.JPEG", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "link"),
        (
            "hard.JPEG",
            {"type": tarfile.LNKTYPE, "linkname": "ILSVRC2012_val_00000001.JPEG"},
            "link",
        ),
    ],
)
def test_unsafe_members_are_refused(copy, tmp_path, member, kw, problem):
    with tarfile.open(copy / VAL, "a") as tar:
        add(tar, member, **kw)
    with pytest.raises(DataError) as exc:
        prepare([copy], root=tmp_path / "r", verify=False)
    message = one_line(exc)
    assert VAL in message and member in message and problem in message


def test_safe_extract_refuses_and_writes_nothing(tmp_path):
    from ilsvrc_bench.data.archives import safe_extract

    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        add(tar, "ok.txt")
        add(tar, "sub/../../escape.txt")
    with pytest.raises(DataError, match=r"bad\.tar.*escape\.txt"):
        safe_extract(bad, tmp_path / "out")
    assert not (tmp_path / "out" / "ok.txt").exists()
    assert not (tmp_path / "escape.txt").exists()


def devkit_with(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            add(tar, f"ILSVRC2012_devkit_t12/data/{name}", data)


def gt_lines(copy: Path) -> bytes:
    with tarfile.open(copy / DEVKIT) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("ground_truth.txt"))
        return tar.extractfile(member).read()  # type: ignore[union-attr]


@pytest.mark.parametrize("missing", ["meta.mat", "ILSVRC2012_validation_ground_truth.txt"])
def test_devkit_missing_member(copy, tmp_path, missing):
    members = {
        "meta.mat": meta_mat_bytes(),
        "ILSVRC2012_validation_ground_truth.txt": gt_lines(copy),
    }
    del members[missing]
    devkit_with(copy / DEVKIT, members)
    with pytest.raises(DataError) as exc:
        prepare([copy], root=tmp_path / "r", verify=False)
    message = one_line(exc)
    assert DEVKIT in message and missing in message


def test_ground_truth_longer_than_the_tar_prepares_a_marked_subset(copy, tmp_path):
    gt = gt_lines(copy) + b"1\n"
    devkit_with(
        copy / DEVKIT, {"meta.mat": meta_mat_bytes(), "ILSVRC2012_validation_ground_truth.txt": gt}
    )
    ds = prepare([copy], root=tmp_path / "r", verify=False)
    assert ds.name == "ilsvrc2012-val-subset-20"
    assert ds.info["is_subset"] and not ds.info["complete"] and ds.info["n_listed"] == 21
    assert "label file lists 21 images; 20 present: prepared a subset" in ds.info["notes"]


def test_ground_truth_shorter_than_the_tar(copy, tmp_path):
    gt = b"\n".join(gt_lines(copy).split(b"\n")[:19]) + b"\n"
    devkit_with(
        copy / DEVKIT, {"meta.mat": meta_mat_bytes(), "ILSVRC2012_validation_ground_truth.txt": gt}
    )
    with pytest.raises(DataError, match=r"ILSVRC2012_val_00000020.JPEG.*1\.\.19"):
        prepare([copy], root=tmp_path / "r", verify=False)


def test_unknown_wnid_in_meta(copy, tmp_path):
    from scipy.io import loadmat, savemat

    mat = loadmat(io.BytesIO(meta_mat_bytes()))
    mat["synsets"][0, 0]["WNID"] = "n99999999"
    buf = io.BytesIO()
    savemat(buf, {"synsets": mat["synsets"]})
    gt = gt_lines(copy)
    devkit_with(
        copy / DEVKIT, {"meta.mat": buf.getvalue(), "ILSVRC2012_validation_ground_truth.txt": gt}
    )
    with pytest.raises(DataError, match="unknown wnid 'n99999999'"):
        prepare([copy], root=tmp_path / "r", verify=False)


def test_corrupt_and_empty_jpegs_are_recorded(sample_archives, tmp_path):
    from ilsvrc_bench.data.dataset import open_dataset

    with tarfile.open(sample_archives[0]) as tar:
        good = tar.extractfile("ILSVRC2012_val_00000001.JPEG").read()  # type: ignore[union-attr]
    images = [(good, "n01440764"), (b"", "n01443537"), (b"GIF89a....", "n01484850")]
    pack_official(tmp_path / "src", images)
    ds = prepare([tmp_path / "src"], root=tmp_path / "r")
    assert ds.problems == [
        {"path": "ILSVRC2012_val_00000002.JPEG", "problem": "zero-byte file"},
        {"path": "ILSVRC2012_val_00000003.JPEG", "problem": "not a JPEG file"},
    ]
    assert open_dataset(ds.path).problems == ds.problems


def test_second_prepare_is_locked_out(copy, tmp_path):
    from filelock import FileLock

    root = tmp_path / "r"
    root.mkdir()
    with FileLock(root / ".prepare.lock"), pytest.raises(DataError, match="another"):
        prepare([copy], root=root)
    assert prepare([copy], root=root).n_images == 20


def test_missing_source(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        prepare([tmp_path / "nope.tar"], root=tmp_path / "r")


def test_disk_full_while_unpacking_parquet(tmp_path, monkeypatch):
    import errno

    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = tmp_path / "validation-00000-of-00001.parquet"
    image = {"bytes": b"\xff\xd8\xff" + b"0" * 100, "path": "ILSVRC2012_val_00000001.JPEG"}
    pq.write_table(pa.table({"image": [image], "label": [0]}), shard)

    def full(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(DataError) as exc:
        prepare([shard], root=tmp_path / "r")
    message = one_line(exc)
    assert "ILSVRC2012_val_00000001.JPEG" in message and "No space left" in message
    assert not list((tmp_path / "r" / "datasets").iterdir())  # no half-written dataset
