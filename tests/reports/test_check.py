"""The verdict logic on hand-built sides: paired McNemar, intervals, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from ilsvrc_bench.errors import DataError, ModelError
from ilsvrc_bench.reports.check import compare, newcombe_interval
from ilsvrc_bench.reports.sides import Side, side_from_row


def predictions(labels: np.ndarray, right: np.ndarray) -> pd.DataFrame:
    """A predictions table whose top-1 is right exactly where ``right`` is True."""
    preds = [
        [int(lab) if ok else (int(lab) + 1) % 1000, 900, 901, 902, 903]
        for lab, ok in zip(labels, right, strict=True)
    ]
    return pd.DataFrame(
        {
            "index": np.arange(len(labels)),
            "path": [f"img_{i:04d}.JPEG" for i in range(len(labels))],
            "label": labels,
            "blacklisted": False,
            "readable": True,
            "pred": preds,
            "prob": [[0.5, 0.1, 0.1, 0.1, 0.1]] * len(labels),
        }
    )


def run_side(label: str, df: pd.DataFrame, **kw: object) -> Side:
    acc = 100 * float((np.stack(list(df["pred"]))[:, 0] == df["label"]).mean())
    fields = {
        "top1_acc": acc,
        "top5_acc": acc,
        "n_images": len(df),
        "manifest_sha256": "a" * 64,
        "data": "sample",
        "protocol": "center",
        **kw,
    }
    return Side(label=label, kind="run", predictions=df, **fields)  # type: ignore[arg-type]


@pytest.fixture
def labels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 1000, size=400)


def test_run_against_itself_passes(labels: np.ndarray) -> None:
    df = predictions(labels, np.random.default_rng(1).random(400) < 0.6)
    v = compare(run_side("a", df), run_side("a", df))
    assert not v.regression
    assert v.method == "mcnemar"
    assert v.delta == 0 and v.lost == 0 and v.gained == 0 and v.p_value == 1.0
    assert v.line().startswith("PASS top1")


def test_clearly_worse_fails_and_p_value_matches_scipy(labels: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    base_ok = rng.random(400) < 0.7
    cand_ok = base_ok & (rng.random(400) < 0.7)  # loses ~30% of the right ones
    cand_ok[:5] = ~base_ok[:5] | cand_ok[:5]  # and gains a few
    v = compare(
        run_side("b", predictions(labels, base_ok)), run_side("c", predictions(labels, cand_ok))
    )
    lost = int((base_ok & ~cand_ok).sum())
    gained = int((~base_ok & cand_ok).sum())
    assert (v.lost, v.gained) == (lost, gained)
    expected = binomtest(gained, lost + gained, 0.5, alternative="two-sided").pvalue
    assert v.p_value == pytest.approx(expected, rel=1e-9)
    assert v.regression and v.line().startswith("REGRESSION")
    assert len(v.flips) == lost + gained
    assert set(v.flips["change"]) == {"lost", "gained"}
    assert v.candidate_acc == pytest.approx(100 * cand_ok.mean())


def test_small_noisy_drop_within_tolerance_passes(labels: np.ndarray) -> None:
    base_ok = np.random.default_rng(3).random(400) < 0.6
    cand_ok = base_ok.copy()
    cand_ok[np.flatnonzero(base_ok)[:3]] = False  # three images lost: noise
    v = compare(
        run_side("b", predictions(labels, base_ok)), run_side("c", predictions(labels, cand_ok))
    )
    assert v.delta < 0 and not v.significant and not v.regression
    assert any("within noise" in n for n in v.notes)


def test_max_drop_tolerates_a_real_but_small_drop(labels: np.ndarray) -> None:
    base_ok = np.ones(400, dtype=bool)
    cand_ok = base_ok.copy()
    cand_ok[:12] = False  # 3 points, significant
    b, c = run_side("b", predictions(labels, base_ok)), run_side("c", predictions(labels, cand_ok))
    assert compare(b, c, max_drop=1.0).regression
    assert not compare(b, c, max_drop=3.5).regression


def test_interval_method_with_aggregates_only() -> None:
    base = side_from_row(
        {"top1_acc": 70.0, "top5_acc": 90.0, "n_images": 5000}, label="b", kind="file"
    )
    worse = side_from_row(
        {"top1_err": 40.0, "top5_err": 12.0, "n_images": 5000}, label="c", kind="file"
    )
    v = compare(base, worse)
    assert v.method == "interval" and v.regression
    assert v.diff_ci is not None and v.diff_ci[0] < -10 < v.diff_ci[1] < 0
    same = compare(base, base)
    assert (
        not same.regression and same.diff_ci is not None and same.diff_ci[0] < 0 < same.diff_ci[1]
    )
    tiny = side_from_row(
        {"top1_acc": 65.0, "top5_acc": 88.0, "n_images": 20}, label="t", kind="file"
    )
    base20 = side_from_row(
        {"top1_acc": 70.0, "top5_acc": 90.0, "n_images": 20}, label="b", kind="file"
    )
    assert not compare(base20, tiny).regression  # 5 points on 20 images is noise


def test_newcombe_interval_brackets_difference() -> None:
    lo, hi = newcombe_interval(60.0, (55.0, 64.0), 50.0, (45.0, 55.0))
    assert lo < 10 < hi and lo > 0


def test_mismatched_data_refused(labels: np.ndarray) -> None:
    df = predictions(labels, np.ones(400, dtype=bool))
    with pytest.raises(DataError, match="different data"):
        compare(run_side("b", df), run_side("c", df, manifest_sha256="b" * 64, data="other"))
    with pytest.raises(DataError, match="different images"):
        compare(run_side("b", df), run_side("c", df.iloc[:300], n_images=300))


def test_mismatched_protocol_and_preprocessing_refused(labels: np.ndarray) -> None:
    df = predictions(labels, np.ones(400, dtype=bool))
    with pytest.raises(ModelError, match="different protocol: baseline center, candidate tencrop"):
        compare(run_side("b", df), run_side("c", df, protocol="tencrop"))
    pre_a = {"crop_size": 224, "resize_size": 256}
    pre_b = {"crop_size": 192, "resize_size": 256}
    with pytest.raises(ModelError, match="crop_size 224 vs 192"):
        compare(run_side("b", df, preprocessing=pre_a), run_side("c", df, preprocessing=pre_b))
    v = compare(
        run_side("b", df, preprocessing=pre_a),
        run_side("c", df, preprocessing=pre_b),
        allow_preprocessing=True,
    )
    assert not v.regression and any("crop_size" in n for n in v.notes)
    gpu = {**pre_a, "decoder": "nvjpeg"}  # only a GPU-decoded run records its decoder
    with pytest.raises(ModelError, match="decoder pillow vs nvjpeg"):
        compare(run_side("b", df, preprocessing=pre_a), run_side("c", df, preprocessing=gpu))


def test_reference_baseline() -> None:
    ref = Side(
        label="reference", kind="reference", top1_acc=56.522, top5_acc=79.066, n_images=50000
    )
    good = side_from_row(
        {"top1_acc": 56.0, "top5_acc": 79.0, "n_images": 500, "split": "val"},
        label="c",
        kind="file",
    )
    assert compare(ref, good).method == "reference"
    assert not compare(ref, good).regression
    bad = side_from_row(
        {"top1_acc": 20.0, "top5_acc": 40.0, "n_images": 500}, label="c", kind="file"
    )
    assert compare(ref, bad).regression
    tencrop = side_from_row(
        {"top1_acc": 56.0, "top5_acc": 79.0, "n_images": 500, "protocol": "tencrop"},
        label="c",
        kind="file",
    )
    with pytest.raises(ModelError, match="single centre crop"):
        compare(ref, tencrop)


def test_reference_side_from_published_weights_and_refusals() -> None:
    from ilsvrc_bench.reports.sides import reference_side

    cand = side_from_row(
        {"model": "alexnet", "weights": "IMAGENET1K_V1", "top1_acc": 50.0, "top5_acc": 75.0},
        label="c",
        kind="file",
    )
    ref = reference_side(cand)
    assert ref.top1_acc == pytest.approx(56.522) and ref.top5_acc == pytest.approx(79.066)
    assert ref.preprocessing is not None and ref.preprocessing["crop_size"] == 224
    random = side_from_row(
        {
            "model": "alexnet",
            "model_ref": "alexnet",
            "weights": "random",
            "weights_random": True,
            "top1_acc": 0.1,
            "top5_acc": 0.5,
            "n_images": 100,
        },
        label="r",
        kind="run",
    )
    with pytest.raises(ModelError, match="random weights"):
        reference_side(random)
    nameless = side_from_row({"top1_acc": 1.0, "top5_acc": 2.0}, label="n", kind="file")
    with pytest.raises(ModelError, match="names no model"):
        reference_side(nameless)


def test_incomplete_run_is_refused() -> None:
    from ilsvrc_bench.errors import RunError

    with pytest.raises(RunError, match="not complete"):
        side_from_row({"status": "running"}, label="x", kind="run")


def test_aggregates_without_counts_use_point_estimates() -> None:
    base = side_from_row({"top1_acc": 70.0, "top5_acc": 90.0}, label="b", kind="file")
    worse = side_from_row({"top1_acc": 60.0, "top5_acc": 85.0}, label="c", kind="file")
    v = compare(base, worse, max_drop=1)
    assert v.regression and v.diff_ci is None
    assert "point estimates only" in v.line()
    assert not compare(base, worse, max_drop=20).regression
