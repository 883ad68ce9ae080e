"""The files of a run directory: writing them durably, reading them back, finding runs.

A run directory ``<runs_dir>/<run_id>/`` holds:

``run.json``
    The :class:`~ilsvrc_bench.runs.record.RunRecord` (schema in ``runs/record.py``).
``predictions.parquet``
    One row per manifest image, in manifest order (see :data:`PREDICTION_COLUMNS`).
``logits.npy``
    Optional (``--save-logits``): float16 ``[N, 1000]`` logits (float32 if one is beyond
    float16's range), rows in the order of
    ``predictions.parquet``, columns in sorted-wnid class order.
``chunks/``
    Only while a run is incomplete: durable chunk files the engine appends and ``--resume``
    reads; consolidated into ``predictions.parquet`` and removed when the run completes.

Class indices are always in sorted-wnid order (index 0 = ``n01440764``). Everything reports and
comparisons need is computed from these files, without rerunning a model. See docs/run-record.md.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ilsvrc_bench import serialize
from ilsvrc_bench.errors import RunError, UsageError
from ilsvrc_bench.runs.record import RunRecord

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

RUN_JSON = "run.json"
PREDICTIONS = "predictions.parquet"
LOGITS = "logits.npy"
CHUNKS = "chunks"

# Columns of predictions.parquet, one row per manifest image:
PREDICTION_COLUMNS = (
    "index",  # int64: the image's row in the dataset manifest (0-based)
    "path",  # str: the image's path relative to the dataset directory, as in the manifest
    "label",  # int64: the true class index (sorted-wnid order)
    "blacklisted",  # bool: on the devkit's blacklist (excluded in metrics["blacklist_excluded"])
    "readable",  # bool: False when the image could not be read or decoded (counts as a miss)
    # list of 5 int64: top-5 class indices, best first (metrics.topk tie rule); -1s if unreadable
    # or if the model's outputs for the image held NaN or inf (listed in run.json "nonfinite")
    "pred",
    "prob",  # list of 5 float32: softmax probabilities of those classes; 0.0s where pred is -1
)

# ---- ids, keys, times ----------------------------------------------------------------------------


def utc_now() -> str:
    """Now as ISO 8601 UTC with a trailing Z, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(model_name: str, *, now: datetime | None = None) -> str:
    """A fresh, sortable run id: ``<yyyymmdd-HHMMSS>-<model slug>-<6 hex>``."""
    when = now or datetime.now(timezone.utc)
    slug = re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")[:40] or "model"
    return f"{when:%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(3)}"


