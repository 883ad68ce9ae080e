"""The two sides of a comparison: a run, a results file, or a model's published reference.

A :class:`Side` holds what ``check`` needs from either: accuracies, the image count, what data
and protocol produced them and, for runs, the per-image predictions (for the paired test).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ilsvrc_bench.errors import DataError, ModelError, RunError, UsageError
from ilsvrc_bench.metrics import wilson_interval

Metric = Literal["top1", "top5"]
SideKind = Literal["run", "file", "reference"]
REFERENCE = "reference"


@dataclass(frozen=True)
class Side:
    """One side of a comparison; accuracies in percent over ``n_images`` images."""

    label: str
    kind: SideKind
    top1_acc: float
    top5_acc: float
    n_images: int | None = None
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

    def ci(self, metric: Metric) -> tuple[float, float] | None:
        """95% Wilson interval of the accuracy; ``None`` for a published reference or no count."""
        if self.kind == "reference" or not self.n_images:
            return None
        hits = round(self.acc(metric) * self.n_images / 100)
        return wilson_interval(hits, self.n_images)


def as_dict(record: Any) -> dict[str, Any]:
    """A run record (dataclass, object with ``to_dict``, or mapping) as a plain dict."""
    if isinstance(record, Mapping):
        return dict(record)
    if hasattr(record, "to_dict"):
        return dict(record.to_dict())
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    raise RunError(f"cannot read a run record of type {type(record).__name__}")


def _sub(d: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = d.get(key)
    return value if isinstance(value, Mapping) else {}


def _name(value: Any) -> str | None:
    """A nested ``{"name": ...}`` or a plain string, as a string."""
    if isinstance(value, Mapping):
        for key in ("name", "ref", "architecture"):
            if value.get(key):
                return str(value[key])
        return None
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _acc(metrics: Mapping[str, Any], k: str) -> float | None:
    acc = _float(metrics.get(f"{k}_acc"))
    if acc is None:
        err = _float(metrics.get(f"{k}_err"))
        acc = None if err is None else 100.0 - err
    return acc


def side_from_mapping(
    d: Mapping[str, Any],
    *,
    label: str,
    kind: SideKind,
    run_dir: Path | None = None,
    predictions: pd.DataFrame | None = None,
) -> Side:
    """A side from a run.json-shaped dict (nested) or a flat results row (``top1_acc``...)."""
    if d.get("status") not in (None, "complete"):
        raise RunError(
            f"{label}: the run is {d.get('status')}, not complete; finish it with --resume"
        )
    metrics = _sub(d, "metrics") or d
    top1, top5 = _acc(metrics, "top1"), _acc(metrics, "top5")
    if top1 is None or top5 is None:
        raise DataError(f"{label}: no top-1/top-5 accuracy or error found")
    data = _sub(d, "data")
    n = _float(metrics.get("n_images")) or _float(d.get("n_images"))
    preprocessing = d.get("preprocessing")
    if isinstance(preprocessing, str):
        try:
            preprocessing = json.loads(preprocessing)
        except json.JSONDecodeError:
            preprocessing = None
    return Side(
        label=label,
        kind=kind,
        top1_acc=top1,
        top5_acc=top5,
        n_images=None if n is None else int(n),
        model=_name(d.get("model")),
        model_ref=_name(_sub(d, "model").get("ref")) or _name(d.get("model")),
        weights=_name(d.get("weights")),
        weights_file=_name(_sub(d, "weights").get("path")),
        weights_random=bool(_sub(d, "weights").get("random")),
        data=_name(data) if data else _name(d.get("data")),
        split=_name(data.get("split")) if data else _name(d.get("split")),
        manifest_sha256=_name(data.get("manifest_sha256") or d.get("manifest_sha256")),
        subset_sha256=_name(data.get("subset_sha256") or d.get("subset_sha256")),
        protocol=_name(d.get("protocol")),
        preprocessing=preprocessing if isinstance(preprocessing, Mapping) else None,
        run_dir=run_dir,
        predictions=predictions,
    )


def side_from_run_dir(run_dir: Path, *, label: str | None = None) -> Side:
    """A side from a run directory: its record, and its per-image predictions when stored."""
    from ilsvrc_bench import runs

    record = as_dict(runs.read_record(run_dir))
    try:
        predictions: pd.DataFrame | None = runs.read_predictions(run_dir)
    except (RunError, DataError, FileNotFoundError):
        predictions = None
    name = label or str(record.get("run_id") or run_dir.name)
    return side_from_mapping(
        record, label=name, kind="run", run_dir=run_dir, predictions=predictions
    )


def side_from_file(path: Path) -> Side:
    """A side from a results file: a run.json, a one-row JSON/CSV results table."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            loaded = json.loads(path.read_text(encoding="utf-8"))
            rows = loaded if isinstance(loaded, list) else [loaded]
        elif suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        else:
            raise UsageError(f"{path}: a results file must be .json or .csv")
    except (OSError, json.JSONDecodeError, csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read results ({exc})") from exc
    if any(isinstance(r, Mapping) and "kind" in r for r in rows):
        rows = [r for r in rows if r.get("kind") == "run"]  # a `report` csv/json: its run rows
    if len(rows) != 1:
        raise DataError(f"{path}: holds {len(rows)} run results; give a file with exactly one")
    if not isinstance(rows[0], Mapping):
        raise DataError(f"{path}: not a results object")
    row = rows[0]
    run_dir = Path(str(row.get("run_dir") or ""))
    if row.get("run_dir") and (run_dir / "run.json").is_file():
        # an `eval --format json` row whose run is still here: use it, predictions and all
        return side_from_run_dir(run_dir, label=f"{path} ({run_dir.name})")
    return side_from_mapping(row, label=str(path), kind="file")


def resolve_side(ref: str, *, runs_dir: Path | None) -> Side:
    """A run id, a run directory, or a JSON/CSV results file, as a side."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return side_from_run_dir(path)
    if path.is_file():
        if path.name == "run.json":
            return side_from_run_dir(path.parent)
        return side_from_file(path)
    from ilsvrc_bench import paths, runs

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
