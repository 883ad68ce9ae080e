"""Promises of docs/reliability.md that the CLI table cannot reach directly."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main
from ilsvrc_bench.data.labelorder import check_predictions


def test_post_eval_guard_names_a_shift_by_one() -> None:
    true = [i * 37 % 999 for i in range(60)]
    labels = [t + 1 for t in true]  # a 1-based label file read as 0-based
    verdict = check_predictions(labels, true)
    assert verdict.suspect == "shifted by one (1-based)"
    assert verdict.message is not None and "shifted by one" in verdict.message
    assert check_predictions(true, true).suspect is None


def test_verify_notes_a_large_image_and_refuses_a_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from ilsvrc_bench.data.verify import decode_findings

    buf = io.BytesIO()
    Image.new("RGB", (50, 40)).save(buf, format="JPEG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1500)  # 2,000 pixels: a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw warning escapes
        assert [f.kind for f in decode_findings("a.JPEG", buf.getvalue())] == ["large"]
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 900)  # over twice the limit: a bomb
        (finding,) = decode_findings("a.JPEG", buf.getvalue())
    assert finding.kind == "decode" and "decompression bomb" in finding.detail


def test_library_warnings_print_as_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Pillow warning raised while a command runs is the tool's one-line warning."""
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # sample images warn, some are bombs
    root = str(tmp_path / "root")
    assert CliRunner().invoke(main, ["-q", "data", "sample", "--root", root]).exit_code == 0
    result = CliRunner().invoke(
        main,
        [
            "eval",
            "-m",
            "tests.engine.helpers:tiny",
            "--root",
            root,
            "--data",
            "sample",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--resize",
            "40",
            "--crop",
            "32",
            "--workers",
            "0",
            "-q",
        ],
    )
    assert "DecompressionBombWarning:" not in result.stderr
    assert "Traceback" not in result.stderr


def test_md5_line_says_what_was_checked(tmp_path: Path) -> None:
    from ilsvrc_bench.data import write_sample

    val, devkit = write_sample(tmp_path / "src", classes=2, per_class=2)
    root = str(tmp_path / "root")
    runner = CliRunner()
    assert runner.invoke(main, ["-q", "data", "prepare", str(val), str(devkit), "--root", root,
                                "--name", "s"]).exit_code == 0  # fmt: skip
    out = runner.invoke(main, ["data", "info", "--root", root, "--data", "s"]).stdout
    assert "checked against" in out and "MD5SUMS" in out and "official MD5" not in out
    info = json.loads(
        runner.invoke(
            main, ["data", "info", "--root", root, "--data", "s", "--format", "json"]
        ).stdout
    )
    assert info["is_subset"] is True and info["complete"] is False and info["n_listed"] == 4


def test_complete_means_every_val_number_once() -> None:
    from ilsvrc_bench.data.dataset import Storage
    from ilsvrc_bench.data.prepare import is_complete
    from ilsvrc_bench.data.scan import Entry, Scan

    def scan(numbers: range | list[int]) -> Scan:
        entries = [Entry(f"ILSVRC2012_val_{n:08d}.JPEG", "n01440764", 1, "0") for n in numbers]
        return Scan("flat", entries, Storage("dir", Path("/x")), "ilsvrc2012-val")

    assert is_complete(scan(range(1, 50_001)))
    assert not is_complete(scan(range(1, 50_000)))
    assert not is_complete(scan([*range(1, 50_000), 1]))


def test_a_run_on_a_subset_says_so(tmp_path: Path) -> None:
    from ilsvrc_bench.data import prepare, write_sample

    val, devkit = write_sample(tmp_path / "src", classes=2, per_class=2)
    prepare([val, devkit], root=tmp_path / "root", name="mine")  # a subset, under another name
    result = CliRunner().invoke(
        main,
        [
            "-q",
            "eval",
            "-m",
            "tests.engine.helpers:tiny",
            "--root",
            str(tmp_path / "root"),
            "--data",
            "mine",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--resize",
            "40",
            "--crop",
            "32",
            "--workers",
            "0",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["is_subset"] is True


def test_wilson_bounds_are_exact_at_zero_and_all_hits() -> None:
    """0 of 3 right is a lower bound of exactly 0% (it was 5.6e-15% in run.json)."""
    from ilsvrc_bench.metrics import wilson_interval

    assert wilson_interval(0, 3)[0] == 0.0 and wilson_interval(3, 3)[1] == 100.0
    lo, hi = wilson_interval(1, 3)
    assert 0.0 < lo < 33.4 < hi < 100.0


def test_hub_retries_are_not_logged_raw(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """huggingface_hub logs each retry ("Retrying in 1s [Retry 1/5]") as raw stderr lines, even
    under -q; download_hf reports the outcome once, as its own error."""
    import logging

    from ilsvrc_bench.data import hub
    from ilsvrc_bench.errors import DataError

    def offline(**kwargs: object) -> None:
        raise DataError("offline")

    monkeypatch.setattr(hub, "list_shards", offline)
    logger = logging.getLogger("huggingface_hub")
    monkeypatch.setattr(logger, "level", logging.WARNING)  # restored after the test
    with pytest.raises(DataError):
        hub.download_hf(root=tmp_path)
    assert not logger.isEnabledFor(logging.WARNING)
