"""Measured runs as tables: which runs, one row per run, and each run placed in the history.

A run's figures are val (or whatever data it measured), single model, its own protocol; the
challenge's are test-set. Rows say ``split`` so no reader mistakes one for the other.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ilsvrc_bench import history, runs
from ilsvrc_bench.errors import RunError, UsageError
from ilsvrc_bench.reports import labels
from ilsvrc_bench.reports.rescore import Rescored, rescore


def _matches(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and fnmatch.fnmatch(value.lower(), pattern.lower())


def select_runs(
    refs: Sequence[str],
    *,
    runs_dir: Path,
    model: str | None = None,
    data: str | None = None,
    protocol: str | None = None,
    on_skip: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The runs to report (``runs.ROW_COLUMNS``): ``refs`` (ids, prefixes, directories), else
    every complete run in ``runs_dir``; then filtered (``model``/``data`` take globs).

    A run named in ``refs`` that cannot be read is an error; with no ``refs``, an unreadable run
    is skipped and ``on_skip`` is told why (without it, the error is raised).
    """
    if refs:
        rows = []
        for ref in refs:
            run_dir = runs.find_run(ref, runs_dir=runs_dir)
            record = runs.read_record(run_dir)
            if not record.complete:
                raise UsageError(f"run {ref!r} ({run_dir}) is not complete; nothing to report")
            rows.append(record.row(run_dir=str(run_dir)))
        frame = pd.DataFrame(rows, columns=list(runs.ROW_COLUMNS))
        frame = frame.drop_duplicates("run_dir")
    else:
        catalogue = runs.read_catalogue(runs_dir)
        if catalogue.skipped and on_skip is None:
            raise RunError(catalogue.skipped[0])
        for message in catalogue.skipped:
            if on_skip is not None:
                on_skip(f"skipped an unreadable run: {message}")
        frame = catalogue.frame
    if model:
        keep = frame["model"].map(lambda v: _matches(v, model)) | frame["model_ref"].map(
            lambda v: _matches(v, model)
        )
        frame = frame[keep]
    if data:
        frame = frame[frame["data"].map(lambda v: _matches(v, data))]
    if protocol:
        frame = frame[frame["protocol"] == protocol]
    selected: pd.DataFrame = frame.reset_index(drop=True)
    return selected


def _err_ci(lo: float | None, hi: float | None) -> tuple[float | None, float | None]:
    """The accuracy interval ``[lo, hi]`` as an interval of the error."""
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return None, None
    return round(100 - hi, 3), round(100 - lo, 3)


def apply_scoring(
    frame: pd.DataFrame, *, exclude_blacklist: bool = False, real_labels: Any = None
) -> pd.DataFrame:
    """The runs with their accuracies re-scored from stored predictions (a ``scoring`` column
    says how); unchanged, scored ``standard``, when no rule is asked for."""
    frame = frame.copy()
    if not exclude_blacklist and real_labels is None:
        frame["scoring"] = "standard"
        return frame
    scored: list[Rescored] = []
    n_blacklisted: list[int] = []
    for d in frame["run_dir"]:
        predictions = runs.read_predictions(Path(d))
        scored.append(
            rescore(predictions, exclude_blacklist=exclude_blacklist, real_labels=real_labels)
        )
        n_blacklisted.append(int(predictions["blacklisted"].sum()) if exclude_blacklist else 0)
    frame["scoring"] = [s.scoring for s in scored]
    # images left out because they are blacklisted (0 when the data has no blacklist)
    frame["n_excluded"] = n_blacklisted
    columns = [
        runs.counts_columns(
            runs.Counts(
                n_images=s.accuracy.n_images,
                top1_correct=s.accuracy.top1_correct,
                top5_correct=s.accuracy.top5_correct,
            ),
            level,
        )
        for s, level in zip(scored, frame["ci_level"], strict=True)
    ]
    for key in columns[0] if columns else ():
        frame[key] = [c[key] for c in columns]
    return frame


RUN_COLUMNS = (
    "run_id",
    "model",
    "weights",
    "data",
    "protocol",
    "precision",
    "decoder",
    "device",
    "n_images",
    "top1_err",
    "top5_err",
    "images_per_second",
    "created_at",
)
# what the runs table shows on a terminal unless --wide: readable at 80 columns (the run id
# names the model; "how" is the protocol, then precision and decoder when not default)
RUN_COLUMNS_TERMINAL = ("run_id", "data", "how", "top1_err", "top5_err")
RUN_HEADERS = {
    "run_id": "Run",
    "model": "Model",
    "weights": "Weights",
    "data": "Data",
    "protocol": "Protocol",
    "precision": "Precision",
    "how": "Protocol",
    "decoder": "Decoder",
    "device": "Device",
    "n_images": "n",
    "top1_err": "Top-1 err %",
    "top5_err": "Top-5 err %",
    "images_per_second": "img/s",
    "created_at": "Date",
}


