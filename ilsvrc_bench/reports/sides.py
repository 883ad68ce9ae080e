"""The two sides of a comparison: a run, a results file, or a model's published reference.

A :class:`Side` holds what ``check`` needs from either: accuracies, the image count, what data
and protocol produced them and, for runs, the per-image predictions (for the paired test).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ilsvrc_bench import runs
from ilsvrc_bench.errors import DataError, ModelError, RunError, UsageError
from ilsvrc_bench.metrics import correct_at_k, wilson_interval, z_for_level
from ilsvrc_bench.reports.rescore import predictions_matrix
from ilsvrc_bench.runs import DEFAULT_LEVEL, Metric

SideKind = Literal["run", "file", "reference"]
REFERENCE = "reference"


@dataclass(frozen=True)
class Side:
    """One side of a comparison; accuracies in percent over ``n_images`` images.

    Runs carry hit counts (``top1_correct``/``top5_correct``), from which intervals are
    computed; a results file without counts has its hits derived from the percentages.
    """

    label: str
    kind: SideKind
    top1_acc: float
    top5_acc: float
    n_images: int | None = None
    top1_correct: int | None = None
    top5_correct: int | None = None
    model: str | None = None
    model_ref: str | None = None
    weights: str | None = None
    weights_file: str | None = None  # the weights file the run loaded, if not published weights
    weights_random: bool = False
    data: str | None = None
    split: str | None = None
    manifest_sha256: str | None = None
    subset_sha256: str | None = None
    protocol: str | None = None
    preprocessing: Mapping[str, Any] | None = None
    run_dir: Path | None = None
    predictions: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def acc(self, metric: Metric) -> float:
        return self.top1_acc if metric == "top1" else self.top5_acc

    def hits(self, metric: Metric) -> int | None:
        """Images right under ``metric``: the stored count, else derived from the percentage."""
        stored = self.top1_correct if metric == "top1" else self.top5_correct
        if stored is not None or not self.n_images:
            return stored
        return round(self.acc(metric) * self.n_images / 100)

    @property
    def has_counts(self) -> bool:
        return self.top1_correct is not None and self.top5_correct is not None

    def ci(self, metric: Metric, level: float = DEFAULT_LEVEL) -> tuple[float, float] | None:
        """Wilson interval of the accuracy at ``level``; ``None`` for a published reference
        or with no image count."""
        hits = self.hits(metric)
        if self.kind == "reference" or not self.n_images or hits is None:
            return None
        return wilson_interval(hits, self.n_images, z_for_level(level))


def _float(value: Any, name: str, label: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):  # JSON true is not 1.0%
        raise DataError(f"{label}: {name} must be a number, not {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{label}: {name} must be a number, not {value!r}") from None
    return None if math.isnan(out) else out


def _int(value: Any, name: str, label: str) -> int | None:
    out = _float(value, name, label)
    if out is None:
        return None
    if out != int(out) or out < 0:
        raise DataError(f"{label}: {name} must be a whole number >= 0, not {value!r}")
    return int(out)


def _text(value: Any) -> str | None:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _acc(row: Mapping[str, Any], k: str, label: str) -> float | None:
    acc = _float(row.get(f"{k}_acc"), f"{k}_acc", label)
    if acc is None:
        err = _float(row.get(f"{k}_err"), f"{k}_err", label)
        acc = None if err is None else 100.0 - err
    if acc is not None and not 0 <= acc <= 100:
        raise DataError(f"{label}: {k} accuracy {acc} is outside 0..100")
    return acc


def side_from_row(
    row: Mapping[str, Any], *, label: str, kind: SideKind = "file", run_dir: Path | None = None
) -> Side:
    """A side from one flat results row (``runs.ROW_COLUMNS``, e.g. ``eval --format json``).

    Values are checked: a non-number where a number belongs is a :class:`DataError` naming it.
    """
    if _text(row.get("status")) not in (None, "complete"):
        raise RunError(f"{label}: the run is {row.get('status')}, not complete")
    top1, top5 = _acc(row, "top1", label), _acc(row, "top5", label)
    if top1 is None or top5 is None:
        raise DataError(f"{label}: no top-1/top-5 accuracy or error found")
    n = _int(row.get("n_images"), "n_images", label)
    counts = {k: _int(row.get(f"{k}_correct"), f"{k}_correct", label) for k in ("top1", "top5")}
    for k, hits in counts.items():
        if hits is not None and (n is None or hits > n):
            raise DataError(f"{label}: {k}_correct {hits} exceeds n_images {n}")
    preprocessing = row.get("preprocessing")
    if isinstance(preprocessing, str):
        try:
            preprocessing = json.loads(preprocessing)
        except json.JSONDecodeError:
            raise DataError(f"{label}: preprocessing is not JSON: {preprocessing!r}") from None
    return Side(
        label=label,
        kind=kind,
        top1_acc=top1,
        top5_acc=top5,
        n_images=n,
        top1_correct=counts["top1"],
        top5_correct=counts["top5"],
        model=_text(row.get("model")),
        model_ref=_text(row.get("model_ref")) or _text(row.get("model")),
        weights=_text(row.get("weights")),
        weights_file=_text(row.get("weights_file")),
        weights_random=str(row.get("weights_random")).lower() in ("true", "1"),
        data=_text(row.get("data")),
        split=_text(row.get("split")),
        manifest_sha256=_text(row.get("manifest_sha256")),
        subset_sha256=_text(row.get("subset_sha256")),
        protocol=_text(row.get("protocol")),
        preprocessing=preprocessing if isinstance(preprocessing, Mapping) else None,
        run_dir=run_dir,
    )


def side_from_record(
    record: runs.RunRecord,
    *,
    label: str,
    run_dir: Path | None = None,
    predictions: pd.DataFrame | None = None,
) -> Side:
    """A side from a typed run record (and its predictions, for the paired test)."""
    if not record.complete or record.metrics is None:
        raise RunError(
            f"{label}: the run is {record.status}, not complete; finish it with --resume"
        )
    m, data, weights = record.metrics, record.data, record.weights
    return Side(
        label=label,
        kind="run",
        top1_acc=m.top1_acc,
        top5_acc=m.top5_acc,
        n_images=m.n_images,
        top1_correct=m.top1_correct,
        top5_correct=m.top5_correct,
        model=record.model.name,
        model_ref=record.model.ref or record.model.name,
        weights=weights.name,
        weights_file=weights.path,
        weights_random=weights.random,
        data=data.name,
        split=data.split,
        manifest_sha256=data.manifest_sha256,
        subset_sha256=data.subset_sha256,
        protocol=record.protocol,
        preprocessing=record.preprocessing,
        run_dir=run_dir,
        predictions=predictions,
    )


def side_from_run_dir(run_dir: Path, *, label: str | None = None) -> Side:
    """A side from a run directory: its record and its per-image predictions, which must agree
    with the record (a corrupt or inconsistent predictions file is a :class:`RunError`)."""
    record = runs.read_record(run_dir)
    name = label or record.run_id
    if not record.complete:
        side_from_record(record, label=name)  # raises: not complete
    predictions = runs.read_predictions(run_dir)
    if record.metrics is not None:
        _ensure_predictions_match(run_dir, predictions, record.metrics)
    return side_from_record(record, label=name, run_dir=run_dir, predictions=predictions)


def _ensure_predictions_match(run_dir: Path, predictions: pd.DataFrame, m: runs.Metrics) -> None:
    """The counts recomputed from the predictions equal the record's, or RunError."""
    path = run_dir / runs.PREDICTIONS
    labels = predictions["label"].to_numpy(dtype=np.int64)
    pred = predictions_matrix(predictions)
    recomputed = (
        len(predictions),
        int(correct_at_k(labels, pred, 1).sum()),
        int(correct_at_k(labels, pred, 5).sum()),
    )
    recorded = (m.n_images, m.top1_correct, m.top5_correct)
    if recomputed != recorded:
        raise RunError(
            f"{path}: disagrees with run.json: {recomputed[0]} images, top-1 {recomputed[1]}, "
            f"top-5 {recomputed[2]} correct, but the record says {recorded[0]}, {recorded[1]}, "
            f"{recorded[2]}"
        )


