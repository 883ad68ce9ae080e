"""The prediction store: durable chunk files while a run is going, what ``--resume`` reads.

Each flush writes ``chunks/chunk-NNNNNN.parquet`` (columns ``index``, ``readable``, ``error``,
``pred``, ``prob``, ``finite``) and, with ``--save-logits``, ``chunk-NNNNNN.logits.npy`` first;
under torchrun each rank writes ``chunk-rRRRRR-NNNNNN.*`` into the same folder. Both are
written to a temporary file, fsynced and renamed, so a chunk that exists is complete and a
crash or a full disk loses at most the rows not yet flushed. ``finish`` consolidates the chunks
into ``predictions.parquet`` (and ``logits.npy``) in manifest order and removes them.
A store reads every chunk in the folder, whichever rank (or earlier process) wrote it, so a run
resumes from all of them with any number of ranks.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ilsvrc_bench import runs
from ilsvrc_bench.errors import RunError
from ilsvrc_bench.runs.files import (
    bool_array,
    float32_array,
    int64_array,
    string_array,
    topk_array,
)

_CHUNK_RE = re.compile(r"^(chunk-(?:r\d{6}-)?)(\d{6})\.parquet$")
TOPK = 5


@dataclass
class Rows:
    """Predictions for some images; arrays aligned by row."""

    index: np.ndarray  # int64 [n] manifest rows
    readable: np.ndarray  # bool [n]
    pred: np.ndarray  # int64 [n, 5]
    prob: np.ndarray  # float32 [n, 5]
    errors: list[str]
    logits: np.ndarray | None  # float16 [n, 1000] or None
    # bool [n]: False where the model's output held NaN or inf (scored as a miss); None: all True
    finite: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def finite_mask(self) -> np.ndarray:
        return self.finite if self.finite is not None else np.ones(len(self.index), bool)

    @staticmethod
    def concat(parts: Sequence[Rows], *, with_logits: bool) -> Rows:
        if not parts:
            return Rows(
                np.zeros(0, np.int64),
                np.zeros(0, bool),
                np.zeros((0, TOPK), np.int64),
                np.zeros((0, TOPK), np.float32),
                [],
                np.zeros((0, 1000), np.float16) if with_logits else None,
            )
        logits = None
        if with_logits:
            logits = np.concatenate([p.logits for p in parts if p.logits is not None])
        return Rows(
            np.concatenate([p.index for p in parts]),
            np.concatenate([p.readable for p in parts]),
            np.concatenate([p.pred for p in parts]),
            np.concatenate([p.prob for p in parts]),
            [e for p in parts for e in p.errors],
            logits,
            np.concatenate([p.finite_mask for p in parts]),
        )


class PredictionStore:
    """Chunked, durable per-image predictions of one run directory."""

    def __init__(self, run_dir: Path, *, save_logits: bool, rank: int | None = None) -> None:
        """``rank``: this process's rank under torchrun (its chunks get their own names)."""
        self.run_dir = Path(run_dir)
        self.prefix = "chunk-" if rank is None else f"chunk-r{rank:06d}-"
        self.chunks_dir = self.run_dir / runs.CHUNKS
        self.save_logits = save_logits
        self.notes: list[str] = []
        self._parts: list[Rows] = []
        self._buffer: list[Rows] = []
        self._next = 0
        self.done: set[int] = set()
        # pyarrow takes a while to import: not inside the timed pass, at the first flush.
        import pyarrow.parquet  # noqa: F401

        self._load()

    @property
    def n_reused(self) -> int:
        """Rows found on disk when the store was opened."""
        return self._n_loaded

    def _load(self) -> None:
        import pyarrow.parquet as pq

        self._n_loaded = 0
        if not self.chunks_dir.is_dir():
            return
        for path in sorted(self.chunks_dir.iterdir()):
            match = _CHUNK_RE.match(path.name)
            if not match:
                continue
            if match.group(1) == self.prefix:
                self._next = max(self._next, int(match.group(2)) + 1)
            try:
                table = pq.read_table(path)
                rows = Rows(
                    table.column("index").to_numpy().astype(np.int64),
                    table.column("readable").to_numpy(zero_copy_only=False).astype(bool),
                    np.stack(table.column("pred").to_pylist()).astype(np.int64).reshape(-1, TOPK),
                    np.stack(table.column("prob").to_pylist()).astype(np.float32).reshape(-1, TOPK),
                    [e or "" for e in table.column("error").to_pylist()],
                    None,
                    # Chunks written before the column existed: every output was finite.
                    table.column("finite").to_numpy(zero_copy_only=False).astype(bool)
                    if "finite" in table.column_names
                    else None,
                )
                if self.save_logits:
                    rows.logits = np.load(path.with_suffix(".logits.npy"), allow_pickle=False)
                    if rows.logits is None or len(rows.logits) != len(rows):
                        raise ValueError("logits rows differ")
            except Exception as exc:  # a chunk we cannot use is recomputed, not trusted
                self.notes.append(f"ignored unusable chunk {path.name}: {exc}")
                continue
            fresh = np.array([i not in self.done for i in rows.index.tolist()], dtype=bool)
            if not fresh.all():
                rows = _select(rows, fresh)
            self.done.update(rows.index.tolist())
            self._parts.append(rows)
            self._n_loaded += len(rows)

    def forget_unreadable(self) -> int:
        """Drop stored rows of unreadable images so that they are read again; how many.

        ``--strict`` on resume: an earlier run that counted them as misses must not let them
        through.
        """
        forgotten = 0
        for i, part in enumerate(self._parts):
            bad = ~part.readable
            if bad.any():
                self.done.difference_update(part.index[bad].tolist())
                forgotten += int(bad.sum())
                self._parts[i] = _select(part, ~bad)
        self._n_loaded -= forgotten
        return forgotten

    def append(self, rows: Rows) -> None:
        """Buffer rows (images not already stored); ``flush`` makes them durable."""
        fresh = np.array([i not in self.done for i in rows.index.tolist()], dtype=bool)
        if not fresh.all():
            rows = _select(rows, fresh)
        if len(rows):
            self.done.update(rows.index.tolist())
            self._buffer.append(rows)

    def flush(self) -> None:
        """Write buffered rows as one durable chunk; :class:`RunError` if the disk refuses."""
        if not self._buffer:
            return
        rows = Rows.concat(self._buffer, with_logits=self.save_logits)
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        base = self.chunks_dir / f"{self.prefix}{self._next:06d}"
        # Logits first: a chunk's parquet file existing means the whole chunk is on disk.
        # On failure (RunError) the rows stay buffered and nothing of the chunk counts.
        if self.save_logits and rows.logits is not None:
            runs.write_logits(base.with_suffix(".logits.npy"), rows.logits)
        runs.write_parquet(base.with_suffix(".parquet"), _chunk_table(rows))
        self._next += 1
        self._buffer.clear()
        self._parts.append(rows)

    def rows(self) -> Rows:
        """Every stored and buffered row, sorted by manifest index."""
        rows = Rows.concat(self._parts + self._buffer, with_logits=self.save_logits)
        order = np.argsort(rows.index, kind="stable")
        return _select(rows, order)

    def finish(self, records: Sequence[Any]) -> Rows:
        """Write ``predictions.parquet`` (+ ``logits.npy``) for ``records`` and drop the chunks.

        Raises :class:`RunError` unless every record has exactly one row and no row is extra.
        """
        self.flush()
        records = sorted(records, key=lambda r: r.index)
        rows = self.rows()
        expected = np.array([r.index for r in records], dtype=np.int64)
        check_accounting(rows.index, expected)
        write_predictions(self.run_dir, rows, records, save_logits=self.save_logits)
        shutil.rmtree(self.chunks_dir, ignore_errors=True)
        return rows