def compute_run_key(
    *,
    model_ref: str,
    weights_sha256: str | None,
    manifest_sha256: str,
    preprocessing: Mapping[str, Any],
    protocol: str,
    precision: str,
    limit: int | None,
) -> str:
    """The run key: equal keys mean the same model, weights, data, preprocessing and protocol."""
    import hashlib

    payload = json.dumps(
        {
            "model": model_ref,
            "weights_sha256": weights_sha256,
            "manifest_sha256": manifest_sha256,
            "preprocessing": dict(preprocessing),
            "protocol": protocol,
            "precision": precision,
            "limit": limit,
        },
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# ---- writing -------------------------------------------------------------------------------------


# Every file of a run directory is written with serialize's one atomic writer: a reader never sees
# half a file, and an OS error (e.g. disk full) is a RunError naming the file. The run directory
# was made when the run was claimed, so no folder is made here.


def write_record(run_dir: Path, record: RunRecord) -> Path:
    """Write ``run.json`` atomically (NaN written as null); returns its path."""
    path = run_dir / RUN_JSON
    text = serialize.dumps(record.to_dict())
    serialize.atomic_write_text(path, text, make_parents=False, error=RunError)
    return path


def predictions_table(
    *,
    index: Sequence[int] | np.ndarray,
    path: Sequence[str],
    label: Sequence[int] | np.ndarray,
    blacklisted: Sequence[bool] | np.ndarray,
    readable: Sequence[bool] | np.ndarray,
    pred: np.ndarray,
    prob: np.ndarray,
) -> Any:
    """A pyarrow Table with :data:`PREDICTION_COLUMNS` (``pred``/``prob`` are ``[N, 5]`` arrays)."""
    import numpy as np
    import pyarrow as pa

    pred = np.asarray(pred, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float32)
    k = pred.shape[1] if pred.ndim == 2 else 5
    return pa.table(
        {
            "index": int64_array(index),
            "path": string_array(list(path)),
            "label": int64_array(label),
            "blacklisted": bool_array(blacklisted),
            "readable": bool_array(readable),
            "pred": topk_array(int64_array(pred.reshape(-1)), k),
            "prob": topk_array(float32_array(prob.reshape(-1)), k),
        }
    )


# Columns are built from their numpy buffers: pyarrow.array() imports pandas the first time it
# is called (to ask whether its argument is a pandas object), 0.2-0.7 s of every eval process.
def _buffer_array(arrow_type: Any, values: Any, dtype: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    data = np.ascontiguousarray(values, dtype=dtype)
    return pa.Array.from_buffers(arrow_type, len(data), [None, pa.py_buffer(data)])


def int64_array(values: Sequence[int] | np.ndarray) -> Any:
    """A pyarrow int64 array of ``values`` (no nulls)."""
    import pyarrow as pa

    return _buffer_array(pa.int64(), values, "int64")


def float32_array(values: Sequence[float] | np.ndarray) -> Any:
    """A pyarrow float32 array of ``values`` (no nulls)."""
    import pyarrow as pa

    return _buffer_array(pa.float32(), values, "float32")


def _bitmap(flags: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    return pa.py_buffer(np.packbits(np.asarray(flags, dtype=bool), bitorder="little"))


def bool_array(flags: Sequence[bool] | np.ndarray) -> Any:
    """A pyarrow bool array of ``flags`` (no nulls)."""
    import pyarrow as pa

    return pa.Array.from_buffers(pa.bool_(), len(flags), [None, _bitmap(flags)])


def string_array(texts: Sequence[str | None]) -> Any:
    """A pyarrow string array of ``texts``; ``None`` is null."""
    import numpy as np
    import pyarrow as pa

    encoded = [t.encode("utf-8") if t is not None else b"" for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    valid = [t is not None for t in texts]
    return pa.Array.from_buffers(
        pa.string(),
        len(encoded),
        [_bitmap(valid), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
        null_count=valid.count(False),
    )


def topk_array(flat: Any, k: int) -> Any:
    """Rows of ``k`` values from a flat pyarrow array of ``n * k`` values."""
    import pyarrow as pa

    return pa.FixedSizeListArray.from_arrays(flat, k)


def write_parquet(path: Path, table: Any) -> None:
    """Write a pyarrow Table to ``path`` durably (temp, fsync, rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with serialize.atomic_writer(path, make_parents=False, error=RunError) as fh:
        pq.write_table(table, pa.PythonFile(fh, mode="w"))


FLOAT16_MAX = 65504.0


def compact_logits(logits: Any) -> np.ndarray:
    """``logits`` as float16, or float32 when a finite one lies beyond float16's range (65,504):
    a model whose logits run into the hundreds of thousands keeps them rather than storing inf."""
    import numpy as np

    wide = np.asarray(logits, dtype=np.float32)
    finite = np.abs(wide[np.isfinite(wide)])
    if finite.size and float(finite.max()) > FLOAT16_MAX:
        return wide
    return wide.astype(np.float16)


def write_logits(path: Path, logits: np.ndarray) -> None:
    """Write ``[N, 1000]`` logits as ``.npy`` durably (float16, see :func:`compact_logits`)."""
    import numpy as np

    with serialize.atomic_writer(path, make_parents=False, error=RunError) as fh:
        np.save(fh, compact_logits(logits))


# ---- reading -------------------------------------------------------------------------------------


def read_record(run_dir: Path) -> RunRecord:
    """The run's :class:`RunRecord`; :class:`RunError` naming the file if missing/corrupt/newer."""
    path = Path(run_dir) / RUN_JSON
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RunError(f"{path}: no run record (not a run directory?)") from exc
    except OSError as exc:
        raise RunError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: corrupt run record: {exc}") from exc
    record: RunRecord = RunRecord.from_dict(data, source=str(path))
    return record


def read_predictions(run_dir: Path) -> pd.DataFrame:
    """Per-image predictions (:data:`PREDICTION_COLUMNS`), one row per image in manifest order.

    ``pred`` and ``prob`` cells are length-5 numpy arrays; ``numpy.stack(df["pred"])`` gives
    ``[N, 5]``.
    """
    import pyarrow.parquet as pq

    path = Path(run_dir) / PREDICTIONS
    if not path.is_file():
        raise RunError(f"{path}: no predictions (run incomplete or not a run directory)")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise RunError(f"{path}: corrupt predictions file: {exc}") from exc
    missing = [c for c in PREDICTION_COLUMNS if c not in table.column_names]
    if missing:
        raise RunError(f"{path}: missing columns {', '.join(missing)}")
    frame: pd.DataFrame = table.to_pandas()
    _check_class_ids(path, frame)
    return frame


N_CLASSES = 1000


def _check_class_ids(path: Path, frame: pd.DataFrame) -> None:
    """Labels are class indices 0..999; predictions too, or -1 (an unreadable image)."""
    import numpy as np

    labels = frame["label"].to_numpy()
    bad = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    if len(bad):
        i = int(bad[0])
        raise RunError(
            f"{path}: row {i} has label {labels[i]}, not a class index 0..{N_CLASSES - 1}"
        )
    if not len(frame):
        return
    try:
        pred = np.stack([np.asarray(p) for p in frame["pred"]])
    except ValueError:
        raise RunError(f"{path}: prediction rows of different lengths") from None
    wrong = ((pred < -1) | (pred >= N_CLASSES)).any(axis=1) if pred.ndim == 2 else [True]
    bad = np.flatnonzero(wrong)
    if len(bad):
        i = int(bad[0])
        raise RunError(
            f"{path}: row {i} predicts {pred[i].tolist()}, not class indices "
            f"0..{N_CLASSES - 1} (or -1 for an unreadable image)"
        )


def read_logits(run_dir: Path) -> np.ndarray | None:
    """The ``[N, 1000]`` logits (float16, or float32 beyond its range) if the run saved them
    (``--save-logits``), else None."""
    import numpy as np

    path = Path(run_dir) / LOGITS
    if not path.is_file():
        return None
    try:
        logits: np.ndarray = np.load(path, allow_pickle=False)
        return logits
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: corrupt logits file: {exc}") from exc


def iter_run_dirs(runs_dir: Path) -> list[Path]:
    """Directories under ``runs_dir`` that hold a ``run.json``, sorted by name (= start time)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if (p / RUN_JSON).is_file())


def find_run(ref: str | Path, *, runs_dir: Path) -> Path:
    """The run directory for a run id, a unique id prefix, or a run directory path."""
    candidate = Path(ref)
    if (candidate / RUN_JSON).is_file():
        return candidate
    text = str(ref)
    exact = Path(runs_dir) / text
    if (exact / RUN_JSON).is_file():
        return exact
    matches = [p for p in iter_run_dirs(runs_dir) if p.name.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        # naming a run that is not there is the user's slip, not a runtime failure
        raise UsageError(f"no run {text!r} in {runs_dir}")
    names = ", ".join(p.name for p in matches[:5])
    raise UsageError(f"run {text!r} is ambiguous in {runs_dir}: {names}")
