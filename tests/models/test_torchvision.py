"""torchvision models through the registry: real AlexNet and VGG16 architectures, weights files."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ilsvrc_bench.errors import ExitCode, ModelError
from ilsvrc_bench.models import load, resolve


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_importing_the_registry_does_not_import_torch() -> None:
    code = (
        "import sys, ilsvrc_bench.models as m; m.reference_models(); "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'torchvision' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_resolve_alexnet_default_weights_carry_torchvision_metadata() -> None:
    spec = resolve("alexnet")
    assert spec.source == "torchvision"
    assert spec.weights.name == "IMAGENET1K_V1"
    assert spec.weights.url and spec.weights.url.endswith("alexnet-owt-7be5be79.pth")
    assert spec.reference is not None
    assert (spec.reference.top1, spec.reference.top5) == (56.522, 79.066)
    assert spec.num_params == 61100840
    assert (spec.preprocessing.resize_size, spec.preprocessing.crop_size) == (256, 224)
    assert resolve("torchvision:alexnet", weights="IMAGENET1K_V1") == spec
    assert resolve("alexnet", weights="AlexNet_Weights.IMAGENET1K_V1") == spec
    assert resolve("alexnet", weights="imagenet1k_v1") == resolve("alexnet", weights="default")


def test_weights_enum_changes_preprocessing_and_reference() -> None:
    spec = resolve("resnet50", weights="IMAGENET1K_V1")
    assert spec.weights.name == "IMAGENET1K_V1"
    assert spec.preprocessing.resize_size == 256
    v2 = resolve("resnet50")
    assert v2.weights.name == "IMAGENET1K_V2"
    assert v2.preprocessing.resize_size == 232
    assert v2.reference is not None and v2.reference.top1 == 80.858


def test_unknown_model_suggests_the_close_name() -> None:
    with pytest.raises(ModelError, match=r"^unknown model 'alexnt'; did you mean 'alexnet'\?$"):
        resolve("alexnt")
    with pytest.raises(ModelError) as info:
        resolve("torchvision:vgg61")
    assert "did you mean" in str(info.value) and "'vgg16'" in str(info.value)
    assert info.value.exit_code == ExitCode.MODEL


def test_unknown_weights_name_lists_the_choices() -> None:
    with pytest.raises(ModelError, match=r"IMAGENET1K_V1.*random"):
        resolve("alexnet", weights="IMAGENET1K_V9")


def test_random_weights_are_marked_and_seeded() -> None:
    spec = resolve("alexnet", weights="random")
    assert spec.weights.is_random and spec.reference is None
    first, second = load(spec), load(spec)
    assert first.weights_sha256 is None
    x = torch.zeros(1, 3, 224, 224)
    assert torch.equal(first(x), second(x))


def test_alexnet_weights_file_round_trip(alexnet_weights: Path) -> None:
    spec = resolve("alexnet", weights=str(alexnet_weights))
    assert spec.weights.path == str(alexnet_weights.resolve())
    assert spec.reference is None
    model = load(spec)
    assert model.weights_sha256 == sha256(alexnet_weights)
    assert model.module is not None and not model.module.training
    saved = torch.load(alexnet_weights, weights_only=True)
    assert torch.equal(model.module.state_dict()["features.0.weight"], saved["features.0.weight"])
    logits = model(torch.randn(2, 3, 224, 224))
    assert logits.shape == (2, 1000) and logits.dtype == torch.float32


@pytest.mark.slow
def test_vgg16_weights_file_round_trip(vgg16_weights: Path) -> None:
    model = load(resolve("vgg16", weights=str(vgg16_weights)))
    assert model.weights_sha256 == sha256(vgg16_weights)
    assert model.module is not None
    assert sum(p.numel() for p in model.module.parameters()) == 138357544
    saved = torch.load(vgg16_weights, weights_only=True, mmap=True)
    assert torch.equal(model.module.state_dict()["classifier.6.bias"], saved["classifier.6.bias"])
    assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.slow
def test_vgg16_weights_into_alexnet_report_mismatched_keys(vgg16_weights: Path) -> None:
    with pytest.raises(ModelError) as info:
        load(resolve("alexnet", weights=str(vgg16_weights)))
    message = str(info.value)
    assert "do not fit architecture alexnet" in message
    assert "missing keys (features.3.weight" in message
    assert "unexpected keys (features.14.weight" in message
    assert "features.0.weight [64, 3, 3, 3] vs [64, 3, 11, 11]" in message
    assert "\n" not in message


def test_wrapped_and_data_parallel_checkpoints_load(alexnet_weights: Path, tmp_path: Path) -> None:
    state = torch.load(alexnet_weights, weights_only=True)
    wrapped = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    model = load(resolve("alexnet", weights=str(wrapped)))
    assert model.weights_sha256 == sha256(wrapped)


def test_sha256_is_cached_by_path_size_and_mtime(alexnet_weights: Path, tmp_path: Path) -> None:
    from ilsvrc_bench.models import weights as wts

    copy = tmp_path / "a.pth"
    copy.write_bytes(alexnet_weights.read_bytes())
    first = wts.sha256_file(copy)
    cache = wts._sha256_cache_file(copy.resolve())
    assert cache.is_file() and first in cache.read_text()
    copy.write_bytes(b"changed")  # new size and mtime: recomputed
    assert wts.sha256_file(copy) == hashlib.sha256(b"changed").hexdigest()


@pytest.mark.slow
def test_googlenet_saved_without_auxiliary_heads_loads(tmp_path: Path) -> None:
    """A GoogLeNet built for published weights drops its aux heads; its state dict still loads."""
    scratch = load(resolve("googlenet", weights="random"))
    assert scratch.module is not None
    full = scratch.module.state_dict()
    assert any(k.startswith("aux1.") for k in full)
    path = tmp_path / "googlenet_finetuned.pth"
    torch.save({k: v for k, v in full.items() if not k.startswith(("aux1.", "aux2."))}, path)
    model = load(resolve("googlenet", weights=str(path)))
    assert model.module is not None
    assert "aux1" not in dict(model.module.named_children())  # dropped, not random
    x = torch.randn(1, 3, 224, 224)
    assert model(x).shape == (1, 1000)
    del full["aux1.fc2.bias"]  # other aux keys present but one missing is still reported
    torch.save({k: v for k, v in full.items() if k != "fc.weight"}, path)
    with pytest.raises(ModelError, match=r"2 missing keys \(.*fc\.weight"):
        load(resolve("googlenet", weights=str(path)))