def write_predictions(
    run_dir: Path, rows: Rows, records: Sequence[Any], *, save_logits: bool
) -> None:
    """Write ``predictions.parquet`` (and ``logits.npy`` when ``save_logits``) into ``run_dir``;
    ``rows`` and the manifest ``records`` are aligned, both in manifest order."""
    table = runs.predictions_table(
        index=rows.index,
        path=[r.path for r in records],
        label=[r.class_index for r in records],
        blacklisted=[r.blacklisted for r in records],
        readable=rows.readable,
        pred=rows.pred,
        prob=rows.prob,
    )
    if save_logits and rows.logits is not None:
        runs.write_logits(run_dir / runs.LOGITS, rows.logits)
    runs.write_parquet(run_dir / runs.PREDICTIONS, table)


def check_accounting(scored: np.ndarray, expected: np.ndarray) -> None:
    """Every expected manifest row scored exactly once, nothing else; RunError otherwise."""
    if len(scored) == len(expected) and np.array_equal(np.sort(scored), np.sort(expected)):
        return
    uniq, counts = np.unique(scored, return_counts=True)
    dupes = uniq[counts > 1]
    missing = np.setdiff1d(expected, scored)
    extra = np.setdiff1d(scored, expected)
    raise RunError(
        f"accounting failed: scored {len(scored)} predictions for {len(expected)} images "
        f"({len(missing)} missing, {len(dupes)} duplicated, {len(extra)} unexpected; "
        f"first missing: {missing[:5].tolist()}); the run is kept and can be resumed"
    )


def _select(rows: Rows, which: np.ndarray) -> Rows:
    return Rows(
        rows.index[which],
        rows.readable[which],
        rows.pred[which],
        rows.prob[which],
        list(np.asarray(rows.errors, dtype=object)[which]) if rows.errors else [],
        rows.logits[which] if rows.logits is not None else None,
        rows.finite[which] if rows.finite is not None else None,
    )


def _chunk_table(rows: Rows) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "index": int64_array(rows.index),
            "readable": bool_array(rows.readable),
            "error": string_array([e or None for e in rows.errors]),
            "finite": bool_array(rows.finite_mask),
            "pred": topk_array(int64_array(rows.pred.reshape(-1)), TOPK),
            "prob": topk_array(float32_array(rows.prob.reshape(-1)), TOPK),
        }
    )
