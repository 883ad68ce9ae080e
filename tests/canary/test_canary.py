"""``data verify --canary``: a model of known accuracy judges the data; broken data is named."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from ilsvrc_bench.cli import main
from ilsvrc_bench.data import open_dataset, prepare
from ilsvrc_bench.data.labelorder import string_sorted_map
from ilsvrc_bench.engine.canary import run_canary
from ilsvrc_bench.synsets import all_synsets
from tests.engine.helpers import make_sample_root

WNIDS = [s.wnid for s in all_synsets()]


def _verify(*args: str) -> Result:
    return CliRunner().invoke(main, ["data", "verify", *args])


def test_lower_than_expected_is_exit_3(tmp_path: Path) -> None:
    root = make_sample_root(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "data",
            "verify",
            "--root",
            str(root),
            "--data",
            "sample",
            "--device",
            "cpu",
            "--canary",
            "tests.engine.helpers:tiny",
            "--canary-expect",
            "99",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 3, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["check"] == "measured" and rows[0]["verdict"] == "lower"
    assert {r["check"] for r in rows[1:]} == {
        "label order",
        "shift by one",
        "channel order",
        "resize rule",
    }
    assert "below the --canary-expect 99.000%" in result.stderr
    assert "Traceback" not in result.output


def test_a_model_without_published_accuracy_needs_expect(tmp_path: Path) -> None:
    root = make_sample_root(tmp_path)
    result = _verify(
        "--root", str(root), "--data", "sample", "--canary", "tests.engine.helpers:tiny"
    )
    assert result.exit_code == 2
    assert "--canary-expect TOP1" in result.output


def test_offline_without_weights_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.error

    import torch.hub

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    root = make_sample_root(tmp_path)
    result = _verify("--root", str(root), "--data", "sample", "--canary")
    assert result.exit_code == 4, result.output
    assert "resnet18-f37072fd.pth" in result.output and "save it as" in result.output


# -- the real photos, intact and deliberately broken -----------------------------------------


def _bgr(data: bytes) -> bytes:
    img = Image.open(io.BytesIO(data)).convert("RGB")
    r, g, b = img.split()
    buf = io.BytesIO()
    Image.merge("RGB", (b, g, r)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _variant(real_images: Path, base: Path, kind: str) -> Path:
    """The real photos as wnid folders; ``kind`` breaks them in one of the usual ways."""
    inverse = {right: wrong for wrong, right in string_sorted_map().items()}
    for file in sorted(real_images.glob("*.JPEG")):
        true = WNIDS.index(file.name.split("_")[0])
        data = file.read_bytes()
        folder = {
            "intact": true,
            "bgr": true,
            "shifted": (true + 1) % 1000,
            "permuted": inverse[true],
        }[kind]
        if kind == "bgr":
            data = _bgr(data)
        (base / WNIDS[folder]).mkdir(parents=True, exist_ok=True)
        (base / WNIDS[folder] / file.name).write_bytes(data)
    return base


def _independent_top1(real_images: Path, real_onnx: Path, n: int) -> float:
    """Top-1 of an onnxruntime loop on the first ``n`` classes' photos (the canary's subset:
    one photo per class, the stratified subset takes classes in index order)."""
    import onnxruntime as ort

    from tests.models.test_onnx import _independent_input

    session = ort.InferenceSession(str(real_onnx), providers=["CPUExecutionProvider"])
    files = sorted(real_images.glob("*.JPEG"))[:n]
    logits = np.concatenate([session.run(None, {"input": _independent_input(f)})[0] for f in files])
    labels = np.array([WNIDS.index(f.name.split("_")[0]) for f in files])
    return 100 * float((logits.argmax(axis=1) == labels).mean())


@pytest.mark.realdata
@pytest.mark.slow
def test_real_photos_intact_and_broken(real_images: Path, real_onnx: Path, tmp_path: Path) -> None:
    from ilsvrc_bench.engine import EvalOptions

    n = 100
    expected = _independent_top1(real_images, real_onnx, n)
    options = EvalOptions(device="cpu", batch_size=50)
    found = {}
    for kind in ("intact", "bgr", "shifted", "permuted"):
        src = _variant(real_images, tmp_path / kind, kind)
        prepare([src], root=tmp_path / "root", name=kind, fmt="imagefolder")
        report = run_canary(
            dataset=open_dataset(kind, root=tmp_path / "root"),
            model=f"onnx:{real_onnx}",
            expect_top1=expected,
            n_images=n,
            options=options,
        )
        found[kind] = report
    intact = found["intact"]
    assert intact.verdict == "reproduces" and intact.best is None and not intact.suspects
    assert intact.top1 == pytest.approx(expected, abs=1.0)
    for kind, suspect, detail in (
        ("bgr", "channel order", "BGR"),
        ("shifted", "shift by one", "+1"),
        ("permuted", "label order", "strings"),
    ):
        report = found[kind]
        assert report.verdict == "lower", kind
        assert report.best is not None, kind
        assert report.best.name == suspect and detail in report.best.detail, (kind, report.best)
        # The suspect restores the accuracy to within a few points of the intact data.
        assert report.best.top1 > intact.top1 - 10, (kind, report.best)
