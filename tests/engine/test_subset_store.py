"""--limit subsets, the chunk store and the accounting check."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ilsvrc_bench.engine.store import PredictionStore, Rows, check_accounting
from ilsvrc_bench.engine.subset import stratified_subset, subset_digest
from ilsvrc_bench.errors import RunError
from tests.engine.helpers import Rec


def records(n: int, n_classes: int) -> list[Rec]:
    return [Rec(i, f"{i}.JPEG", (i * 7) % n_classes) for i in range(n)]


def test_subset_is_stratified_deterministic_and_in_manifest_order() -> None:
    recs = records(100, 10)
    chosen, digest = stratified_subset(recs, 25)
    assert len(chosen) == 25
    assert sorted(Counter(r.class_index for r in chosen).values()) == [2] * 5 + [3] * 5
    assert [r.index for r in chosen] == sorted(r.index for r in chosen)
    assert stratified_subset(recs, 25) == (chosen, digest)
    assert digest == subset_digest([r.index for r in chosen])
    assert stratified_subset(recs, 100) == (recs, None)
    assert stratified_subset(recs, None) == (recs, None)


def rows(indices: list[int], logits: bool = False) -> Rows:
    n = len(indices)
    return Rows(
        np.array(indices, dtype=np.int64),
        np.ones(n, bool),
        np.tile(np.arange(5), (n, 1)),
        np.full((n, 5), 0.2, np.float32),
        [""] * n,
        np.zeros((n, 1000), np.float16) if logits else None,
    )


def test_store_flushes_durably_and_reopens(tmp_path: Path) -> None:
    store = PredictionStore(tmp_path, save_logits=True)
    store.append(rows([0, 1], logits=True))
    store.flush()
    store.append(rows([1, 2], logits=True))  # 1 is already stored: ignored
    store.flush()
    again = PredictionStore(tmp_path, save_logits=True)
    assert again.done == {0, 1, 2} and again.n_reused == 3
    # A store that needs logits ignores chunks written without them.
    (tmp_path / "chunks" / "chunk-000001.logits.npy").unlink()
    partial = PredictionStore(tmp_path, save_logits=True)
    assert partial.done == {0, 1} and partial.notes


def test_store_finish_writes_predictions_in_manifest_order(tmp_path: Path) -> None:
    store = PredictionStore(tmp_path, save_logits=False)
    store.append(rows([2, 0]))
    store.flush()
    store.append(rows([1]))
    out = store.finish([Rec(0, "a", 1), Rec(1, "b", 2), Rec(2, "c", 3)])
    assert out.index.tolist() == [0, 1, 2]
    assert (tmp_path / "predictions.parquet").is_file()
    assert not (tmp_path / "chunks").exists()


def test_finish_refuses_a_missing_image(tmp_path: Path) -> None:
    store = PredictionStore(tmp_path, save_logits=False)
    store.append(rows([0]))
    with pytest.raises(RunError, match=r"accounting failed: scored 1 predictions for 2 images"):
        store.finish([Rec(0, "a", 1), Rec(1, "b", 2)])
    assert (tmp_path / "chunks").is_dir()  # kept for resume


def test_accounting_names_duplicates_and_extras() -> None:
    check_accounting(np.array([2, 0, 1]), np.array([0, 1, 2]))
    with pytest.raises(RunError, match="1 duplicated"):
        check_accounting(np.array([0, 0, 1]), np.array([0, 1, 2]))
    with pytest.raises(RunError, match="1 unexpected"):
        check_accounting(np.array([0, 1, 5]), np.array([0, 1]))
