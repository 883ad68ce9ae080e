"""The CUDA path: pinned memory, non-blocking copies, normalising on the device, autocast,
channels_last, a real out-of-memory halving, compile. Skipped without a CUDA device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torchvision

from ilsvrc_bench import runs
from ilsvrc_bench.data import open_dataset
from ilsvrc_bench.engine import EvalOptions, evaluate, evaluate_specs
from ilsvrc_bench.engine.loader import make_loader
from ilsvrc_bench.models.spec import Preprocessing
from tests.engine.helpers import SMALL_PREP, FakeLoaded, MemoryDataset, Tiny, spec

pytestmark = pytest.mark.gpu


def preds(result: Any) -> np.ndarray:
    return np.stack(runs.read_predictions(result.run_dir)["pred"].to_list())


def alexnet_file(tmp_path: Path, sample_root: Path) -> Path:
    labels = sorted({r.class_index for r in open_dataset("sample", root=sample_root).records})
    torch.manual_seed(0)
    model = torchvision.models.alexnet()
    with torch.no_grad():
        bias = torch.full_like(model.classifier[-1].bias, -1e3)
        bias[labels] = 0.0
        model.classifier[-1].bias.copy_(bias)
        model.classifier[-1].weight.mul_(50.0)
    path = tmp_path / "alexnet.pth"
    torch.save(model.state_dict(), path)
    return path


def eval_alexnet(tmp_path: Path, sample_root: Path, weights: Path, **opts: Any) -> Any:
    (result,) = evaluate(
        ["alexnet"],
        data="sample",
        root=sample_root,
        runs_dir=tmp_path / "runs",
        weights=str(weights),
        preprocessing={"resize_size": 73, "crop_size": 64},
        options=EvalOptions(batch_size=8, workers=2, resume=False, **opts),
    )
    return result


def test_cuda_fp32_matches_cpu_and_records_the_gpu(tmp_path: Path, sample_root: Path) -> None:
    weights = alexnet_file(tmp_path, sample_root)
    cpu = eval_alexnet(tmp_path, sample_root, weights, device="cpu")
    gpu = eval_alexnet(tmp_path, sample_root, weights, device="cuda")
    assert (gpu.record.device.type, gpu.record.device.name) == (
        "cuda",
        torch.cuda.get_device_name(),
    )
    assert gpu.record.versions["cuda"] and gpu.record.versions["cudnn"]
    # TF32 convolutions may reorder near ties; the top-1 class must agree almost everywhere.
    agree = (preds(cpu)[:, 0] == preds(gpu)[:, 0]).mean()
    assert agree >= 0.9
    assert gpu.record.final_metrics.n_images == 20


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_autocast_runs_the_model_in_half_precision(
    tmp_path: Path, sample_root: Path, precision: str
) -> None:
    weights = alexnet_file(tmp_path, sample_root)
    seen: list[torch.dtype] = []
    fp32 = eval_alexnet(tmp_path, sample_root, weights, device="cuda")
    half = eval_alexnet(tmp_path, sample_root, weights, device="cuda", precision=precision)
    assert half.record.precision == precision
    assert (preds(fp32)[:, 0] == preds(half)[:, 0]).mean() >= 0.8
    # Check autocast directly on a module the engine runs.
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    model = Tiny().cuda().eval()
    model.fc.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    load = lambda s, device: FakeLoaded(spec=s, module=model, device=device)  # noqa: E731
    evaluate_specs(
        [("tiny", spec())],
        MemoryDataset(n=4),
        runs_dir=tmp_path / "r2",
        options=EvalOptions(device="cuda", precision=precision),  # type: ignore[arg-type]
        load=load,
    )
    assert seen and all(d == dtype for d in seen)


def test_pinned_uint8_batches_normalised_on_the_device(tmp_path: Path) -> None:
    ds = MemoryDataset(n=6)
    loader = make_loader(
        ds, ds.records, prep=SMALL_PREP, protocol="center", batch_size=4, workers=1, pin_memory=True
    )
    batch = next(iter(loader))
    assert batch.images.dtype == torch.uint8 and batch.images.is_pinned()
    inputs: list[torch.Tensor] = []
    model = Tiny().cuda().eval()
    model.pool.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    load = lambda s, device: FakeLoaded(spec=s, module=model, device=device)  # noqa: E731
    (result,) = evaluate_specs(
        [("tiny", spec())],
        ds,
        runs_dir=tmp_path / "runs",
        options=EvalOptions(device="cuda", channels_last=True, workers=1),
        load=load,
    )
    assert inputs and all(x.is_cuda and x.dtype == torch.float32 for x in inputs)
    assert all(x.is_contiguous(memory_format=torch.channels_last) for x in inputs)
    assert result.record.channels_last is True and result.record.final_metrics.n_images == 6


def test_channels_last_module_on_cuda(tmp_path: Path, sample_root: Path) -> None:
    weights = alexnet_file(tmp_path, sample_root)
    plain = eval_alexnet(tmp_path, sample_root, weights, device="cuda")
    cl = eval_alexnet(tmp_path, sample_root, weights, device="cuda", channels_last=True)
    assert (preds(plain)[:, 0] == preds(cl)[:, 0]).mean() >= 0.9


class Hungry(torch.nn.Module):
    """Allocates a real CUDA buffer per image: a fixed share of the free memory each."""

    def __init__(self, per_image: int) -> None:
        super().__init__()
        self.per_image = per_image
        self.inner = Tiny()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        buf = torch.empty(x.shape[0] * self.per_image, dtype=torch.uint8, device=x.device)
        buf.fill_(1)
        del buf
        return self.inner(x)


def test_real_cuda_out_of_memory_halves_the_batch(tmp_path: Path) -> None:
    free, _ = torch.cuda.mem_get_info()
    per_image = free // 3  # a batch of 8 or 4 cannot fit, 2 can
    model = Hungry(per_image).cuda().eval()
    load = lambda s, device: FakeLoaded(spec=s, module=model, device=device)  # noqa: E731
    (result,) = evaluate_specs(
        [("tiny", spec())],
        MemoryDataset(n=10),
        runs_dir=tmp_path / "runs",
        options=EvalOptions(device="cuda", batch_size=8),
        load=load,
    )
    assert result.record.batch_size == 2
    assert any("out of memory" in n and "retrying with 4" in n for n in result.notes)
    assert any("retrying with 2" in n for n in result.notes)
    assert result.record.final_metrics.n_images == 10
    cpu = evaluate_specs(
        [("tiny", spec())],
        MemoryDataset(n=10),
        runs_dir=tmp_path / "cpu",
        options=EvalOptions(device="cpu"),
        load=lambda s, device: FakeLoaded(spec=s, module=Tiny(), device=device),
    )[0]
    assert (preds(cpu)[:, 0] == preds(result)[:, 0]).mean() >= 0.9


@pytest.mark.slow
def test_compile_on_cuda(tmp_path: Path) -> None:
    pytest.importorskip("triton")
    ds = MemoryDataset(n=8)
    prep = Preprocessing(resize_size=40, crop_size=32)
    assert prep == SMALL_PREP
    results = []
    for compile_ in (False, True):
        results += evaluate_specs(
            [("tiny", spec())],
            ds,
            runs_dir=tmp_path / str(compile_),
            options=EvalOptions(device="cuda", compile=compile_),
            load=lambda s, device: FakeLoaded(spec=s, module=Tiny().to(device), device=device),
        )
    assert results[1].record.compile is True
    assert np.array_equal(preds(results[0])[:, 0], preds(results[1])[:, 0])
