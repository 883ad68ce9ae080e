"""The hostile-input table: one row per bad input, fault or flag, with the exit code it must give.

``docs/reliability.md`` carries this table (``python -m tests.hostile.cases`` prints it; a test
keeps the two equal). Each case builds its inputs in a sandbox (``env.Env``) and returns the
command line to run.
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from ilsvrc_bench.data.scan import DEVKIT_TGZ, MD5SUMS, VAL_TAR
from tests.hostile.env import Env, tar_with

Setup = Callable[[Env], list[str]]
Post = Callable[[Env, Result], None]

TINY = "tests.engine.helpers:tiny"
SMALL = ["--resize", "40", "--crop", "32", "--workers", "0"]


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    what: str  # the input, as the docs table says it
    code: int
    setup: Setup
    expect: str = ""  # a phrase the error line must hold (case-insensitive)
    post: Post | None = None


CASES: list[Case] = []


def case(
    id: str, area: str, what: str, code: int, expect: str = "", post: Post | None = None
) -> Callable[[Setup], Setup]:
    def register(setup: Setup) -> Setup:
        CASES.append(Case(id, area, what, code, setup, expect, post))
        return setup

    return register


# -- helpers ----------------------------------------------------------------------------------


def prep(env: Env, *sources: Path | str, extra: tuple[str, ...] = ()) -> list[str]:
    return ["data", "prepare", *map(str, sources), "--root", str(env.root), *extra]


def ev(env: Env, model: str, *extra: str, data: str | None = None) -> list[str]:
    name = data or env.prepared()
    return ["eval", "-m", model, "--root", str(env.root), "--data", name,
            "--runs-dir", str(env.runs), *SMALL, *extra]  # fmt: skip


def val_txt(env: Env, line: Callable[[str, int], str], *, header: str = "") -> str:
    rows = [line(name, index) for name, index in sorted(env.truth().items())]
    return header + "".join(r + "\n" for r in rows)


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width x height`` pixels: enough for Pillow's bomb check at open."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + \
        chunk(b"IEND", b"")  # fmt: skip


def dataset_info(env: Env, name: str) -> dict[str, object]:
    import json

    data: dict[str, object] = json.loads(
        (env.root / "datasets" / name / "dataset.json").read_text(encoding="utf-8")
    )
    return data


def val_member(env: Env, number: int = 1) -> bytes:
    import tarfile

    with tarfile.open(env.sample_dir / VAL_TAR) as tar:
        fobj = tar.extractfile(f"ILSVRC2012_val_{number:08d}.JPEG")
        assert fobj is not None
        return fobj.read()


def official_with(env: Env, members: dict[str, bytes]) -> Path:
    """A val tar with ``members`` plus the sample's devkit, with no MD5SUMS."""
    folder = env.src / "custom"
    tar_with(folder / VAL_TAR, members)
    shutil.copy(env.sample_dir / DEVKIT_TGZ, folder / DEVKIT_TGZ)
    return folder


def devkit_with(
    env: Env, members: dict[str, bytes], *, claims: dict[str, int] | None = None
) -> Path:
    """The sample val tar plus a devkit of ``members``; ``claims`` gives a member a header that
    claims that many bytes (with the archive cut short after it, as a bomb's header would be)."""
    import gzip
    import io
    import tarfile

    folder = env.src / "kit"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(env.sample_dir / VAL_TAR, folder / VAL_TAR)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"ILSVRC2012_devkit_t12/data/{name}")
            if claims and name in claims:
                info.size = claims[name]
                buf.write(info.tobuf(tarfile.GNU_FORMAT) + data)
                break
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (folder / DEVKIT_TGZ).write_bytes(gzip.compress(buf.getvalue()))
    return folder


def devkit_members(env: Env) -> dict[str, bytes]:
    import tarfile

    out = {}
    with tarfile.open(env.sample_dir / DEVKIT_TGZ) as tar:
        for member in tar.getmembers():
            fobj = tar.extractfile(member)
            if fobj is not None and "/data/" in member.name:
                out[member.name.rsplit("/", 1)[-1]] = fobj.read()
    return out


def no_file(*parts: str) -> Post:
    def check(env: Env, result: Result) -> None:
        target = env.base.joinpath(*parts)
        assert not target.exists(), f"{target} should not exist"

    return check


def in_output(text: str) -> Post:
    def check(env: Env, result: Result) -> None:
        assert text in result.stdout + result.stderr, result.stdout + result.stderr

    return check


# -- archives ---------------------------------------------------------------------------------


