"""``eval`` on a subset-of-classes dataset ranks only the dataset's classes, and says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ilsvrc_bench import runs
from ilsvrc_bench.data import prepare
from ilsvrc_bench.data.shifts import class_subset, subset_wnids
from ilsvrc_bench.engine import EvalOptions, evaluate
from ilsvrc_bench.metrics import topk
from tests.shifts.layouts import from_real, generated

OPTIONS = EvalOptions(device="cpu", batch_size=4, resume=False, save_logits=True)
PREP = {"resize_size": 40, "crop_size": 32}


def test_logits_outside_the_subset_never_rank(tmp_path: Path) -> None:
    inside = class_subset("imagenet-r") or ()
    wnids = (subset_wnids("imagenet-r") or ())[:3]
    prepare([generated(tmp_path / "imagenet-r", wnids)], root=tmp_path / "root")
    (result,) = evaluate(
        ["tests.shifts.models:outside_then_r"],
        data="imagenet-r",
        root=tmp_path / "root",
        runs_dir=tmp_path / "runs",
        preprocessing=PREP,
        options=OPTIONS,
    )
    metrics = result.record.final_metrics
    # Unrestricted, five classes outside the set would win every image (top-1 and top-5 = 0).
    # Restricted, the set's first class is first: top-1 = its 2 of 6 images, top-5 = all 6.
    assert (metrics.top1_correct, metrics.top5_correct) == (2, 6)
    assert result.record.data.class_subset == tuple(inside)
    assert any("restricted to the dataset's 200 classes" in n for n in result.record.notes)
    pred = np.stack(runs.read_predictions(result.run_dir)["pred"].to_list())
    assert set(pred.ravel().tolist()) <= set(inside)
    logits = runs.read_logits(result.run_dir)
    assert logits is not None
    outside = np.setdiff1d(np.arange(1000), np.asarray(inside))
    assert np.isneginf(logits[:, outside]).all()


def test_full_1000_class_sets_are_not_restricted(tmp_path: Path) -> None:
    wnids = (subset_wnids("imagenet-r") or ())[:2]
    prepare([generated(tmp_path / "sketch", wnids)], root=tmp_path / "root")
    (result,) = evaluate(
        ["tests.shifts.models:outside_then_r"],
        data="imagenet-sketch",
        root=tmp_path / "root",
        runs_dir=tmp_path / "runs",
        preprocessing=PREP,
        options=OPTIONS,
    )
    assert result.record.data.class_subset is None
    assert result.record.final_metrics.top5_correct == 0


@pytest.mark.realdata
@pytest.mark.parametrize("kind", ["imagenet-r", "imagenet-a"])
def test_real_model_on_real_photos_matches_an_independent_restricted_loop(
    kind: str, real_images: Path, real_onnx: Path, tmp_path: Path
) -> None:
    import onnxruntime as ort

    from tests.models.test_onnx import _independent_input

    src = from_real(tmp_path / kind, real_images, subset_wnids(kind))
    prepare([src], root=tmp_path / "root")
    (result,) = evaluate(
        [f"onnx:{real_onnx}"],
        data=kind,
        root=tmp_path / "root",
        runs_dir=tmp_path / "runs",
        options=EvalOptions(device="cpu", batch_size=16, resume=False),
    )
    table = runs.read_predictions(result.run_dir)
    session = ort.InferenceSession(str(real_onnx), providers=["CPUExecutionProvider"])
    files = [src / p for p in table["path"]]
    logits = np.concatenate([session.run(None, {"input": _independent_input(f)})[0] for f in files])
    keep = np.zeros(1000, bool)
    keep[list(class_subset(kind) or ())] = True
    restricted = np.where(keep, logits, -np.inf)
    theirs = topk(restricted, k=5)
    ours = np.stack(table["pred"].to_list())
    assert (ours[:, 0] == theirs[:, 0]).all()
    labels = table["label"].to_numpy()
    m = result.record.final_metrics
    assert m.top1_correct == int((theirs[:, 0] == labels).sum())
    unrestricted = topk(logits, k=1)[:, 0]
    # Restricting can only turn misses into hits, never the reverse.
    assert m.top1_correct >= int((unrestricted == labels).sum())
