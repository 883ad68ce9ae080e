"""LiteRT/TFLite models: layout checks, quantisation, metadata, batching, errors, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ilsvrc_bench.cli import main
from ilsvrc_bench.errors import ExitCode, ModelError
from ilsvrc_bench.models import load, resolve
from ilsvrc_bench.models.preprocess import normalize

from .tflite_files import normalisation_metadata, write_float_classifier

pytest.importorskip("ai_edge_litert")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def float_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("tflite") / "tiny.tflite"
    return path, write_float_classifier(path)


def test_float_model_batches_and_drops_the_background(
    float_model: tuple[Path, np.ndarray],
) -> None:
    path, weights = float_model
    spec = resolve(str(path))
    assert (spec.source, spec.num_outputs, spec.class_offset) == ("tflite", 1001, 1)
    assert spec.preprocessing.crop_size == 4 and spec.preprocessing.central_fraction == 0.875
    assert spec.preprocessing.mean == (0.5, 0.5, 0.5)  # no metadata: [-1, 1]
    assert any("background" in n for n in spec.notes)
    assert not any("one at a time" in n for n in spec.notes)  # the batch dimension resizes
    model = load(spec)
    assert model.module is None and model.weights_sha256 is not None
    x = torch.randn(5, 3, 4, 4)
    expected = x.permute(0, 2, 3, 1).reshape(5, -1).numpy() @ weights.T
    for batch in (x, x[:2]):  # a batch size change resizes the input tensor again
        got = model(batch)
        assert got.shape == (len(batch), 1000)
        np.testing.assert_allclose(got.numpy(), expected[: len(batch), 1:], rtol=1e-5, atol=1e-4)


def test_normalisation_comes_from_the_files_metadata(tmp_path: Path) -> None:
    path = tmp_path / "meta.tflite"
    write_float_classifier(path, outputs=1000, metadata=normalisation_metadata([127.0], [2.0]))
    spec = resolve(f"tflite:{path}")
    assert spec.preprocessing.mean == pytest.approx((127 / 255,) * 3)
    assert spec.preprocessing.std == pytest.approx((2 / 255,) * 3)
    assert spec.class_offset == 0 and any("metadata" in n for n in spec.notes)
    # The flags still win over the metadata.
    over = resolve(str(path), preprocessing={"mean": (0.1, 0.2, 0.3)})
    assert over.preprocessing.mean == (0.1, 0.2, 0.3)
    assert over.preprocessing.std == pytest.approx((2 / 255,) * 3)


def test_uint8_input_takes_raw_pixels(real_tflite: Path) -> None:
    """Every pixel value 0..255 reaches the uint8 input unchanged through normalize + quantise."""
    from ilsvrc_bench.models.tflite_adapter import quantise

    spec = resolve(str(real_tflite))
    pixels = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    x = normalize(pixels.contiguous(), spec.preprocessing).permute(0, 2, 3, 1).numpy()
    q = quantise(x, "uint8", 1 / 128, 128)
    assert np.array_equal(q, pixels.permute(0, 2, 3, 1).numpy())
    assert any("one at a time" in n for n in spec.notes)  # Reshape to [1, 1001] in the file
    model = load(spec)
    assert model(torch.zeros(3, 3, 160, 160)).shape == (3, 1000)


def test_quantise_rounds_and_clips() -> None:
    from ilsvrc_bench.models.tflite_adapter import quantise

    x = np.array([-10.0, -1.0, 0.0, 0.004, 1.0, 10.0])
    assert quantise(x, "uint8", 1 / 128, 128).tolist() == [0, 0, 128, 129, 255, 255]
    assert quantise(x, "int8", 1 / 128, 0).tolist() == [-128, -128, 0, 1, 127, 127]


def test_flags_choose_the_recipe(float_model: tuple[Path, np.ndarray]) -> None:
    path, _ = float_model
    plain = resolve(str(path), preprocessing={"resize_size": 5})
    assert plain.preprocessing.central_fraction is None  # --resize: resize + centre crop
    tighter = resolve(str(path), preprocessing={"central_fraction": 0.5})
    assert tighter.preprocessing.central_fraction == 0.5
    with pytest.raises(ModelError, match="takes 4x4 images but the crop size is 224"):
        resolve(str(path), preprocessing={"crop_size": 224})


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("nchw", "expected NHWC"),
        ("garbage", "cannot load TFLite model"),
        ("missing", "does not exist"),
        ("directory", "is a directory"),
    ],
)
def test_bad_files_are_model_errors(tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / "bad.tflite"
    if kind == "nchw":
        write_float_classifier(path, channels_first=True)
    elif kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        write_float_classifier(path)
        path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match=message) as info:
        resolve(str(path))
    assert info.value.exit_code == ExitCode.MODEL


def test_weights_do_not_apply(float_model: tuple[Path, np.ndarray]) -> None:
    path, _ = float_model
    with pytest.raises(ModelError, match="carries its own weights"):
        resolve(str(path), weights="random")
    assert resolve(str(path), weights="tflite").weights.name == "tflite"


def test_missing_runtime_says_what_to_install(
    float_model: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(ModelError, match=r"pip install 'ilsvrc-bench\[tflite\]'"):
        resolve(str(float_model[0]))


def test_models_show_is_quiet_and_says_what_was_assumed(
    float_model: tuple[Path, np.ndarray],
) -> None:
    """LiteRT's own C++ log lines ("INFO: Created TensorFlow Lite XNNPACK delegate") never
    reach the user's stderr (a real process: they bypass Python's sys.stderr)."""
    path, _ = float_model
    proc = subprocess.run(
        [sys.executable, "-m", "ilsvrc_bench", "models", "show", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    spec = json.loads(proc.stdout)
    assert spec["source"] == "tflite" and spec["class_offset"] == 1
    assert any("background" in n for n in spec["notes"])


def test_eval_records_the_notes(float_model: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    from tests.engine.helpers import make_sample_root

    root = make_sample_root(tmp_path / "sample")
    args = ["eval", "-m", str(float_model[0]), "--root", str(root), "--data", "sample"]
    args += ["--runs-dir", str(tmp_path / "runs"), "--workers", "0", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    record = json.loads((Path(row["run_dir"]) / "run.json").read_text())
    assert any("background" in n for n in record["notes"])
    assert record["preprocessing"]["central_fraction"] == 0.875
    assert "background" in result.stderr  # eval prints the run's notes
