from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli


def test_sample_info_verify(cli: Cli, tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    code, out = cli.run(
        "-q", "data", "sample", "--root", root, "--classes", "5", "--per-class", "2"
    )
    assert code == 0, out
    code, out = cli.run("data", "info", "--root", root, "--data", "sample", "--format", "json")
    info = json.loads(out)
    assert code == 0
    assert info["name"] == "sample" and info["n_images"] == 10 and info["n_classes"] == 5
    assert info["source"] == "official" and len(info["manifest_sha256"]) == 64
    code, out = cli.run("-q", "data", "verify", "--root", root, "--data", "sample", "--decode",
                    "--format", "json")  # fmt: skip
    assert code == 0, out
    assert [f["kind"] for f in json.loads(out)] == ["grayscale"]


def test_prepare_then_default_dataset(cli: Cli, tmp_path: Path) -> None:
    from ilsvrc_bench.data import write_sample

    val, devkit = write_sample(tmp_path / "src", classes=3, per_class=2)
    root = str(tmp_path / "root")
    code, out = cli.run("-q", "data", "prepare", str(val), str(devkit), "--root", root)
    assert code == 0, out
    code, out = cli.run("data", "info", "--root", root, "--format", "json")
    assert code == 3  # 6 images are not the complete val, so not the default dataset
    code, out = cli.run("data", "info", "--root", root, "--data", "ilsvrc2012-val-subset-6",
                    "--format", "json")  # fmt: skip
    assert json.loads(out)["name"] == "ilsvrc2012-val-subset-6"


def test_verify_fails_with_exit_3_on_changed_image(cli: Cli, tmp_path: Path) -> None:
    from ilsvrc_bench.data import write_sample

    val, _ = write_sample(tmp_path / "src", classes=2, per_class=2)
    folder = tmp_path / "val"
    folder.mkdir()
    import tarfile

    with tarfile.open(val) as tar:
        tar.extractall(folder, filter="data")
    root = str(tmp_path / "root")
    code, out = cli.run("-q", "data", "prepare", str(folder), str(tmp_path / "src" /
                    "ILSVRC2012_devkit_t12.tar.gz"), "--root", root)  # fmt: skip
    assert code == 0, out
    target = folder / "ILSVRC2012_val_00000002.JPEG"
    target.write_bytes(b"\x00" + target.read_bytes()[1:])
    (folder / "ILSVRC2012_val_00000003.JPEG").unlink()
    code, out = cli.run("data", "verify", "--root", root, "--data", "ilsvrc2012-val-subset-4",
                    "--format", "json")  # fmt: skip
    assert code == 3
    kinds = {f["path"]: f["kind"] for f in json.loads(out)}
    assert kinds == {
        "ILSVRC2012_val_00000002.JPEG": "hash",
        "ILSVRC2012_val_00000003.JPEG": "missing",
    }


def test_missing_data_is_exit_3_with_hint(cli: Cli, tmp_path: Path) -> None:
    code, out = cli.run_all("data", "info", "--root", str(tmp_path))
    assert code == 3
    assert "data prepare" in out


def test_bad_md5_option_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    code, out = cli.run_all(
        "data", "prepare", "x.tar", "--md5", "x.tar=nothex", "--root", str(tmp_path)
    )
    assert code == 2 and "32 hex digits" in out


def test_wrong_md5_is_exit_3(cli: Cli, tmp_path: Path) -> None:
    from ilsvrc_bench.data import write_sample

    val, devkit = write_sample(tmp_path / "src", classes=2, per_class=1)
    code, out = cli.run_all("data", "prepare", str(val), str(devkit), "--root", str(tmp_path / "r"),
                    "--md5", f"{val.name}={'0' * 32}")  # fmt: skip
    assert code == 3
    assert "MD5" in out and val.name in out


def test_every_data_command_has_help(cli: Cli) -> None:
    for command in ("download", "prepare", "info", "verify", "sample"):
        code, out = cli.run("data", command, "--help")
        assert code == 0 and "Usage" in out
