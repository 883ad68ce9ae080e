"""Re-scoring stored predictions: blacklist, ReaL labels, per class, WordNet distances."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ilsvrc_bench.errors import DataError
from ilsvrc_bench.reports import rescore


def table(
    labels: list[int], top1: list[int], *, blacklisted: list[bool] | None = None
) -> pd.DataFrame:
    n = len(labels)
    return pd.DataFrame(
        {
            "index": range(n),
            "path": [f"val/ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(n)],
            "label": labels,
            "blacklisted": blacklisted or [False] * n,
            "readable": [p >= 0 for p in top1],
            "pred": [[p, 996, 997, 998, 999] if p >= 0 else [-1] * 5 for p in top1],
            "prob": [[0.5, 0.1, 0.1, 0.1, 0.1]] * n,
        }
    )


def test_standard_and_blacklist() -> None:
    df = table([1, 2, 3, 4], [1, 2, 0, 996], blacklisted=[False, True, False, False])
    std = rescore.rescore(df)
    assert std.scoring == "standard"
    assert (std.accuracy.n_images, std.accuracy.top1_correct, std.accuracy.top5_correct) == (
        4,
        2,
        2,
    )
    bl = rescore.rescore(df, exclude_blacklist=True)
    assert bl.scoring == "blacklist excluded" and bl.n_skipped == 1
    assert (bl.accuracy.n_images, bl.accuracy.top1_correct) == (3, 1)


def test_real_labels_from_a_real_json_file(tmp_path: Path) -> None:
    # val 1: empty list (skipped); val 2: two acceptable labels; val 3: the original label is wrong;
    # val 4: top-5 hit only; val 5: unreadable image.
    real = [[], [7, 8], [5], [999], [3]]
    path = tmp_path / "real.json"
    path.write_text(json.dumps(real))
    df = table([1, 7, 3, 4, 3], [1, 8, 3, 4, -1])
    r = rescore.rescore(df, real_labels=rescore.load_real_labels(path))
    assert r.scoring == "ReaL" and r.n_skipped == 1
    # counted: val 2 (8 in [7, 8]: right), val 3 (3 not in [5]: wrong), val 4 (999 in top-5),
    # val 5 (unreadable: wrong)
    assert (r.accuracy.n_images, r.accuracy.top1_correct, r.accuracy.top5_correct) == (4, 1, 2)
    assert r.accuracy.top1_acc == 25.0
    std = rescore.rescore(df)
    assert std.accuracy.top1_correct == 3  # the standard labels disagree


def test_real_labels_refuse_bad_files_and_names(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([[1], [1000]]))
    with pytest.raises(DataError, match="entry 1"):
        rescore.load_real_labels(bad)
    df = table([1], [1]).assign(path=["n01440764/some.JPEG"])
    with pytest.raises(DataError, match="official val file name"):
        rescore.rescore(df, real_labels=[[1]])
    with pytest.raises(DataError, match="no entry"):
        rescore.rescore(table([1, 2], [1, 2]), real_labels=[[1]])


def test_timm_copy_is_found_without_import() -> None:
    path = rescore.default_real_labels()
    if path is None:
        pytest.skip("timm is not installed")
    assert path.name == "imagenet_real_labels.json"
    assert len(rescore.load_real_labels(path)) == 50000


def test_per_class_worst_and_best() -> None:
    df = table([0, 0, 5, 5, 9], [0, 0, 5, 1, 2])
    pc = rescore.per_class(df)
    assert list(pc["class_index"]) == [9, 5, 0]
    assert list(pc["top1_acc"]) == [0.0, 50.0, 100.0]
    assert pc.loc[pc["class_index"] == 0, "wnid"].item() == "n01440764"
    assert pc.loc[pc["class_index"] == 0, "name"].item()
    worst, best = rescore.worst_and_best(pc, 1)
    assert worst["class_index"].item() == 9 and best["class_index"].item() == 0


def test_wordnet_view() -> None:
    wnids = [f"w{i}" for i in range(6)]
    parent_of = {
        "w0": "dog",
        "w1": "dog",
        "w2": "cat",
        "dog": "carnivore",
        "cat": "carnivore",
        "carnivore": "animal",
        "w3": "car",
        "car": "vehicle",
    }
    # w0 -> w1 same parent; w0 -> w2 near (w0-dog-carnivore-cat-w2 = 4 steps); w0 -> w3 far;
    # one unreadable; one right
    df = table([0, 0, 0, 0, 0], [1, 2, 3, -1, 0])
    view = rescore.wordnet_view(df, parent_of, wnids=wnids)
    counts = dict(zip(view.kinds["kind"], view.kinds["n_mistakes"], strict=True))
    assert counts == {"same parent": 1, "near (within 4 steps)": 1, "far": 1, "no prediction": 1}
    assert view.kinds["share"].sum() == pytest.approx(100)
    assert len(view.confusions) == 3
    assert rescore.tree_distance("w0", "w2", parent_of) == 4
    assert rescore.tree_distance("w0", "w3", parent_of) is None
    assert np.isnan(
        rescore.wordnet_view(table([0], [0]), parent_of, wnids=wnids).kinds["share"]
    ).all()


def test_a_short_real_labels_file_is_named(tmp_path: Path) -> None:
    short = tmp_path / "my real [v2].json"
    short.write_text(json.dumps([[1]]))
    with pytest.raises(DataError) as caught:
        rescore.rescore(table([1, 2], [1, 2]), real_labels=rescore.load_real_labels(short))
    assert str(caught.value).startswith(f"{short}: val image 2 has no entry (1 entries")
