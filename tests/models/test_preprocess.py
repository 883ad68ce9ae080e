"""Preprocessing: bit-identical to torchvision's weights.transforms(), decoding, overrides."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from ilsvrc_bench.errors import DataError, UsageError
from ilsvrc_bench.models import Preprocessing, resolve
from ilsvrc_bench.models.preprocess import (
    decode_rgb,
    normalize,
    resize_center_crop,
    with_overrides,
)


def _registry_tensor(data: bytes, prep: Preprocessing) -> torch.Tensor:
    crop = resize_center_crop(decode_rgb(data, source="x"), prep)
    assert crop.dtype == torch.uint8
    return normalize(crop.unsqueeze(0), prep)[0]


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "weights", "step"),
    [
        ("alexnet", "IMAGENET1K_V1", 1),  # VGG16's recipe too: all 200 images
        ("efficientnet_b0", "IMAGENET1K_V1", 4),  # bicubic: every 4th image
        ("inception_v3", None, 4),  # 342 / 299
    ],
)
def test_parity_with_weights_transforms_on_real_jpegs(
    real_images: Path, model: str, weights: str | None, step: int
) -> None:
    """Max abs difference 0 against torchvision's own eval transform on real JPEGs."""
    import torchvision.models as tvm

    spec = resolve(model, weights=weights)
    member = tvm.get_model_weights(model)[spec.weights.name]
    transform = member.transforms()
    files = sorted(real_images.glob("*.JPEG"))
    assert len(files) == 200
    for file in files[::step]:
        expected = transform(Image.open(file).convert("RGB"))
        got = _registry_tensor(file.read_bytes(), spec.preprocessing)
        assert got.shape == expected.shape
        assert (got - expected).abs().max().item() == 0, file.name


def test_normalize_batches_match_per_image() -> None:
    prep = Preprocessing()
    batch = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    together = normalize(batch, prep)
    assert together.dtype == torch.float32
    for i in range(4):
        assert torch.equal(together[i], normalize(batch[i : i + 1], prep)[0])


def test_bgr_models_get_flipped_channels() -> None:
    batch = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    batch[:, 0] = 255  # pure red
    out = normalize(batch, Preprocessing(mean=(0, 0, 0), std=(1, 1, 1), color_order="BGR"))
    assert out[0, 2].eq(1).all() and out[0, 0].eq(0).all()


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "RGBA"])
def test_decode_converts_to_rgb(mode: str) -> None:
    buf = io.BytesIO()
    img = Image.new("RGB", (10, 7), (200, 30, 40)).convert(mode)
    img.save(buf, format="JPEG" if mode in ("CMYK", "L") else "PNG")
    decoded = decode_rgb(buf.getvalue())
    assert decoded.mode == "RGB" and decoded.size == (10, 7)


def test_undecodable_bytes_name_the_source() -> None:
    with pytest.raises(DataError, match=r"cannot decode image val/x\.JPEG"):
        decode_rgb(b"not an image", source="val/x.JPEG")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, format="JPEG")
    with pytest.raises(DataError, match=r"truncated\.JPEG"):
        decode_rgb(buf.getvalue()[:100], source="truncated.JPEG")


def test_overrides_are_validated() -> None:
    prep = with_overrides(
        Preprocessing(), {"resize_size": "320", "crop_size": 288, "mean": "0.5,0.5,0.5",
                          "interpolation": "BICUBIC", "std": None}
    )  # fmt: skip
    assert (prep.resize_size, prep.crop_size, prep.interpolation) == (320, 288, "bicubic")
    assert prep.mean == (0.5, 0.5, 0.5) and prep.std == Preprocessing().std
    with pytest.raises(UsageError, match="unknown preprocessing setting 'size'"):
        with_overrides(prep, {"size": 3})
    with pytest.raises(UsageError, match="crop_size must be a positive integer"):
        with_overrides(prep, {"crop_size": 0})
    with pytest.raises(UsageError, match="std must be positive"):
        with_overrides(prep, {"std": (0.2, 0, 0.2)})
    with pytest.raises(UsageError, match="interpolation must be one of"):
        with_overrides(prep, {"interpolation": "lanczos"})
    with pytest.raises(UsageError, match="three"):
        with_overrides(prep, {"mean": [1, 2]})


def test_resolve_applies_preprocessing_overrides() -> None:
    spec = resolve("alexnet", preprocessing={"resize_size": 288, "crop_size": 256})
    assert (spec.preprocessing.resize_size, spec.preprocessing.crop_size) == (288, 256)
