"""The real uint8 MobileNet V1 TFLite model through the whole eval, against a loop over LiteRT
written here with PIL and numpy only (TensorFlow's central crop, raw uint8 pixels, argmax)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ilsvrc_bench import runs
from ilsvrc_bench.data import open_dataset
from ilsvrc_bench.engine import EvalOptions, evaluate
from ilsvrc_bench.models import resolve

SHA256 = "3cc6d2ca460abd2e0f699a6d0d2550c6b61c6e3b0e27a3616e384ea74cb86f43"


def independent_top5(images: list[bytes], model: Path) -> np.ndarray:
    """Central 87.5% of each side, bilinear to 160 x 160, uint8 NHWC, one image per invoke."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    top5 = []
    for data in images:
        img = Image.open(io.BytesIO(data)).convert("RGB")
        w, h = img.size
        dx, dy = int((w - w * 0.875) / 2), int((h - h * 0.875) / 2)
        crop = img.crop((dx, dy, w - dx, h - dy)).resize((160, 160), Image.Resampling.BILINEAR)
        interpreter.set_tensor(inp["index"], np.asarray(crop, dtype=np.uint8)[None])
        interpreter.invoke()
        scores = interpreter.get_tensor(out["index"])[0, 1:].astype(np.int64)  # drop background
        # Ties (frequent in uint8 outputs) go to the lower class index.
        top5.append(np.argsort(-scores, kind="stable")[:5])
    return np.stack(top5)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_tflite_eval_agrees_with_an_independent_litert_loop(
    real_tflite: Path, real200_root: Path, tmp_path: Path
) -> None:
    spec = resolve(f"tflite:{real_tflite}")
    assert (spec.num_outputs, spec.class_offset, spec.preprocessing.crop_size) == (1001, 1, 160)
    assert spec.preprocessing.central_fraction == 0.875
    assert any("background" in note for note in spec.notes)
    dataset = open_dataset("real200", root=real200_root)
    (result,) = evaluate(
        [str(real_tflite)],
        data="real200",
        root=real200_root,
        runs_dir=tmp_path / "runs",
        options=EvalOptions(device="cpu", batch_size=32, workers=1),
    )
    assert result.record.weights.sha256 == SHA256
    df = runs.read_predictions(result.run_dir)  # manifest order, as dataset.records
    labels = np.array([r.class_index for r in dataset.records])
    assert np.array_equal(df["label"].to_numpy(), labels)
    pred = np.stack(df["pred"].to_list())
    theirs = independent_top5([dataset.read_bytes(r) for r in dataset.records], real_tflite)
    assert np.array_equal(pred[:, 0], theirs[:, 0]), np.flatnonzero(pred[:, 0] != theirs[:, 0])
    assert np.array_equal(pred, theirs)
    metrics = result.record.final_metrics
    top1 = int((theirs[:, 0] == labels).sum())
    top5 = int((theirs == labels[:, None]).any(axis=1).sum())
    assert (metrics.top1_correct, metrics.top5_correct) == (top1, top5)
    assert top1 / 200 > 0.5  # a real pretrained model on real photographs: far above chance
