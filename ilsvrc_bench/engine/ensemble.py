"""Ensembles from stored outputs: average the members' softmax probabilities, image by image.

Members are complete runs that kept their logits (``eval --save-logits``): ``logits.npy`` holds
raw logits for a single view, or the log of the view-averaged probabilities for ``10crop``, so
``softmax(logits)`` is each member's probability vector either way. The ensemble's probability
is their mean (equal weights); top-5 and probabilities follow with ``metrics.topk``'s tie rule.
The result is written as a run like any other (``predictions.parquet``, ``logits.npy`` holding
the log of the averaged probabilities, ``run.json`` with ``model.source = "ensemble"``), so
``report`` places it in the history and ``check`` compares it.

Members must be on the same data (same manifest, same ``--limit`` subset, same labels; else
:class:`DataError`, exit 3) with the same protocol (else :class:`ModelError`, exit 4).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ilsvrc_bench import metrics, runs
from ilsvrc_bench.engine import accounting, rundir
from ilsvrc_bench.engine.store import TOPK, Rows, write_predictions
from ilsvrc_bench.errors import DataError, ModelError, RunError, UsageError


@dataclass(frozen=True)
class _Image:
    index: int
    path: str
    class_index: int
    blacklisted: bool


@dataclass(frozen=True)
class Member:
    run_dir: Path
    record: runs.RunRecord
    table: Any  # pandas DataFrame of predictions.parquet
    logits: np.ndarray


@dataclass(frozen=True)
class EnsembleResult:
    record: runs.RunRecord
    run_dir: Path
    members: tuple[runs.RunRecord, ...]
    mcnemar_vs_best: float  # exact McNemar p of the ensemble's top-1 against its best member's
    best_member: str


def _load(run_dir: Path) -> Member:
    record = runs.read_record(run_dir)
    if record.status != runs.STATUS_COMPLETE:
        raise UsageError(f"{run_dir}: run {record.run_id} is not complete; finish it first")
    logits = runs.read_logits(run_dir)
    if logits is None:
        raise UsageError(
            f"{run_dir}: run {record.run_id} has no stored logits; an ensemble averages "
            "probabilities, so evaluate its model again with `eval --save-logits`"
        )
    table = runs.read_predictions(run_dir)
    if logits.shape != (len(table), 1000):
        raise DataError(
            f"{run_dir / runs.LOGITS}: shape {logits.shape}, expected ({len(table)}, 1000)"
        )
    if not np.isfinite(logits).any():
        raise DataError(
            f"{run_dir / runs.LOGITS}: no finite logit (NaN or inf everywhere); "
            "an ensemble with this member would silently be the others alone"
        )
    return Member(run_dir, record, table, logits)


def check_compatible(members: Sequence[Member]) -> None:
    """Same data and labels (DataError) and the same protocol (ModelError), else refuse."""
    first = members[0]
    for m in members[1:]:
        a, b = first.record, m.record
        for key in ("manifest_sha256", "subset_sha256"):
            if getattr(a.data, key) != getattr(b.data, key):
                what = "data" if key == "manifest_sha256" else "--limit subset"
                raise DataError(
                    f"different {what}: {a.run_id} on {a.data.name}, {b.run_id} on "
                    f"{b.data.name}; an ensemble needs runs on the same images"
                )
        if a.protocol != b.protocol:
            raise ModelError(
                f"different protocol: {a.run_id} used {a.protocol}, {b.run_id} used "
                f"{b.protocol}; ensemble runs of one protocol"
            )
        for column in ("index", "label"):
            if not np.array_equal(first.table[column].to_numpy(), m.table[column].to_numpy()):
                raise DataError(
                    f"{m.run_dir / runs.PREDICTIONS}: its images or labels differ from "
                    f"{first.run_dir / runs.PREDICTIONS}"
                )


def _refuse_nested_repeats(members: Sequence[Member]) -> None:
    """A run given beside an ensemble that already holds it would count twice, unsaid."""
    seen: dict[str, str] = {}
    for m in members:
        inner = [e.run_id for e in (m.record.model.members or ())] or [m.record.run_id]
        for run_id in inner:
            where = "given itself" if run_id == m.record.run_id else f"in {m.record.run_id}"
            if run_id in seen:
                raise UsageError(
                    f"run {run_id} would count twice in the ensemble ({seen[run_id]} and "
                    f"{where}); name each run once"
                )
            seen[run_id] = where


def _softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x = np.where(np.isnan(x), -np.inf, x)
    top = np.max(x, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(x - top)
    total = e.sum(axis=1, keepdims=True)
    probs: np.ndarray = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return probs


def average_probabilities(members: Sequence[Member]) -> np.ndarray:
    """The mean of the members' softmax probabilities, ``[N, 1000]`` float64."""
    mean: np.ndarray = np.mean([_softmax(m.logits) for m in members], axis=0)
    return mean


