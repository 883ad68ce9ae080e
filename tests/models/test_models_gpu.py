"""The registry on a CUDA device: exact normalisation, models and ONNX runners on the GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ilsvrc_bench.models import Preprocessing, load, resolve
from ilsvrc_bench.models.preprocess import decode_rgb, normalize, resize_center_crop

pytestmark = pytest.mark.gpu


def test_normalize_on_cuda_is_bit_identical_to_the_cpu() -> None:
    batch = torch.randint(0, 256, (8, 3, 224, 224), dtype=torch.uint8)
    for prep in (Preprocessing(), Preprocessing(mean=(0.5,) * 3, std=(0.5,) * 3)):
        on_gpu = normalize(batch.cuda(), prep)
        assert on_gpu.device.type == "cuda"
        assert torch.equal(on_gpu.cpu(), normalize(batch, prep))


@pytest.mark.realdata
def test_real_images_normalise_identically_on_cuda(real_images: Path) -> None:
    prep = resolve("alexnet").preprocessing
    files = sorted(real_images.glob("*.JPEG"))
    batch = torch.stack([resize_center_crop(decode_rgb(f.read_bytes()), prep) for f in files])
    assert torch.equal(normalize(batch.cuda(), prep).cpu(), normalize(batch, prep))


def test_alexnet_on_cuda_matches_the_cpu(alexnet_weights: Path) -> None:
    spec = resolve("alexnet", weights=str(alexnet_weights))
    on_gpu, on_cpu = load(spec, device="cuda"), load(spec)
    assert on_gpu.device.type == "cuda" and on_gpu.weights_sha256 == on_cpu.weights_sha256
    assert on_gpu.module is not None
    assert all(p.device.type == "cuda" for p in on_gpu.module.parameters())
    x = torch.randn(4, 3, 224, 224)
    logits = on_gpu(x.cuda())
    assert logits.device.type == "cuda" and logits.shape == (4, 1000)
    torch.testing.assert_close(logits.cpu(), on_cpu(x), rtol=1e-3, atol=1e-3)
    # The engine may swap the module (channels_last, torch.compile); calls follow it.
    on_gpu.module = on_gpu.module.to(memory_format=torch.channels_last)
    torch.testing.assert_close(on_gpu(x.cuda()), logits, rtol=1e-3, atol=1e-3)


def test_onnx_model_returns_logits_on_the_input_device(real_onnx: Path) -> None:
    model = load(resolve(f"onnx:{real_onnx}"), device="cuda")
    x = torch.randn(2, 3, 224, 224)
    logits = model(x.cuda())
    assert logits.device.type == "cuda" and logits.shape == (2, 1000)
    assert torch.equal(logits.cpu(), load(resolve(f"onnx:{real_onnx}"))(x))
