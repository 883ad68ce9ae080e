"""timm models: spec from timm's pretrained config, a real (small) timm architecture built."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models import load, resolve
from ilsvrc_bench.models.preprocess import decode_rgb, normalize, resize_center_crop

timm = pytest.importorskip("timm")


def test_spec_follows_timm_pretrained_config() -> None:
    spec = resolve("timm:test_vit")
    assert spec.name == "timm:test_vit.r160_in1k" and spec.source == "timm"
    assert spec.weights.name == "r160_in1k"
    prep = spec.preprocessing
    # input 160, crop_pct 0.95: resize floor(160 / 0.95) = 168, bicubic, mean/std 0.5.
    assert (prep.resize_size, prep.crop_size, prep.interpolation) == (168, 160, "bicubic")
    assert prep.mean == (0.5, 0.5, 0.5)
    assert resolve("timm:test_vit", weights="r160_in1k") == spec


def test_random_and_file_weights_build_the_real_architecture(tmp_path: Path) -> None:
    spec = resolve("timm:test_vit", weights="random")
    model = load(spec)
    assert model.weights_sha256 is None and spec.weights.is_random
    x = torch.randn(2, 3, 160, 160)
    assert model(x).shape == (2, 1000)
    path = tmp_path / "test_vit.pth"
    assert model.module is not None
    torch.save(model.module.state_dict(), path)
    again = load(resolve("timm:test_vit", weights=str(path)))
    assert again.weights_sha256 is not None
    assert torch.equal(again(x), model(x))
    wrong = tmp_path / "resnet.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), wrong)
    with pytest.raises(ModelError, match="do not fit architecture timm:test_vit"):
        load(resolve("timm:test_vit", weights=str(wrong)))


@pytest.mark.realdata
def test_preprocessing_matches_timms_eval_transform(real_images: Path) -> None:
    from timm.data.config import resolve_data_config
    from timm.data.transforms_factory import create_transform

    spec = resolve("timm:test_vit")
    config = resolve_data_config(
        {}, pretrained_cfg=timm.models.get_pretrained_cfg("test_vit").to_dict()
    )
    transform = create_transform(**config)
    for file in sorted(real_images.glob("*.JPEG"))[:20]:
        expected = transform(Image.open(file).convert("RGB"))
        crop = resize_center_crop(decode_rgb(file.read_bytes()), spec.preprocessing)
        got = normalize(crop[None], spec.preprocessing)[0]
        assert (got - expected).abs().max().item() == 0, file.name


def test_unknown_timm_names_and_tags() -> None:
    with pytest.raises(ModelError, match="unknown timm model 'resnt18'; did you mean 'resnet18'"):
        resolve("timm:resnt18")
    with pytest.raises(ModelError, match="no pretrained tag 'nope'; tags: a1_in1k"):
        resolve("timm:resnet18.nope")


def test_offline_pretrained_download_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(Path.cwd() / "nonexistent-hf-home"))
    with pytest.raises(
        ModelError, match=r"cannot get timm weights for test_vit\.r160_in1k.*--weights PATH"
    ):
        load(resolve("timm:test_vit"))
