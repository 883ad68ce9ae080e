"""The run record: one versioned schema, the files of a run directory, and runs as a DataFrame.

A run directory ``<runs_dir>/<run_id>/`` holds:

``run.json``
    The :class:`RunRecord` (schema below, version :data:`SCHEMA_VERSION`).
``predictions.parquet``
    One row per manifest image, in manifest order (see :data:`PREDICTION_COLUMNS`).
``logits.npy``
    Optional (``--save-logits``): float16 ``[N, 1000]`` logits, rows in the order of
    ``predictions.parquet``, columns in sorted-wnid class order.
``chunks/``
    Only while a run is incomplete: durable chunk files the engine appends and ``--resume``
    reads; consolidated into ``predictions.parquet`` and removed when the run completes.

Class indices are always in sorted-wnid order (index 0 = ``n01440764``). Everything reports and
comparisons need is computed from these files, without rerunning a model. See docs/run-record.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ilsvrc_bench import serialize
from ilsvrc_bench.errors import RunError, UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SCHEMA_VERSION = 1

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
    "pred",
    "prob",  # list of 5 float32: softmax probabilities of those classes; 0.0s if unreadable
)

STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"


@dataclass(frozen=True)
class RunRecord:
    """What one evaluation of one model on one dataset was, exactly; mirrors ``run.json``."""

    # Version of this schema; readers refuse records newer than SCHEMA_VERSION.
    schema_version: int
    # Unique id, also the run directory's name: "<UTC yyyymmdd-HHMMSS>-<model slug>-<6 hex>".
    run_id: str
    # "running" while predictions are being written (resumable), "complete" when done.
    status: str
    # When the run started, ISO 8601 UTC ("2026-11-25T12:00:00Z").
    created_at: str
    # The command line that started it (argv; ["ilsvrc-bench", "eval", ...] from the CLI).
    command: list[str]
    # ModelSpec.to_dict() (name, source, architecture, weights, preprocessing, num_outputs,
    # class_offset, reference, num_params, gflops, target) plus "ref": the user's reference string.
    model: dict[str, Any]
    # {"name": weights name, "path": file or None, "sha256": of the weights actually loaded,
    #  "random": True when the weights are random}.
    weights: dict[str, Any]
    # {"name", "path", "source", "split", "manifest_sha256", "n_images": manifest count,
    #  "limit": --limit or None, "subset_sha256": sha256 of the evaluated manifest indices or None,
    #  "class_subset": sorted-wnid class indices the scores were restricted to before ranking
    #  (ImageNet-R/-A: 200 classes), or None (absent in older records) when all 1000 were ranked}.
    data: dict[str, Any]
    # The Preprocessing used, as a dict (resize_size, crop_size, interpolation, antialias, mean,
    # std, color_order).
    preprocessing: dict[str, Any]
    # "center" (resize + centre crop), "10crop" (4 corners + centre and mirrors, softmax averaged)
    # or "full" (whole image resized to crop_size square).
    protocol: str
    # "fp32", "bf16" or "fp16" (autocast, CUDA only).
    precision: str
    # {"type": "cpu"|"cuda"|"mps", "name": e.g. "NVIDIA H100 80GB HBM3" or the CPU's name}.
    device: dict[str, Any]
    # The batch size the run ended with (after any out-of-memory halving).
    batch_size: int
    # Data loader worker processes.
    workers: int
    # channels_last memory format asked for.
    channels_last: bool
    # torch.compile asked for.
    compile: bool
    # {"ilsvrc_bench", "python", "torch", "torchvision", "pillow", "numpy", "cuda", "cudnn",
    #  "onnxruntime"}: version strings, None where absent.
    versions: dict[str, Any]
    # sha256 of (model ref, weights sha256, manifest sha256, preprocessing, protocol, precision,
    # limit): runs with equal keys compute the same predictions; --resume matches on it.
    run_key: str
    # When the run completed, ISO 8601 UTC; None while running.
    finished_at: str | None = None
    # None while running; when complete:
    # {"n_images": scored images (= manifest count, or the --limit subset),
    #  "top1_correct", "top5_correct": counts,
    #  "top1_acc", "top5_acc", "top1_err", "top5_err": percent,
    #  "top1_ci", "top5_ci": [lo, hi] 95% Wilson interval of the accuracy, percent,
    #  "mean_per_class_acc": mean over classes with images of the per-class top-1 accuracy, percent,
    #  "mean_per_class_top5_acc": the same for top-5,
    #  "n_unreadable": images that could not be read (counted as misses),
    #  "blacklist_excluded": the same accuracy keys over non-blacklisted images, or None when
    #  the dataset has no blacklisted image}.
    metrics: dict[str, Any] | None = None
    # Images that could not be read or decoded: [{"index": manifest row, "path", "error"}].
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    # None while running; when complete: {"wall_s": seconds of this process's evaluation pass
    #  (model loading excluded), "images_per_second": images scored in this process / wall_s
    #  (images, not 10crop views), "data_wait_share": share of wall_s spent waiting for the
    #  loader, "compute_share": share spent copying, normalising and running this model,
    #  "images_this_process": images scored in this process (the rest were reused)}.
    timings: dict[str, Any] | None = None
    # Images whose predictions were reused from an interrupted run (--resume); 0 otherwise.
    reused_images: int = 0
    # Things the user should know: out-of-memory batch halving, fallbacks. Free text.
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "run record") -> RunRecord:
        """Build from a ``run.json`` mapping; :class:`RunError` if newer or keys are missing."""
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise RunError(f"{source}: no integer schema_version")
        if version > SCHEMA_VERSION:
            raise RunError(
                f"{source}: schema_version {version} is newer than this ilsvrc-bench reads "
                f"({SCHEMA_VERSION}); upgrade ilsvrc-bench"
            )
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise RunError(f"{source}: {exc}") from exc


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


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` durably: temp file, fsync, rename, fsync the directory.

    Raises :class:`RunError` naming the file (e.g. disk full); an existing ``path`` is untouched.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from exc
    _fsync_dir(path.parent)


def write_record(run_dir: Path, record: RunRecord) -> Path:
    """Write ``run.json`` atomically (NaN written as null); returns its path."""
    path = run_dir / RUN_JSON
    text = serialize.dumps(record.to_dict())
    atomic_write_bytes(path, text.encode())
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
    n = len(pred)
    k = pred.shape[1] if pred.ndim == 2 else 5
    return pa.table(
        {
            "index": pa.array(np.asarray(index, dtype=np.int64)),
            "path": pa.array(list(path), type=pa.string()),
            "label": pa.array(np.asarray(label, dtype=np.int64)),
            "blacklisted": pa.array(np.asarray(blacklisted, dtype=bool)),
            "readable": pa.array(np.asarray(readable, dtype=bool)),
            "pred": pa.FixedSizeListArray.from_arrays(pa.array(pred.reshape(-1)), k)
            if n
            else pa.array([], type=pa.list_(pa.int64(), k)),
            "prob": pa.FixedSizeListArray.from_arrays(pa.array(prob.reshape(-1)), k)
            if n
            else pa.array([], type=pa.list_(pa.float32(), k)),
        }
    )


def write_parquet(path: Path, table: Any) -> None:
    """Write a pyarrow Table to ``path`` durably (temp, fsync, rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def write_logits(path: Path, logits: np.ndarray) -> None:
    """Write float16 logits ``[N, 1000]`` as ``.npy`` durably."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(logits, dtype=np.float16))
    atomic_write_bytes(path, buf.getvalue())


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
    if not isinstance(data, dict):
        raise RunError(f"{path}: corrupt run record: not a JSON object")
    return RunRecord.from_dict(data, source=str(path))


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
    return frame


def read_logits(run_dir: Path) -> np.ndarray | None:
    """The float16 ``[N, 1000]`` logits if the run saved them (``--save-logits``), else None."""
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


LOAD_RUNS_COLUMNS = (
    "run_id",
    "run_dir",
    "model",  # the model's name (ModelSpec.name)
    "model_ref",  # what the user typed
    "weights",  # weights name
    "weights_sha256",
    "data",  # dataset name
    "manifest_sha256",
    "limit",
    "protocol",
    "precision",
    "device",  # device name
    "device_type",
    "batch_size",
    "n_images",
    "top1_acc",
    "top5_acc",
    "top1_err",
    "top5_err",
    "top1_ci_lo",
    "top1_ci_hi",
    "top5_ci_lo",
    "top5_ci_hi",
    "mean_per_class_acc",
    "n_unreadable",
    "images_per_second",
    "run_key",
    "created_at",
    "finished_at",
)


def _row(run_dir: Path, rec: RunRecord) -> dict[str, Any]:
    m = rec.metrics or {}
    t1 = m.get("top1_ci") or [None, None]
    t5 = m.get("top5_ci") or [None, None]
    return {
        "run_id": rec.run_id,
        "run_dir": str(run_dir),
        "model": rec.model.get("name"),
        "model_ref": rec.model.get("ref"),
        "weights": rec.weights.get("name"),
        "weights_sha256": rec.weights.get("sha256"),
        "data": rec.data.get("name"),
        "manifest_sha256": rec.data.get("manifest_sha256"),
        "limit": rec.data.get("limit"),
        "protocol": rec.protocol,
        "precision": rec.precision,
        "device": rec.device.get("name"),
        "device_type": rec.device.get("type"),
        "batch_size": rec.batch_size,
        "n_images": m.get("n_images"),
        "top1_acc": m.get("top1_acc"),
        "top5_acc": m.get("top5_acc"),
        "top1_err": m.get("top1_err"),
        "top5_err": m.get("top5_err"),
        "top1_ci_lo": t1[0],
        "top1_ci_hi": t1[1],
        "top5_ci_lo": t5[0],
        "top5_ci_hi": t5[1],
        "mean_per_class_acc": m.get("mean_per_class_acc"),
        "n_unreadable": m.get("n_unreadable"),
        "images_per_second": (rec.timings or {}).get("images_per_second"),
        "run_key": rec.run_key,
        "created_at": rec.created_at,
        "finished_at": rec.finished_at,
    }


def load_runs(runs_dir: Path) -> pd.DataFrame:
    """One row per *complete* run under ``runs_dir`` (:data:`LOAD_RUNS_COLUMNS`), oldest first.

    Incomplete runs are skipped; a corrupt or newer ``run.json`` raises :class:`RunError`.
    """
    import pandas as pd

    rows = []
    for run_dir in iter_run_dirs(runs_dir):
        rec = read_record(run_dir)
        if rec.status == STATUS_COMPLETE:
            rows.append(_row(run_dir, rec))
    frame = pd.DataFrame(rows, columns=list(LOAD_RUNS_COLUMNS))
    return frame.sort_values(["created_at", "run_id"], kind="stable").reset_index(drop=True)