def side_from_file(path: Path) -> Side:
    """A side from a results file: a run.json, or a one-row JSON/CSV results table."""
    from ilsvrc_bench.data.textfiles import read_text

    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise UsageError(f"{path}: a results file must be .json or .csv")
    text = read_text(path, what="results file")  # UTF-8 or UTF-16 (PowerShell's `>` writes it)
    if not text.strip():
        raise DataError(f"{path}: is empty; expected one run's results (eval --format json/csv)")
    try:
        if suffix == ".json":
            loaded = json.loads(text)
            rows = loaded if isinstance(loaded, list) else [loaded]
        else:
            rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except (json.JSONDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read results ({exc})") from exc
    if any(isinstance(r, Mapping) and "kind" in r for r in rows):
        rows = [r for r in rows if r.get("kind") == "run"]  # a `report` csv/json: its run rows
    if len(rows) != 1:
        raise DataError(f"{path}: holds {len(rows)} run results; give a file with exactly one")
    row = rows[0]
    if not isinstance(row, Mapping):
        raise DataError(f"{path}: not a results object")
    if "schema_version" in row:  # a run.json under another name
        record = runs.RunRecord.from_dict(row, source=str(path))
        return side_from_record(record, label=str(path))
    run_dir = Path(str(row.get("run_dir") or ""))
    if row.get("run_dir") and (run_dir / runs.RUN_JSON).is_file():
        # an `eval --format json` row whose run is still here: use it, predictions and all
        return side_from_run_dir(run_dir, label=f"{path} ({run_dir.name})")
    return side_from_row(row, label=str(path))


def resolve_side(ref: str, *, runs_dir: Path | None) -> Side:
    """A run id, a run directory, or a JSON/CSV results file, as a side."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return side_from_run_dir(path)
    if path.is_file():
        if path.name == runs.RUN_JSON:
            return side_from_run_dir(path.parent)
        return side_from_file(path)
    from ilsvrc_bench import paths

    return side_from_run_dir(runs.find_run(ref, runs_dir=paths.runs_dir(runs_dir)))


def reference_side(candidate: Side) -> Side:
    """The published accuracy of the candidate's model: of the weights it ran with when they are
    published ones, else (a weights file) of the model's default published weights."""
    if candidate.model is None:
        raise ModelError(f"{candidate.label}: names no model, so it has no published reference")
    if candidate.weights_random or candidate.weights == "random":
        raise ModelError(f"{candidate.label}: random weights have no published reference")
    from ilsvrc_bench import models

    ref = candidate.model_ref or candidate.model
    published_weights = candidate.weights if candidate.weights_file is None else None
    spec = models.resolve(ref, weights=published_weights)
    if spec.reference is None:
        raise ModelError(
            f"{spec.name} ({spec.weights.name}): no published reference accuracy for these weights"
        )
    side = Side(
        label=f"reference {spec.name} {spec.weights.name} ({spec.reference.source})",
        kind="reference",
        top1_acc=spec.reference.top1,
        top5_acc=spec.reference.top5,
        n_images=50000,
        model=spec.name,
        weights=spec.weights.name,
        data="ILSVRC2012 val",
        split="val",
        preprocessing=dataclasses.asdict(spec.preprocessing),
    )
    return side
