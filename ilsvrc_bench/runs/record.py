"""The run record: one versioned schema of typed, frozen parts (``parts.py``), and its one flat row.

``run.json`` is :class:`RunRecord` written with :meth:`~ilsvrc_bench.runs.schema.Record.to_dict`
and read back with :meth:`RunRecord.from_dict`, which refuses wrong value types naming the field.
Metrics are hit *counts*; accuracies, errors and confidence intervals are computed from them
(intervals at whatever level is asked for). :meth:`RunRecord.row` is the one flattening every
table, DataFrame and results file uses (:data:`ROW_COLUMNS`).

Class indices are always in sorted-wnid order (index 0 = ``n01440764``). See docs/run-record.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ilsvrc_bench.errors import RunError
from ilsvrc_bench.runs.parts import (
    DEFAULT_LEVEL,
    Counts,
    DataIdentity,
    DeviceInfo,
    Distributed,
    Metric,
    Metrics,
    ModelInfo,
    NonfiniteImage,
    Timings,
    UnreadableImage,
    WeightsIdentity,
)
from ilsvrc_bench.runs.schema import Record

# Version 2 (this one): metrics keep counts (intervals are no longer stored), ``model`` no
# longer repeats the weights and preprocessing, ``weights`` gained ``url``. Version 1 records
# are still read. Any change to the JSON bumps the version; readers refuse newer versions.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"


@dataclass(frozen=True)
class RunRecord(Record):
    """What one evaluation of one model on one dataset was, exactly; mirrors ``run.json``."""

    schema_version: int
    run_id: str  # "<UTC yyyymmdd-HHMMSS>-<model slug>-<6 hex>", the run directory's name
    status: str  # "running" (resumable) or "complete"
    created_at: str  # ISO 8601 UTC
    command: tuple[str, ...]  # the command line that started the run
    model: ModelInfo
    weights: WeightsIdentity
    data: DataIdentity
    # how images became inputs: resize_size, crop_size, interpolation, antialias, mean, std,
    # color_order (models.spec.Preprocessing, as a dict)
    preprocessing: dict[str, Any]
    protocol: str  # "center", "10crop" or "full"
    precision: str  # "fp32", "bf16", "fp16"
    device: DeviceInfo
    batch_size: int  # the batch size the run ended with (after out-of-memory halving)
    workers: int
    channels_last: bool
    compile: bool
    versions: dict[str, Any]  # library versions, None where absent
    # sha256 of (model ref, weights sha256, manifest sha256, preprocessing, protocol, precision,
    # limit): runs with equal keys compute the same predictions; --resume matches on it
    run_key: str
    finished_at: str | None = None
    metrics: Metrics | None = None  # None while running
    unreadable: tuple[UnreadableImage, ...] = ()
    # None while running; under torchrun the sums over every rank (wall_s: the slowest rank)
    timings: Timings | None = None
    nonfinite: tuple[NonfiniteImage, ...] = ()  # images with NaN/inf outputs (misses)
    distributed: Distributed | None = None  # None for a single process
    reused_images: int = 0  # predictions taken over from an interrupted run (--resume)
    notes: tuple[str, ...] = ()  # out-of-memory halving, fallbacks, warnings: free text

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "run record", path: str = "") -> Any:
        """A record from parsed ``run.json``; :class:`RunError` naming the field if wrong."""
        if not isinstance(data, Mapping):
            raise RunError(f"{source}: corrupt run record: not a JSON object")
        version = data.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise RunError(f"{source}: no integer schema_version")
        if version > SCHEMA_VERSION:
            raise RunError(
                f"{source}: schema_version {version} is newer than this ilsvrc-bench reads "
                f"({SCHEMA_VERSION}); upgrade ilsvrc-bench"
            )
        if version not in READABLE_VERSIONS:
            raise RunError(f"{source}: schema_version {version} is not one ilsvrc-bench reads")
        return super().from_dict(_upgrade(data, version), source=source, path=path)

    @property
    def complete(self) -> bool:
        return self.status == STATUS_COMPLETE and self.metrics is not None

    @property
    def final_metrics(self) -> Metrics:
        """The metrics of a complete run; :class:`RunError` while the run is incomplete."""
        if self.metrics is None:
            raise RunError(f"run {self.run_id} is {self.status}: it has no metrics yet")
        return self.metrics

    def row(self, *, run_dir: str | None = None, level: float = DEFAULT_LEVEL) -> dict[str, Any]:
        """The record as one flat row (:data:`ROW_COLUMNS`), intervals at ``level``."""
        m = self.metrics
        row: dict[str, Any] = dict.fromkeys(ROW_COLUMNS)
        row.update(
            run_id=self.run_id,
            run_dir=run_dir,
            status=self.status,
            model=self.model.name,
            model_ref=self.model.ref,
            weights=self.weights.name,
            weights_sha256=self.weights.sha256,
            weights_file=self.weights.path,
            weights_random=self.weights.random,
            data=self.data.name,
            split=self.data.split,
            manifest_sha256=self.data.manifest_sha256,
            subset_sha256=self.data.subset_sha256,
            limit=self.data.limit,
            is_subset=self.data.is_subset,
            preprocessing=json.dumps(self.preprocessing, sort_keys=True),
            protocol=self.protocol,
            precision=self.precision,
            device=self.device.name,
            device_type=self.device.type,
            batch_size=self.batch_size,
            ci_level=level,
            unreadable=[u.path for u in self.unreadable],
            images_per_second=self.timings.images_per_second if self.timings else None,
            reused_images=self.reused_images,
            run_key=self.run_key,
            created_at=self.created_at,
            finished_at=self.finished_at,
        )
        if m is not None:
            row.update(counts_columns(m, level))
            row.update(
                mean_per_class_acc=m.mean_per_class_acc,
                n_unreadable=m.n_unreadable,
                n_nonfinite=m.n_nonfinite,
            )
        if self.distributed is not None:
            row.update(world_size=self.distributed.world_size)
        return row


def counts_columns(counts: Counts, level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """The row columns computed from counts: hits, accuracies, errors, intervals at ``level``."""
    out: dict[str, Any] = {
        "n_images": counts.n_images,
        "top1_correct": counts.top1_correct,
        "top5_correct": counts.top5_correct,
    }
    for k in ("top1", "top5"):
        metric: Metric = "top1" if k == "top1" else "top5"
        lo, hi = counts.ci(metric, level)
        out.update(
            {
                f"{k}_acc": counts.acc(metric),
                f"{k}_err": counts.err(metric),
                f"{k}_ci_lo": None if math.isnan(lo) else lo,
                f"{k}_ci_hi": None if math.isnan(hi) else hi,
            }
        )
    return out


def _upgrade(data: Mapping[str, Any], version: int) -> Mapping[str, Any]:
    """A version-1 record in version-2 shape (``model`` held the weights and preprocessing)."""
    if version >= 2:
        return data
    out = dict(data)
    model = out.get("model")
    if isinstance(model, Mapping):
        out["model"] = {k: v for k, v in model.items() if k not in ("weights", "preprocessing")}
        weights = model.get("weights")
        if isinstance(out.get("weights"), Mapping) and isinstance(weights, Mapping):
            out["weights"] = {"url": weights.get("url"), **out["weights"]}
    return out


# The one flat row of a run: eval's --format json/csv, runs.load_runs, report, check's files.
ROW_COLUMNS = (
    "run_id",
    "run_dir",
    "status",
    "model",  # the model's name
    "model_ref",  # what the user typed
    "weights",  # the weights' name
    "weights_sha256",
    "weights_file",  # the local weights file, if one was given
    "weights_random",
    "data",  # the dataset's name
    "split",
    "manifest_sha256",
    "subset_sha256",
    "limit",
    "is_subset",  # the dataset is a subset of ILSVRC2012 val (see docs/reliability.md)
    "preprocessing",  # JSON text
    "protocol",
    "precision",
    "device",  # the device's name
    "device_type",
    "batch_size",
    "n_images",  # images scored
    "top1_correct",
    "top5_correct",
    "top1_acc",
    "top5_acc",
    "top1_err",
    "top5_err",
    "ci_level",  # of the intervals below, e.g. 0.95
    "top1_ci_lo",  # Wilson interval of the top-1 accuracy, percent
    "top1_ci_hi",
    "top5_ci_lo",
    "top5_ci_hi",
    "mean_per_class_acc",
    "n_unreadable",
    "unreadable",  # paths of the unreadable images (misses)
    "n_nonfinite",  # images whose model outputs held NaN or inf (misses)
    "world_size",  # ranks under torchrun; None for a single process
    "images_per_second",
    "reused_images",
    "run_key",
    "created_at",
    "finished_at",
)