@case("tar-truncated", "archives", "val tar cut short", 3, "truncated")
def _(env: Env) -> list[str]:
    folder = env.official(sums=False)
    data = (folder / VAL_TAR).read_bytes()
    (folder / VAL_TAR).write_bytes(data[: len(data) // 2 + 100])
    return prep(env, folder, extra=("--no-verify",))


@case("tar-wrong-md5", "archives", "val tar that does not match MD5SUMS", 3, "MD5")
def _(env: Env) -> list[str]:
    folder = env.official()
    data = bytearray((folder / VAL_TAR).read_bytes())
    data[5000] ^= 0xFF
    (folder / VAL_TAR).write_bytes(bytes(data))
    return prep(env, folder)


@case(
    "tar-official-name-wrong-size",
    "archives",
    "file named like the official val tar with another size",
    3,
    "official file has",
)
def _(env: Env) -> list[str]:
    folder = env.official()  # MD5SUMS lists only the devkit, so the official size applies
    sums = (folder / MD5SUMS).read_text(encoding="utf-8").splitlines()
    (folder / MD5SUMS).write_text("".join(s + "\n" for s in sums if VAL_TAR not in s))
    return prep(env, folder)


@case("tar-absolute-member", "archives", "val tar member with an absolute path", 3, "absolute")
def _(env: Env) -> list[str]:
    return prep(env, official_with(env, {"/etc/evil.JPEG": b"x"}), extra=("--no-verify",))


@case("tar-dotdot-member", "archives", "val tar member with a '..' path", 3, "'..'")
def _(env: Env) -> list[str]:
    return prep(env, official_with(env, {"../evil.JPEG": b"x"}), extra=("--no-verify",))


@case("tar-symlink-member", "archives", "val tar member that is a symbolic link", 3, "link")
def _(env: Env) -> list[str]:
    import tarfile

    folder = official_with(env, {"ILSVRC2012_val_00000001.JPEG": val_member(env)})
    with tarfile.open(folder / VAL_TAR, "a") as tar:
        info = tarfile.TarInfo("ILSVRC2012_val_00000002.JPEG")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    return prep(env, folder, extra=("--no-verify",))


@case(
    "tar-member-in-subfolder",
    "archives",
    "official val tar with an image in a sub-folder",
    3,
    "sub-folder",
)
def _(env: Env) -> list[str]:
    members = {"ILSVRC2012_val_00000001.JPEG": val_member(env, 1),
               "extra/ILSVRC2012_val_00000002.JPEG": val_member(env, 2)}  # fmt: skip
    return prep(env, official_with(env, members), extra=("--no-verify",))


@case(
    "tar-val-number-twice",
    "archives",
    "official val tar holding one val number under two names",
    3,
    "both val image 1",
)
def _(env: Env) -> list[str]:
    members = {"ILSVRC2012_val_00000001.JPEG": val_member(env, 1),
               "ILSVRC2012_val_00000001.jpg": val_member(env, 2)}  # fmt: skip
    return prep(env, official_with(env, members), extra=("--no-verify",))


@case(
    "tar-same-name-twice",
    "archives",
    "val tar holding the same member name twice",
    3,
    "both val image 1",
)
def _(env: Env) -> list[str]:
    import tarfile

    folder = official_with(env, {"ILSVRC2012_val_00000001.JPEG": val_member(env, 1)})
    with tarfile.open(folder / VAL_TAR, "a") as tar:
        import io

        data = val_member(env, 2)
        info = tarfile.TarInfo("ILSVRC2012_val_00000001.JPEG")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return prep(env, folder, extra=("--no-verify",))


@case("devkit-no-meta", "archives", "devkit without meta.mat", 3, "meta.mat")
def _(env: Env) -> list[str]:
    members = devkit_members(env)
    del members["meta.mat"]
    return prep(env, devkit_with(env, members), extra=("--no-verify",))


@case("devkit-not-gzip", "archives", "devkit .tar.gz that is not gzip", 3, "corrupt")
def _(env: Env) -> list[str]:
    folder = env.official(sums=False)
    (folder / DEVKIT_TGZ).write_bytes(b"this is not a gzip file" * 50)
    return prep(env, folder, extra=("--no-verify",))


@case(
    "devkit-meta-bomb",
    "archives",
    "devkit whose meta.mat inflates to 1 GB (a compression bomb)",
    3,
    "inflates",
)
def _(env: Env) -> list[str]:
    members = {"meta.mat": b"\0" * 4096}
    return prep(
        env, devkit_with(env, members, claims={"meta.mat": 1 << 30}), extra=("--no-verify",)
    )


@case(
    "devkit-bad-ground-truth",
    "archives",
    "devkit ground truth naming devkit id 1001",
    3,
    "outside 1..1000",
)
def _(env: Env) -> list[str]:
    members = devkit_members(env)
    members["ILSVRC2012_validation_ground_truth.txt"] += b"1001\n"
    return prep(env, devkit_with(env, members), extra=("--no-verify",))


@case(
    "devkit-short-ground-truth",
    "archives",
    "devkit ground truth shorter than the val tar",
    3,
    "ILSVRC2012_val_00000020",
)
def _(env: Env) -> list[str]:
    members = devkit_members(env)
    lines = members["ILSVRC2012_validation_ground_truth.txt"].splitlines()
    members["ILSVRC2012_validation_ground_truth.txt"] = b"\n".join(lines[:19]) + b"\n"
    return prep(env, devkit_with(env, members), extra=("--no-verify",))


@case("source-missing", "archives", "a source path that does not exist", 3, "no such file")
def _(env: Env) -> list[str]:
    return prep(env, env.src / "nope.tar")


@case("source-unrecognised", "archives", "an empty folder as the source", 3, "not a recognised")
def _(env: Env) -> list[str]:
    (env.src / "empty").mkdir(parents=True)
    return prep(env, env.src / "empty")


@case(
    "subset-of-official-tar",
    "archives",
    "val tar holding fewer images than the devkit lists",
    0,
    post=lambda env, r: _assert_subset(env, "ilsvrc2012-val-subset-1", 20),
)
def _(env: Env) -> list[str]:
    folder = official_with(env, {"ILSVRC2012_val_00000003.JPEG": val_member(env, 3)})
    return prep(env, folder, extra=("--no-verify",))


def _assert_subset(env: Env, name: str, listed: int) -> None:
    info = dataset_info(env, name)
    assert info["is_subset"] is True and info["complete"] is False
    assert info["n_listed"] == listed


# -- label files ------------------------------------------------------------------------------


def _flat_prepare(env: Env, text: str | bytes, *, name: str = "val.txt", devkit: bool = False,
                  extra: tuple[str, ...] = ()) -> list[str]:  # fmt: skip
    label = env.write(name, text)
    sources: list[Path] = [env.flat(), label, *([env.devkit()] if devkit else [])]
    return prep(env, *sources, extra=("--name", "flat", *extra))


def _labels_right(env: Env, result: Result) -> None:
    from ilsvrc_bench.data import open_dataset

    ds = open_dataset("flat", root=env.root)
    truth = env.truth()
    assert {Path(r.path).name: r.class_index for r in ds.records} == truth


@case(
    "labels-utf16-bom", "labels", "val.txt in UTF-16 with a byte-order mark", 0, post=_labels_right
)
def _(env: Env) -> list[str]:
    return _flat_prepare(env, val_txt(env, lambda n, i: f"{n} {i}").encode("utf-16"))


@case(
    "labels-utf16-no-bom",
    "labels",
    "val.txt in UTF-16LE without a byte-order mark",
    0,
    post=_labels_right,
)
def _(env: Env) -> list[str]:
    return _flat_prepare(env, val_txt(env, lambda n, i: f"{n} {i}").encode("utf-16-le"))


@case("labels-utf8-bom", "labels", "val.txt in UTF-8 with a byte-order mark", 0, post=_labels_right)
def _(env: Env) -> list[str]:
    return _flat_prepare(env, val_txt(env, lambda n, i: f"{n} {i}").encode("utf-8-sig"))


@case(
    "labels-header-row", "labels", "label list with a header row 'Id,Label'", 0, post=_labels_right
)
def _(env: Env) -> list[str]:
    return _flat_prepare(
        env, val_txt(env, lambda n, i: f"{n},{i}", header="Id,Label\n"), name="labels.csv"
    )


@case(
    "labels-comma-path-prefix",
    "labels",
    "comma list with a path prefix './data/ILSVRC2012_val_00000347.JPEG, 65'",
    0,
    post=_labels_right,
)
def _(env: Env) -> list[str]:
    return _flat_prepare(env, val_txt(env, lambda n, i: f"./data/{n}, {i}"), name="labels.csv")


@case(
    "labels-crlf-tabs", "labels", "tab-separated list with Windows line ends", 0, post=_labels_right
)
def _(env: Env) -> list[str]:
    return _flat_prepare(env, val_txt(env, lambda n, i: f"{n}\t{i}\r").encode())


@case("labels-wnids", "labels", "label list naming wnids instead of indices", 0, post=_labels_right)
def _(env: Env) -> list[str]:
    from ilsvrc_bench.synsets import all_synsets

    wnids = [s.wnid for s in all_synsets()]
    return _flat_prepare(env, val_txt(env, lambda n, i: f"{n} {wnids[i]}"))


@case("labels-three-columns", "labels", "label list with three columns", 3, "line 3 has 3 columns")
def _(env: Env) -> list[str]:
    text = val_txt(env, lambda n, i: f"{n} {i}").splitlines()
    text[2] += " extra"
    return _flat_prepare(env, "\n".join(text) + "\n")


@case("labels-not-a-label", "labels", "label list whose label is a word", 3, "line 5")
def _(env: Env) -> list[str]:
    text = val_txt(env, lambda n, i: f"{n} {i}").splitlines()
    text[4] = text[4].split()[0] + " cat"
    return _flat_prepare(env, "\n".join(text) + "\n")


@case(
    "labels-conflicting-duplicate",
    "labels",
    "the same image listed twice with different labels",
    3,
    "lines 1 and 21",
)
def _(env: Env) -> list[str]:
    text = val_txt(env, lambda n, i: f"{n} {i}")
    first = text.splitlines()[0].split()[0]
    return _flat_prepare(env, text + f"{first} 999\n")


@case(
    "labels-identical-duplicate",
    "labels",
    "the same image listed twice with the same label",
    0,
    post=lambda env, r: _has_note(env, "listed twice"),
)
def _(env: Env) -> list[str]:
    text = val_txt(env, lambda n, i: f"{n} {i}")
    return _flat_prepare(env, text + text.splitlines()[0] + "\n")


def _has_note(env: Env, text: str, name: str = "flat") -> None:
    notes = dataset_info(env, name)["notes"]
    assert isinstance(notes, list) and any(text in n for n in notes), notes


@case(
    "labels-kaggle-conflict",
    "labels",
    "Kaggle LOC_val_solution.csv naming an image twice with different classes",
    3,
    "different labels",
)
def _(env: Env) -> list[str]:
    from ilsvrc_bench.synsets import all_synsets

    wnids = [s.wnid for s in all_synsets()]
    rows = [f"{Path(n).stem},{wnids[i]} 1 2 3 4" for n, i in sorted(env.truth().items())]
    rows.append(rows[0].split(",")[0] + f",{wnids[999]} 1 2 3 4")
    return _flat_prepare(env, "ImageId,PredictionString\n" + "\n".join(rows) + "\n",
                         name="LOC_val_solution.csv")  # fmt: skip


@case(
    "labels-kaggle-bad-wnid", "labels", "Kaggle solution whose class is not a wnid", 3, "not a wnid"
)
def _(env: Env) -> list[str]:
    rows = [f"{Path(n).stem},dog 1 2 3 4" for n in sorted(env.truth())]
    return _flat_prepare(env, "ImageId,PredictionString\n" + "\n".join(rows) + "\n",
                         name="LOC_val_solution.csv")  # fmt: skip


@case(
    "labels-1based-1000",
    "labels",
    "1-based label list (1..1000, the 1001-class convention)",
    3,
    "--label-offset -1",
)
def _(env: Env) -> list[str]:
    text = val_txt(env, lambda n, i: f"{n} {i + 1}").splitlines()
    text[0] = text[0].split()[0] + " 1000"
    return _flat_prepare(env, "\n".join(text) + "\n")


@case(
    "labels-1based-subset",
    "labels",
    "1-based labels on a subset without class 1000, caught against the devkit",
    3,
    "--label-offset -1",
)
def _(env: Env) -> list[str]:
    return _flat_prepare(env, val_txt(env, lambda n, i: f"{n} {i + 1}"), devkit=True)


@case(
    "labels-1based-offset",
    "labels",
    "1-based labels prepared with --label-offset -1",
    0,
    post=_labels_right,
)
def _(env: Env) -> list[str]:
    text = val_txt(env, lambda n, i: f"{n} {i + 1}")
    return _flat_prepare(env, text, devkit=True, extra=("--label-offset", "-1"))


@case(
    "labels-devkit-order",
    "labels",
    "integer labels in devkit order (ILSVRC2012_ID - 1)",
    3,
    "devkit order",
)
def _(env: Env) -> list[str]:
    from ilsvrc_bench.data.devkit import read_devkit

    devkit = read_devkit(env.sample_dir / DEVKIT_TGZ)
    ids = devkit.ground_truth
    text = "".join(f"ILSVRC2012_val_{n:08d}.JPEG {ids[n - 1] - 1}\n" for n in range(1, 21))
    return _flat_prepare(env, text, devkit=True)


@case("labels-binary", "labels", "a binary file given as the label file", 3, "binary")
def _(env: Env) -> list[str]:
    return _flat_prepare(env, b"\x00\x01\x02\xff" * 100 + b"\x00" * 100, name="labels.txt")


@case(
    "labels-bad-utf8",
    "labels",
    "label list with bytes that are not UTF-8",
    3,
    "line 2 is not UTF-8",
)
def _(env: Env) -> list[str]:
    text = val_txt(env, lambda n, i: f"{n} {i}").encode()
    first, rest = text.split(b"\n", 1)
    return _flat_prepare(env, first + b"\n\xe9" + rest)


@case(
    "labels-other-images",
    "labels",
    "label list naming none of the images present",
    3,
    "none of them",
)
def _(env: Env) -> list[str]:
    text = "".join(f"ILSVRC2012_val_{n:08d}.JPEG 3\n" for n in range(100, 150))
    return _flat_prepare(env, text)


@case(
    "labels-image-unlabelled",
    "labels",
    "an image in the folder the label list does not name",
    3,
    "no label for",
)
def _(env: Env) -> list[str]:
    text = "".join(val_txt(env, lambda n, i: f"{n} {i}").splitlines(keepends=True)[1:])
    return _flat_prepare(env, text)


@case(
    "labels-subset-of-list",
    "labels",
    "a folder of some val images with a label list for more",
    0,
    post=lambda env, r: _has_note(env, "label file lists 20 images; 15 present: prepared a subset"),
)
def _(env: Env) -> list[str]:
    args = _flat_prepare(env, val_txt(env, lambda n, i: f"{n} {i}"))
    for n in range(16, 21):
        (env.flat() / f"ILSVRC2012_val_{n:08d}.JPEG").unlink()
    return args


@case(
    "labels-ground-truth-junk",
    "labels",
    "devkit ground truth file with a two-column line",
    3,
    "one devkit id per line",
)
def _(env: Env) -> list[str]:
    text = devkit_members(env)["ILSVRC2012_validation_ground_truth.txt"].decode().splitlines()
    text[3] += " 7"
    return _flat_prepare(env, "\n".join(text) + "\n", name="ILSVRC2012_validation_ground_truth.txt",
                         devkit=True)  # fmt: skip


@case("md5sums-utf16", "labels", "MD5SUMS in UTF-16 with a byte-order mark", 0)
def _(env: Env) -> list[str]:
    folder = env.official()
    text = (folder / MD5SUMS).read_text(encoding="utf-8")
    (folder / MD5SUMS).write_bytes(text.encode("utf-16"))
    return prep(env, folder, extra=("--name", "s"))


@case("md5sums-malformed", "labels", "MD5SUMS with a line that is not 'MD5  FILE'", 3, "line 3")
def _(env: Env) -> list[str]:
    folder = env.official()
    with (folder / MD5SUMS).open("a", encoding="utf-8") as fobj:
        fobj.write("not a checksum line\n")
    return prep(env, folder)


# -- images -----------------------------------------------------------------------------------


@case(
    "verify-bomb",
    "images",
    "verify --decode on a decompression-bomb image",
    3,
    "decode",
    post=in_output("decompression bomb"),
)
def _(env: Env) -> list[str]:
    from ilsvrc_bench.data import prepare

    folder = env.flat()
    (folder / "ILSVRC2012_val_00000004.JPEG").write_bytes(png_header(20000, 20000))
    prepare([folder, env.devkit()], root=env.root, name="flat")
    return ["data", "verify", "--decode", "--root", str(env.root), "--data", "flat"]


@case(
    "verify-corrupt-jpeg",
    "images",
    "verify --decode on a JPEG with garbage after its header",
    3,
    "decode",
)
def _(env: Env) -> list[str]:
    from ilsvrc_bench.data import prepare

    folder = env.flat()
    (folder / "ILSVRC2012_val_00000004.JPEG").write_bytes(b"\xff\xd8\xff\xe0" + b"\x13" * 500)
    prepare([folder, env.devkit()], root=env.root, name="flat")
    return ["data", "verify", "--decode", "--root", str(env.root), "--data", "flat"]


@case("verify-image-changed", "images", "verify after an image's bytes changed", 3, "hash")
def _(env: Env) -> list[str]:
    folder = env.prepared_flat()
    target = folder / "ILSVRC2012_val_00000002.JPEG"
    target.write_bytes(b"\x00" + target.read_bytes()[1:])
    return ["data", "verify", "--root", str(env.root), "--data", "flat"]


@case("verify-image-missing", "images", "verify after an image was deleted", 3, "missing")
def _(env: Env) -> list[str]:
    folder = env.prepared_flat()
    (folder / "ILSVRC2012_val_00000002.JPEG").unlink()
    return ["data", "verify", "--root", str(env.root), "--data", "flat"]


@case(
    "prepare-empty-image",
    "images",
    "a zero-byte image in the folder (recorded, warned)",
    0,
    post=in_output("not usable JPEGs"),
)
def _(env: Env) -> list[str]:
    (env.flat() / "ILSVRC2012_val_00000005.JPEG").write_bytes(b"")
    return prep(env, env.flat(), env.devkit())


@case("eval-missing-dataset", "images", "eval with no prepared dataset", 3, "no prepared data")
def _(env: Env) -> list[str]:
    return ["eval", "-m", TINY, "--root", str(env.root), *SMALL]


@case(
    "info-missing-dataset",
    "images",
    "data info naming a dataset that does not exist",
    3,
    "no prepared data",
)
def _(env: Env) -> list[str]:
    return ["data", "info", "--root", str(env.root), "--data", "nothing-here"]


# -- weights and models -----------------------------------------------------------------------


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch pwned",))


@case("weights-garbage", "weights", "a .pth file of random bytes", 4, "weights")
def _(env: Env) -> list[str]:
    import random

    return ev(
        env, "squeezenet1_1", "--weights", str(env.write("w.pth", random.Random(0).randbytes(2048)))
    )


@case(
    "weights-garbage-unpickler",
    "weights",
    "a .pth of random bytes that trips the unpickler (IndexError)",
    4,
    "not a torch file",
)
def _(env: Env) -> list[str]:
    import random

    return ev(
        env, "squeezenet1_1", "--weights", str(env.write("w.pth", random.Random(2).randbytes(2048)))
    )


@case("weights-empty", "weights", "an empty .pth file", 4, "weights")
def _(env: Env) -> list[str]:
    return ev(env, "squeezenet1_1", "--weights", str(env.write("w.pth", b"")))


@case(
    "weights-malicious-pickle",
    "weights",
    "a .pth pickle that would run a shell command",
    4,
    "weights",
    post=no_file("cwd", "pwned"),
)
def _(env: Env) -> list[str]:
    return ev(env, "squeezenet1_1", "--weights", str(env.write("w.pth", pickle.dumps(_Evil()))))


@case("weights-wrong-architecture", "weights", "a state dict for another architecture", 4, "")
def _(env: Env) -> list[str]:
    import torch

    path = env.src / "w.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    return ev(env, "squeezenet1_1", "--weights", str(path))


@case("weights-missing-file", "weights", "--weights naming a file that does not exist", 4, "")
def _(env: Env) -> list[str]:
    return ev(env, "squeezenet1_1", "--weights", str(env.src / "absent.pth"))


@case("model-unknown", "models", "a model name nobody registered", 4, "")
def _(env: Env) -> list[str]:
    return ev(env, "no_such_model_xyz")


@case(
    "model-factory-module-missing",
    "models",
    "a factory 'module:attr' whose module is absent",
    4,
    "",
)
def _(env: Env) -> list[str]:
    return ev(env, "no_such_pkg.models:build")


@case(
    "model-factory-attr-missing",
    "models",
    "a factory 'module:attr' whose attribute is absent",
    4,
    "",
)
def _(env: Env) -> list[str]:
    return ev(env, "tests.engine.helpers:no_such_factory")


@case("model-onnx-garbage", "models", "a .onnx file of random bytes", 4, "")
def _(env: Env) -> list[str]:
    return ev(env, str(env.write("m.onnx", os.urandom(1024))))


@case("model-ten-outputs", "models", "a model with 10 outputs instead of 1000", 4, "")
def _(env: Env) -> list[str]:
    return ev(env, "tests.engine.helpers:ten_outputs")


@case("model-sys-exit-factory", "models", "a factory that calls sys.exit(3)", 4, "sys.exit")
def _(env: Env) -> list[str]:
    return ev(env, "tests.models.exiting:exits_in_factory")


@case("model-sys-exit-forward", "models", "a model whose forward calls sys.exit", 4, "sys.exit")
def _(env: Env) -> list[str]:
    return ev(env, "tests.models.exiting:exits_in_forward")


@case(
    "model-sys-exit-import",
    "models",
    "a factory whose module calls sys.exit when imported",
    4,
    "sys.exit",
)
def _(env: Env) -> list[str]:
    return ev(env, "tests.models.exiting_on_import:build")


@case("model-scheme-misspelt", "models", "-m tim:resnet50 (a misspelt scheme)", 4, "'timm'")
def _(env: Env) -> list[str]:
    return ev(env, "tim:resnet50")


@case("model-tflite-garbage", "models", "a .tflite file of random bytes", 4, "tflite")
def _(env: Env) -> list[str]:
    return ev(env, str(env.write("m.tflite", os.urandom(1024))))


@case("flags-mean-two-numbers", "flags", "--mean 0.5,0.5 (two numbers)", 2, "--mean")
def _(env: Env) -> list[str]:
    return ev(env, "tests.engine.helpers:tiny", "--mean", "0.5,0.5")


@case(
    "flags-central-fraction-10crop",
    "flags",
    "--central-fraction with --protocol 10crop",
    2,
    "central-fraction",
)
def _(env: Env) -> list[str]:
    return ev(
        env, "tests.engine.helpers:tiny", "--central-fraction", "0.875", "--protocol", "10crop"
    )


@case("model-ctrl-c", "faults", "Ctrl-C during an evaluation", 130, "interrupted")
def _(env: Env) -> list[str]:
    return ev(env, "tests.engine.helpers:interrupt_after", "--batch-size", "4")


# -- flags ------------------------------------------------------------------------------------


@case("name-path", "flags", "data prepare --name ../escape", 2, "dataset name")
def _(env: Env) -> list[str]:
    return prep(env, env.official(), extra=("--name", "../escape"))


@case("name-space", "flags", "data prepare --name 'a b'", 2, "dataset name")
def _(env: Env) -> list[str]:
    return prep(env, env.official(), extra=("--name", "a b"))


@case("name-hidden", "flags", "data prepare --name .hidden", 2, "dataset name")
def _(env: Env) -> list[str]:
    return prep(env, env.official(), extra=("--name", ".hidden"))


@case(
    "name-default-on-subset",
    "flags",
    "data prepare --name ilsvrc2012-val on 20 images",
    2,
    "complete ILSVRC2012 val",
)
def _(env: Env) -> list[str]:
    return prep(env, env.official(), extra=("--name", "ilsvrc2012-val"))


@case("sample-name-slash", "flags", "data sample --name a/b", 2, "dataset name")
def _(env: Env) -> list[str]:
    return ["data", "sample", "--root", str(env.root), "--name", "a/b"]


@case("download-name-empty", "flags", "data download --name ''", 2, "dataset name")
def _(env: Env) -> list[str]:
    return ["data", "download", "--root", str(env.root), "--name", ""]


@case("sample-classes-0", "flags", "data sample --classes 0", 2, "--classes")
def _(env: Env) -> list[str]:
    return ["data", "sample", "--root", str(env.root), "--classes", "0"]


@case("sample-classes-1001", "flags", "data sample --classes 1001", 2, "--classes")
def _(env: Env) -> list[str]:
    return ["data", "sample", "--root", str(env.root), "--classes", "1001"]


@case("sample-per-class-0", "flags", "data sample --per-class 0", 2, "--per-class")
def _(env: Env) -> list[str]:
    return ["data", "sample", "--root", str(env.root), "--per-class", "0"]


@case("label-offset-range", "flags", "data prepare --label-offset 5", 2, "--label-offset")
def _(env: Env) -> list[str]:
    return prep(env, env.official(), extra=("--label-offset", "5"))


@case("format-unknown", "flags", "data prepare --format zip", 2, "--format")
def _(env: Env) -> list[str]:
    return prep(env, env.official(), extra=("--format", "zip"))


@case("md5-not-hex", "flags", "data prepare --md5 NAME=nothex", 2, "32 hex digits")
def _(env: Env) -> list[str]:
    return prep(env, env.official(), extra=("--md5", f"{VAL_TAR}=nothex"))


@case(
    "resize-below-crop-center",
    "flags",
    "eval --resize 30 --crop 32 (centre protocol)",
    2,
    "resize_size >= crop_size",
)
def _(env: Env) -> list[str]:
    return [*ev(env, TINY), "--resize", "30"]


@case(
    "resize-below-crop-10crop",
    "flags",
    "eval --resize 30 --crop 32 --protocol 10crop",
    2,
    "resize_size >= crop_size",
)
def _(env: Env) -> list[str]:
    return [*ev(env, TINY), "--resize", "30", "--protocol", "10crop"]


@case("batch-size-0", "flags", "eval --batch-size 0", 2, "--batch-size")
def _(env: Env) -> list[str]:
    return ev(env, TINY, "--batch-size", "0")


@case("protocol-unknown", "flags", "eval --protocol 5crop", 2, "--protocol")
def _(env: Env) -> list[str]:
    return ev(env, TINY, "--protocol", "5crop")


@case("root-is-file", "flags", "--root naming a file", 2, "--root")
def _(env: Env) -> list[str]:
    return ["data", "info", "--root", str(env.write("afile", "x"))]


@case("subcommand-unknown", "flags", "an unknown subcommand", 2, "no such command")
def _(env: Env) -> list[str]:
    return ["frobnicate"]


@case("info-format-unknown", "flags", "data info --format yaml", 2, "--format")
def _(env: Env) -> list[str]:
    return ["data", "info", "--root", str(env.root), "--format", "yaml"]


# -- run records ------------------------------------------------------------------------------


@case("check-run-missing", "runs", "check naming a run that does not exist", 2, "")
def _(env: Env) -> list[str]:
    return ["check", "--baseline", "nope-1", "--candidate", "nope-2", "--runs-dir", str(env.runs)]


@case("report-run-missing", "runs", "report naming a run that does not exist", 2, "")
def _(env: Env) -> list[str]:
    return ["report", "no-such-run", "--runs-dir", str(env.runs)]


# -- downloads --------------------------------------------------------------------------------


def _download(env: Env, path: str, *extra: str) -> list[str]:
    return ["data", "download", "--mirror", f"{env.server_url}/{path}", "--root", str(env.root),
            "--retries", "0", *extra]  # fmt: skip


@case("download-404", "downloads", "a mirror without the files (HTTP 404)", 3, "404")
def _(env: Env) -> list[str]:
    return _download(env, "status/404")


@case("download-401", "downloads", "image-net.org without a session (HTTP 401)", 3, "account")
def _(env: Env) -> list[str]:
    return _download(env, "status/401")


@case("download-refused", "downloads", "a mirror that refuses connections", 3, "download failed")
def _(env: Env) -> list[str]:
    return ["data", "download", "--mirror", "http://127.0.0.1:9/", "--root", str(env.root),
            "--retries", "0"]  # fmt: skip


@case(
    "download-cut-no-verify",
    "downloads",
    "--no-verify download cut short by a server that sends no length",
    3,
    "cannot be known complete",
    post=no_file("root", "downloads", DEVKIT_TGZ),
)
def _(env: Env) -> list[str]:
    return _download(env, "nolen", "--no-verify")


@case(
    "download-wrong-md5",
    "downloads",
    "a download whose MD5 does not match --md5",
    3,
    "does not match",
    post=no_file("root", "downloads", DEVKIT_TGZ),
)
def _(env: Env) -> list[str]:
    return _download(env, "ok", "--md5", f"{DEVKIT_TGZ}={'0' * 32}")


@case(
    "download-ok-subset",
    "downloads",
    "a mirror serving a 20-image val tar (prepared as a marked subset)",
    0,
    post=lambda env, r: _assert_subset(env, "ilsvrc2012-val-subset-20", 20),
)
def _(env: Env) -> list[str]:
    return _download(env, "ok", "--no-verify")


def _kaggle(env: Env, *, user: str | None = "alice", installed: bool = True) -> list[str]:
    """``data download --from kaggle`` with the client's credentials as given (none: no
    ``user``), against the stand-in for Kaggle on port 7777; os.environ, the client's config
    file and sys.modules are restored afterwards."""
    import contextlib
    import sys

    pytest.importorskip("kaggle.api.kaggle_api_extended", reason="the kaggle extra is missing")
    from tests.hub.fake_kaggle import Kaggle, competition, serve

    names = ("KAGGLE_API_ENVIRONMENT", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN")
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    os.environ["KAGGLE_API_ENVIRONMENT"] = "TEST"
    if user is not None:
        os.environ.update(KAGGLE_USERNAME=user, KAGGLE_KEY="alice-key")
    api = sys.modules["kaggle.api.kaggle_api_extended"].KaggleApi
    config = api.config
    api.config = str(env.home / "no-such-kaggle.json")  # read once, at import, from $HOME
    modules = {m: sys.modules.pop(m) for m in list(sys.modules) if m.split(".")[0] == "kaggle"}
    if not installed:
        sys.modules["kaggle"] = None  # type: ignore[assignment]
    stack = contextlib.ExitStack()

    def restore() -> None:
        stack.close()
        sys.modules.pop("kaggle", None)
        sys.modules.update(modules)
        api.config = config
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(saved)

    env.cleanup.append(restore)
    if installed:
        sys.modules.update(modules)
        kaggle = Kaggle(competition([(b"\xff\xd8 not fetched", "n01440764")]))
        kaggle.users["bob"] = "alice-key"
        kaggle.rules_not_accepted.add("bob")
        stack.enter_context(serve(kaggle))
    return ["data", "download", "--from", "kaggle", "--root", str(env.root)]


@case("kaggle-no-extra", "downloads", "--from kaggle without the kaggle extra", 3, "pip install")
def _(env: Env) -> list[str]:
    return _kaggle(env, installed=False)


@case("kaggle-no-key", "downloads", "--from kaggle with no Kaggle credentials", 3, "KAGGLE_KEY")
def _(env: Env) -> list[str]:
    return _kaggle(env, user=None)


@case(
    "kaggle-rules",
    "downloads",
    "--from kaggle by an account that has not accepted the competition's rules (HTTP 403)",
    3,
    "accept the rules at https://www.kaggle.com/competitions/",
)
def _(env: Env) -> list[str]:
    return _kaggle(env, user="bob")


@case("kaggle-jobs-zero", "flags", "data download --from kaggle -j 0", 2, "-j")
def _(env: Env) -> list[str]:
    return ["data", "download", "--from", "kaggle", "-j", "0", "--root", str(env.root)]


# -- faults and concurrency -------------------------------------------------------------------


@case("prepare-locked", "faults", "data prepare while another prepare holds the root", 3, "another")
def _(env: Env) -> list[str]:
    from filelock import FileLock

    env.root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(env.root / ".prepare.lock")
    lock.acquire()
    env.cleanup.append(lock.release)
    return prep(env, env.official())


@case(
    "prepare-after-kill",
    "faults",
    "data prepare after a killed prepare left its work folder",
    0,
    post=no_file("root", "datasets", ".prepare-999999"),
)
def _(env: Env) -> list[str]:
    stale = env.root / "datasets" / ".prepare-999999"
    stale.mkdir(parents=True)
    (stale / "manifest.jsonl").write_text("half written")
    return prep(env, env.official(), extra=("--name", "s"))


def markdown_table() -> str:
    """The table as docs/reliability.md shows it."""
    lines = ["| area | input | exit |", "|---|---|---|"]
    for c in CASES:
        lines.append(f"| {c.area} | {c.what.replace('|', '/')} | {c.code} |")
    return "\n".join(lines) + "\n"


# -- cases whose fix landed in other areas (models, engine, run records, output) ---------------


def _module(env: Env, name: str, body: str) -> str:
    """A throw-away importable module under src/ (removed from sys.path after the case)."""
    import sys

    env.write(f"mods/{name}.py", body)
    sys.path.insert(0, str(env.src / "mods"))

    def forget() -> None:
        sys.path.remove(str(env.src / "mods"))
        sys.modules.pop(name, None)

    env.cleanup.append(forget)
    return name


@case(
    "flags-brackets-verbatim", "flags", "a model reference containing rich markup '[/x]'", 4, "[/x]"
)
def _(env: Env) -> list[str]:
    return ev(env, "[/x]")


@case("output-unwritable", "faults", "data info -o under a path that is a file", 5, "")
def _(env: Env) -> list[str]:
    env.prepared()
    blocker = env.write("blocker", "a file, not a folder")
    return ["data", "info", "--root", str(env.root), "--data", "sample", "-o",
            str(blocker / "info.json")]  # fmt: skip


def _run_record(env: Env, change: Callable[[dict[str, object]], None]) -> str:
    """A real run of the tiny model, then ``change`` applied to its run.json; returns its dir."""
    import json

    from click.testing import CliRunner

    from ilsvrc_bench.cli import main

    result = CliRunner().invoke(main, ["-q", *ev(env, TINY)])
    assert result.exit_code == 0, result.output
    (run_json,) = env.runs.rglob("run.json")
    record = json.loads(run_json.read_text(encoding="utf-8"))
    change(record)
    run_json.write_text(json.dumps(record), encoding="utf-8")
    return str(run_json.parent)


@case("runs-wrong-type", "runs", "check with a run.json whose field has the wrong type", 5, "")
def _(env: Env) -> list[str]:
    def change(record: dict[str, object]) -> None:
        record["batch_size"] = "sixteen"

    run = _run_record(env, change)
    return ["check", "--baseline", run, "--candidate", run, "--runs-dir", str(env.runs)]


@case(
    "runs-corrupt-skipped",
    "runs",
    "report over a runs directory holding one corrupt run.json",
    0,
    "",
)
def _(env: Env) -> list[str]:
    _run_record(env, lambda record: None)
    bad = env.runs / "broken-run"
    bad.mkdir(parents=True)
    (bad / "run.json").write_text("{not json")
    return ["report", "--runs-dir", str(env.runs)]


def _model_module(env: Env, name: str, forward: str) -> str:
    body = (
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        f"        {forward}\n"
        "def build():\n    return M()\n"
    )
    return f"{_module(env, name, body)}:build"


@case("model-forward-raises", "models", "a model whose forward raises", 4, "boom in forward")
def _(env: Env) -> list[str]:
    return ev(env, _model_module(env, "hostile_forward", "raise RuntimeError('boom in forward')"))


@case("model-all-nan", "models", "a model whose logits are NaN for every image", 4, "")
def _(env: Env) -> list[str]:
    nan = "return torch.full((x.shape[0], 1000), float('nan'))"
    return ev(env, _model_module(env, "hostile_nan", nan))


@case(
    "model-some-inf",
    "models",
    "a model whose logits are inf for some images (counted as misses, warned)",
    0,
    "",
)
def _(env: Env) -> list[str]:
    inf = "y = torch.zeros(x.shape[0], 1000); y[0, 3] = float('inf'); y[0, 4] = float('-inf'); return y"  # noqa: E501
    return ev(env, _model_module(env, "hostile_inf", inf))


@case(
    "eval-output-unwritable",
    "faults",
    "eval -o under a path that is a file (refused before the work)",
    5,
    "",
    post=no_file("runs"),
)
def _(env: Env) -> list[str]:
    blocker = env.write("blocker", "a file, not a folder")
    return ev(env, TINY, "-o", str(blocker / "out.json"))


@case("check-same-run", "runs", "check --baseline X --candidate X", 2, "same run")
def _(env: Env) -> list[str]:
    run = _run_record(env, lambda record: None)
    return ["check", "--baseline", run, "--candidate", run, "--runs-dir", str(env.runs)]


@case(
    "check-corrupt-predictions",
    "runs",
    "check with a candidate whose predictions file is corrupt",
    5,
    "predictions",
)
def _(env: Env) -> list[str]:
    base = _run_record(env, lambda record: None)
    import shutil as sh

    cand = env.runs / "candidate-copy"
    sh.copytree(base, cand)
    for pred in cand.glob("predictions*"):
        pred.write_bytes(b"garbage, not parquet")
    return ["check", "--baseline", base, "--candidate", str(cand), "--runs-dir", str(env.runs)]


# The newer commands' cases register into CASES from their own modules, after these.
from tests.hostile import cases_commands  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover - prints the docs table
    # the module the tests import (``python -m`` runs a second copy of this one as __main__)
    from tests.hostile.cases import markdown_table as table

    print(table(), end="")