def _round(value: Any, digits: int = 3) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def runs_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per run (:data:`RUN_COLUMNS` and ``scoring``), for the runs table."""
    rows = []
    for r in frame.to_dict("records"):
        row = {c: r.get(c) for c in RUN_COLUMNS}
        row["data"] = labels.data_label(r)
        row["decoder"] = labels.decoder(r)
        row["how"] = labels.how_label(r)
        for c in ("top1_err", "top5_err"):
            row[c] = _round(r.get(c))
        row["images_per_second"] = _round(r.get("images_per_second"), 1)
        row["n_images"] = None if r.get("n_images") is None else int(r["n_images"])
        row["scoring"] = r.get("scoring", "standard")
        rows.append(row)
    return rows


# Keys added to challenge.COLUMNS for run rows in csv/json (None on history rows).
RUN_EXTRA_COLUMNS = (
    "run_id",
    "model",
    "weights",
    "data",
    "manifest_sha256",
    "protocol",
    "precision",
    "decoder",
    "limit",
    "is_subset",
    "device",
    "n_images",
    "rank_2012",
    "top1_err_lo",
    "top1_err_hi",
    "top5_err_lo",
    "top5_err_hi",
    "images_per_second",
    "created_at",
    "scoring",
)


def placed_rows(frame: pd.DataFrame, *, include_outside_data: bool = False) -> list[dict[str, Any]]:
    """Each run as a history row (``kind`` = run, ``split`` = val): errors with their 95%
    intervals, where its top-5 error would have placed, and its rank in every year."""
    rows = []
    for r in frame.to_dict("records"):
        n = int(r["n_images"]) if r.get("n_images") is not None else 0
        top5_err = float(r["top5_err"])
        placements = history.place(top5_err, include_outside_data=include_outside_data)
        row: dict[str, Any] = {
            "kind": "run",
            "year": None,
            "entry": f"{r['model']} ({r['weights']})",
            "team": None,
            "method": f"measured, {labels.how_label(r)}",
            "top5_err": _round(top5_err),
            "top1_err": _round(r.get("top1_err")),
            "split": r.get("split") or "val",
            "eval_data": labels.data_label(r),
            "decoder": labels.decoder(r),
            "is_subset": labels.is_subset(r),
            "how": labels.how_label(r),
            "rank_2012": next(p.rank for p in placements if p.year == 2012),
            "outside_data": None,
            "ensemble": False,
            "rank": None,
            "placement": history.describe_placement(
                top5_err, include_outside_data=include_outside_data
            ),
            "confidence": None,
            "source": f"run {r['run_id']}",
            "ranks": {p.year: p.rank for p in placements},
        }
        for k in ("top1", "top5"):
            row[f"{k}_err_lo"], row[f"{k}_err_hi"] = _err_ci(r[f"{k}_ci_lo"], r[f"{k}_ci_hi"])
        row.update(
            {
                c: r.get(c)
                for c in RUN_EXTRA_COLUMNS
                if c not in row and c not in ("n_images", "images_per_second")
            }
        )
        row["n_images"] = n
        row["images_per_second"] = _round(r.get("images_per_second"), 1)
        rows.append(row)
    return rows


PLACED_COLUMNS = (
    "entry",
    "how",
    "eval_data",
    "n_images",
    "top1_err",
    "top1_ci",
    "top5_err",
    "top5_ci",
    "placement",
    "rank_2012",
)
# what the placed table shows on a terminal unless --wide: readable at 80 columns
PLACED_COLUMNS_TERMINAL = ("run", "measured", "top5", "placement", "rank_2012")
PLACED_HEADERS = {
    "entry": "Run",
    "how": "Protocol",
    "eval_data": "Data",
    "run": "Run",
    "measured": "Measured (protocol; data)",
    "top5": "Top-5 err % [95% CI]",
    "n_images": "n",
    "top1_err": "Top-1 err %",
    "top1_ci": "95% CI",
    "top5_err": "Top-5 err %",
    "top5_ci": "95% CI",
    "placement": "In the challenge's history (test)",
    "rank_2012": "Rank 2012",
}


def placed_table(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The placed runs for display: intervals as text, the rank in 2012 (AlexNet's year)."""
    out = []
    for r in rows:
        out.append(
            {
                **r,
                "entry": f"{r['entry']} [{r['run_id']}]",
                "run": f"{r['run_id']}\n{r['entry']}",
                "measured": f"{r['how']}; {r['eval_data']}",
                "top5": f"{r['top5_err']} {_ci_text(r['top5_err_lo'], r['top5_err_hi'])}".strip(),
                "top1_ci": _ci_text(r["top1_err_lo"], r["top1_err_hi"]),
                "top5_ci": _ci_text(r["top5_err_lo"], r["top5_err_hi"]),
            }
        )
    return out


def _ci_text(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f"[{lo:.2f}, {hi:.2f}]"
