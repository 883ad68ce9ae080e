"""An ensemble of the real int8 MobileNetV2 at two resize rules, on the 200 real photos."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from ilsvrc_bench import runs
from ilsvrc_bench.data import prepare
from ilsvrc_bench.data.sample import pack_official
from ilsvrc_bench.engine import EvalOptions, evaluate
from ilsvrc_bench.engine.ensemble import build_ensemble
from ilsvrc_bench.metrics import topk

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def real_dataset(real_images: Path, base: Path) -> Path:
    """The 200 photos packed into the official layout and prepared as ``real``; the root."""
    files = sorted(real_images.glob("*.JPEG"))
    random.Random(7).shuffle(files)
    pack_official(base / "src", [(f.read_bytes(), f.name.split("_")[0]) for f in files])
    prepare([base / "src"], root=base / "root", name="real")
    return base / "root"


def test_real_ensemble(real_images: Path, real_onnx: Path, tmp_path: Path) -> None:
    root = real_dataset(real_images, tmp_path)
    options = EvalOptions(device="cpu", batch_size=25, resume=False, save_logits=True)
    members = [
        evaluate(
            [f"onnx:{real_onnx}"],
            data="real",
            root=root,
            runs_dir=tmp_path / "runs",
            preprocessing={"resize_size": size},
            options=options,
        )[0]
        for size in (256, 232)
    ]
    ens = build_ensemble([m.run_dir for m in members], runs_dir=tmp_path / "runs")
    stored = [np.load(m.run_dir / "logits.npy").astype(np.float64) for m in members]
    exps = [np.exp(x - x.max(axis=1, keepdims=True)) for x in stored]
    probs = np.mean([e / e.sum(axis=1, keepdims=True) for e in exps], axis=0)
    table = runs.read_predictions(ens.run_dir)
    assert (np.stack(table["pred"].to_list())[:, 0] == topk(probs, 1)[:, 0]).all()
    accs = [m.record.final_metrics.top1_acc for m in members]
    ens_acc = ens.record.final_metrics.top1_acc
    assert min(accs) > 60 and ens_acc > 60
    assert ens.record.preprocessing["members"][0]["resize_size"] == 256
