"""Real architectures and a real ONNX model through the engine, checked against loops written
here with plain torchvision transforms, onnxruntime and the documented top-k tie rule."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

from ilsvrc_bench import metrics, runs
from ilsvrc_bench.data import open_dataset
from ilsvrc_bench.engine import EvalOptions, evaluate

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def independent_topk(
    images: Sequence[bytes],
    forward: Callable[[torch.Tensor], np.ndarray],
    *,
    resize: int,
    crop: int,
    batch_size: int,
) -> np.ndarray:
    """Decode with PIL, torchvision's own transforms, forward in manifest-order batches, top-5."""
    tf = T.Compose([T.Resize(resize), T.CenterCrop(crop), T.ToTensor(), T.Normalize(MEAN, STD)])
    xs = [tf(Image.open(io.BytesIO(b)).convert("RGB")) for b in images]
    out = []
    for start in range(0, len(xs), batch_size):
        logits = forward(torch.stack(xs[start : start + batch_size]))
        # The tie rule: higher score first, equal scores by lower class index.
        out.append(np.argsort(-logits, axis=1, kind="stable")[:, :5])
    return np.concatenate(out)


def engine_vs_loop(result: object, labels: np.ndarray, expected_pred: np.ndarray) -> None:
    record = result.record  # type: ignore[attr-defined]
    df = runs.read_predictions(result.run_dir)  # type: ignore[attr-defined]
    pred = np.stack(df["pred"].to_list())
    assert np.array_equal(df["label"].to_numpy(), labels)
    top1 = int((expected_pred[:, 0] == labels).sum())
    top5 = int((expected_pred == labels[:, None]).any(axis=1).sum())
    assert record.final_metrics.top1_correct == top1
    assert record.final_metrics.top5_correct == top5
    assert record.final_metrics.top1_acc == 100 * top1 / len(labels)
    assert record.final_metrics.top5_acc == 100 * top5 / len(labels)
    assert np.array_equal(pred, expected_pred)


def informative(model: torch.nn.Module, last: torch.nn.Linear, classes: Sequence[int]) -> None:
    """Random weights, but only the sample's classes can win, so accuracies are not all zero."""
    with torch.no_grad():
        bias = torch.full_like(last.bias, -1e3)
        bias[list(classes)] = 0.0
        last.bias.copy_(bias)
        last.weight.mul_(50.0)


def run_real(
    arch: str, tmp_path: Path, sample_root: Path, *, resize: int, crop: int, batch: int
) -> None:
    dataset = open_dataset("sample", root=sample_root)
    records = dataset.records
    labels = np.array([r.class_index for r in records])
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)().eval()
    informative(model, model.classifier[-1], sorted(set(labels.tolist())))
    weights = tmp_path / f"{arch}.pth"
    torch.save(model.state_dict(), weights)

    (result,) = evaluate(
        [arch],
        data="sample",
        root=sample_root,
        runs_dir=tmp_path / "runs",
        weights=str(weights),
        preprocessing={"resize_size": resize, "crop_size": crop},
        options=EvalOptions(device="cpu", batch_size=batch, workers=0),
    )
    assert result.record.weights.path == str(weights)
    assert result.record.weights.random is False
    import hashlib

    assert result.record.weights.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()

    def forward(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return model(x).numpy()

    images = [dataset.read_bytes(r) for r in records]
    expected = independent_topk(images, forward, resize=resize, crop=crop, batch_size=batch)
    engine_vs_loop(result, labels, expected)
    assert result.record.final_metrics.top5_acc > 0


@pytest.mark.slow
def test_alexnet_weights_file_on_official_layout(tmp_path: Path, sample_root: Path) -> None:
    run_real("alexnet", tmp_path, sample_root, resize=73, crop=64, batch=8)


@pytest.mark.slow
def test_vgg16_weights_file_on_official_layout(tmp_path: Path, sample_root: Path) -> None:
    run_real("vgg16", tmp_path, sample_root, resize=36, crop=32, batch=8)


@pytest.mark.slow
@pytest.mark.realdata
def test_onnx_on_real_images_in_official_layout(
    tmp_path: Path, real200_root: Path, real_onnx: Path
) -> None:
    import onnxruntime as ort

    dataset = open_dataset("real200", root=real200_root)
    assert len(dataset.records) == 200
    labels = np.array([r.class_index for r in dataset.records])
    assert sorted(set(labels.tolist())) == list(range(0, 1000, 5))

    (result,) = evaluate(
        [str(real_onnx)],
        data="real200",
        root=real200_root,
        runs_dir=tmp_path / "runs",
        options=EvalOptions(device="cpu", batch_size=50, workers=1),
    )
    session = ort.InferenceSession(str(real_onnx), providers=["CPUExecutionProvider"])

    def forward(x: torch.Tensor) -> np.ndarray:
        return session.run(None, {"input": x.numpy()})[0]

    images = [dataset.read_bytes(r) for r in dataset.records]
    expected = independent_topk(images, forward, resize=256, crop=224, batch_size=50)
    engine_vs_loop(result, labels, expected)
    # A real pretrained model on real photographs: far above chance.
    assert result.record.final_metrics.top1_acc > 50
    assert metrics.accuracy(labels, expected).top5_acc > 75
