"""Prediction chunks are built column by column from numpy buffers: the same table pyarrow's
own conversion makes, for every kind of row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from ilsvrc_bench.engine.store import TOPK, Rows, _chunk_table


def _reference(rows: Rows) -> pa.Table:
    """The table as pyarrow.array() builds it from the same rows."""
    return pa.table(
        {
            "index": pa.array(rows.index, type=pa.int64()),
            "readable": pa.array(rows.readable, type=pa.bool_()),
            "error": pa.array([e or None for e in rows.errors], type=pa.string()),
            "finite": pa.array(rows.finite_mask, type=pa.bool_()),
            "pred": pa.array(rows.pred.tolist(), type=pa.list_(pa.int64(), TOPK)),
            "prob": pa.array(rows.prob.tolist(), type=pa.list_(pa.float32(), TOPK)),
        }
    )


def _rows(n: int, seed: int) -> Rows:
    rng = np.random.default_rng(seed)
    errors = [
        rng.choice(["", "cannot identify image file 'ä/b.JPEG'", "truncated"]) for _ in range(n)
    ]
    return Rows(
        index=rng.permutation(50_000)[:n].astype(np.int64),
        readable=np.array([not e for e in errors], dtype=bool),
        pred=rng.integers(0, 1000, (n, TOPK)),
        prob=rng.random((n, TOPK), dtype=np.float32),
        errors=[str(e) for e in errors],
        logits=None,
        finite=rng.random(n) > 0.2 if seed % 2 else None,
    )


@pytest.mark.parametrize(("n", "seed"), [(0, 0), (1, 1), (7, 2), (8, 3), (9, 4), (133, 5)])
def test_chunk_table_equals_pyarrow_conversion(n: int, seed: int) -> None:
    rows = _rows(n, seed)
    table = _chunk_table(rows)
    table.validate(full=True)
    assert table.equals(_reference(rows))
    assert table.column("error").null_count == sum(1 for e in rows.errors if not e)


def test_slices_of_rows_are_copied_contiguously() -> None:
    rows = _rows(20, 7)
    strided = Rows(
        rows.index[::2], rows.readable[::2], rows.pred[::2], rows.prob[::2],
        rows.errors[::2], None, None,
    )  # fmt: skip
    assert _chunk_table(strided).equals(_reference(strided))


def test_predictions_table_equals_pyarrow_conversion() -> None:
    from ilsvrc_bench.runs import predictions_table

    rows = _rows(11, 9)
    paths = [f"n01440764/ILSVRC2012_val_{i:08d}.JPEG" for i in rows.index]
    labels = np.arange(11) * 90
    blacklisted = np.arange(11) % 3 == 0
    table = predictions_table(
        index=rows.index.tolist(),
        path=paths,
        label=labels,
        blacklisted=blacklisted,
        readable=rows.readable,
        pred=rows.pred,
        prob=rows.prob,
    )
    table.validate(full=True)
    reference = pa.table(
        {
            "index": pa.array(rows.index, type=pa.int64()),
            "path": pa.array(paths, type=pa.string()),
            "label": pa.array(labels, type=pa.int64()),
            "blacklisted": pa.array(blacklisted),
            "readable": pa.array(rows.readable),
            "pred": pa.array(rows.pred.tolist(), type=pa.list_(pa.int64(), TOPK)),
            "prob": pa.array(rows.prob.tolist(), type=pa.list_(pa.float32(), TOPK)),
        }
    )
    assert table.equals(reference)