def build_ensemble(
    run_dirs: Sequence[Path], *, runs_dir: Path, name: str | None = None
) -> EnsembleResult:
    """Average the stored probabilities of ``run_dirs`` and write the ensemble as a new run."""
    if len(run_dirs) < 2:
        raise UsageError("an ensemble needs at least two runs")
    if len({Path(d).resolve() for d in run_dirs}) != len(run_dirs):
        raise UsageError("the same run is named twice; an ensemble of distinct runs only")
    members = [_load(Path(d)) for d in run_dirs]
    _refuse_nested_repeats(members)
    check_compatible(members)
    probs = average_probabilities(members)
    table = members[0].table
    readable = np.logical_and.reduce([m.table["readable"].to_numpy(bool) for m in members])
    pred = metrics.topk(probs, TOPK).astype(np.int64)
    prob = np.take_along_axis(probs, pred, axis=1).astype(np.float32)
    pred[~readable], prob[~readable] = -1, 0.0
    with np.errstate(divide="ignore"):
        logits = np.log(probs).astype(np.float16)
    logits[~readable] = np.nan
    images = [
        _Image(int(i), str(p), int(c), bool(b))
        for i, p, c, b in zip(
            table["index"], table["path"], table["label"], table["blacklisted"], strict=True
        )
    ]
    errors = ["unreadable in a member run" if not ok else "" for ok in readable.tolist()]
    rows = Rows(table["index"].to_numpy(np.int64), readable, pred, prob, errors, logits)
    record, run_dir = _write(members, rows, images, runs_dir=runs_dir, name=name)
    labels = table["label"].to_numpy(np.int64)
    ours = metrics.correct_at_k(labels, pred, 1)
    best = max(members, key=lambda m: m.record.final_metrics.top1_acc)
    theirs = metrics.correct_at_k(labels, np.stack(best.table["pred"].to_list()), 1)
    p_value = metrics.mcnemar_exact(int((ours & ~theirs).sum()), int((~ours & theirs).sum()))
    return EnsembleResult(
        record, run_dir, tuple(m.record for m in members), p_value, best.record.run_id
    )


def _common(values: Sequence[str]) -> str:
    return values[0] if len(set(values)) == 1 else "+".join(values)


def _write(
    members: Sequence[Member],
    rows: Rows,
    images: Sequence[_Image],
    *,
    runs_dir: Path,
    name: str | None,
) -> tuple[runs.RunRecord, Path]:
    recs = [m.record for m in members]
    names = [r.model.name for r in recs]
    label = name or "ensemble(" + "+".join(names) + ")"
    key = hashlib.sha256(
        json.dumps({"ensemble": sorted(r.run_key for r in recs)}).encode()
    ).hexdigest()
    rundir.ensure_writable(runs_dir)
    run_dir = runs_dir / runs.new_run_id(label)
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise RunError(f"cannot create run directory {run_dir}: {exc.strerror}") from exc
    preps = [r.preprocessing for r in recs]
    created = runs.utc_now()
    record = runs.RunRecord(
        schema_version=runs.SCHEMA_VERSION,
        run_id=run_dir.name,
        status=runs.STATUS_COMPLETE,
        created_at=created,
        command=("ilsvrc-bench", "ensemble", *(r.run_id for r in recs)),
        model=runs.ModelInfo(
            name=label,
            source="ensemble",
            architecture="ensemble",
            ref="ensemble:" + ",".join(r.run_id for r in recs),
            members=tuple(
                runs.EnsembleMember(run_id=r.run_id, name=r.model.name, ref=r.model.ref)
                for r in recs
            ),
            combine="mean of softmax probabilities",
        ),
        weights=runs.WeightsIdentity(
            name="ensemble of " + ", ".join(r.weights.name for r in recs),
            sha256=hashlib.sha256(
                "".join(str(r.weights.sha256) for r in recs).encode()
            ).hexdigest(),
            random=any(r.weights.random for r in recs),
        ),
        data=recs[0].data,
        preprocessing=preps[0] if all(p == preps[0] for p in preps) else {"members": preps},
        protocol=recs[0].protocol,
        precision=_common([r.precision for r in recs]),
        device=runs.DeviceInfo(type="none", name="stored outputs"),
        batch_size=0,
        workers=0,
        channels_last=False,
        compile=False,
        versions=rundir.library_versions(),
        run_key=key,
        finished_at=created,
        metrics=accounting.compute_metrics(rows, images),
        unreadable=accounting.unreadable_list(rows, images),
        notes=("ensemble of " + ", ".join(r.run_id for r in recs) + " (mean probabilities)",),
    )
    assert rows.logits is not None
    write_predictions(run_dir, rows, images, save_logits=True)
    runs.write_record(run_dir, record)  # last: a run.json that says complete means it is
    return record, run_dir
