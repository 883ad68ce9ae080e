"""The ``report`` over runs as data: sections every format renders, and rows for csv/json.

Sections, in order: the challenge by year; published results and reference models placed in
it; the measured runs placed in it (with 95% intervals); one row per run; then, when asked for,
each run's worst and best classes and its WordNet mistake view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ilsvrc_bench import history
from ilsvrc_bench.output import Section
from ilsvrc_bench.reports import challenge, runs_table
from ilsvrc_bench.reports.plot import PlotModel
from ilsvrc_bench.reports.rescore import MistakeView

PER_CLASS_HEADERS = {
    "class_index": "Class",
    "wnid": "wnid",
    "name": "Name",
    "n_images": "n",
    "top1_acc": "Top-1 acc %",
    "top5_acc": "Top-5 acc %",
}
KINDS_HEADERS = {"kind": "Mistake", "n_mistakes": "Top-1 mistakes", "share": "Share %"}


@dataclass
class RunsReport:
    """Everything ``report`` shows about measured runs, before rendering."""

    runs: pd.DataFrame  # runs.load_runs columns, re-scored, with "scoring"
    model_rows: Sequence[challenge.ModelRow] = ()  # published reference models
    per_class: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = field(default_factory=dict)
    wordnet: dict[str, MistakeView] = field(default_factory=dict)
    include_outside_data: bool = False  # rank against every entry, not only provided-data ones

    @property
    def placed(self) -> list[dict[str, Any]]:
        return runs_table.placed_rows(self.runs, include_outside_data=self.include_outside_data)

    def rows(self) -> list[dict[str, Any]]:
        """History, reference and run rows with the same keys (:meth:`columns`), for csv/json."""
        base = challenge.report_rows(
            self.model_rows, include_outside_data=self.include_outside_data
        )
        extra = {c: None for c in runs_table.RUN_EXTRA_COLUMNS}
        rows = [{**extra, **r} for r in base]
        rows += [{k: v for k, v in r.items() if k != "ranks"} for r in self.placed]
        return rows

    @staticmethod
    def columns() -> tuple[str, ...]:
        return (*challenge.COLUMNS, *runs_table.RUN_EXTRA_COLUMNS)

    def sections(self, *, terminal: bool = False) -> list[Section]:
        """Every section; ``terminal`` picks the narrower column sets that stay readable at
        80 columns (``report --wide`` shows every column instead)."""
        model_columns = challenge.MODEL_COLUMNS_TERMINAL if terminal else challenge.MODEL_COLUMNS
        placed_columns: tuple[str, ...] = runs_table.PLACED_COLUMNS
        run_columns: tuple[str, ...] = (*runs_table.RUN_COLUMNS, "scoring")
        if terminal:
            placed_columns = runs_table.PLACED_COLUMNS_TERMINAL
            run_columns = runs_table.RUN_COLUMNS_TERMINAL
        outside = self.include_outside_data
        note = history.HISTORY_NOTE_OUTSIDE if outside else history.HISTORY_NOTE
        sections = [
            Section(
                "ILSVRC classification, top-5 error on the test set",
                challenge.year_table(include_outside_data=outside),
                challenge.YEAR_COLUMNS_TERMINAL if terminal else challenge.YEAR_COLUMNS,
                challenge.YEAR_HEADERS,
                challenge.year_caption(include_outside_data=outside),
            ),
            Section(
                "Published results and models placed in that history",
                challenge.model_table(self.model_rows, include_outside_data=outside),
                model_columns,
                challenge.MODEL_HEADERS,
                f"Note: {note}",
            ),
        ]
        if len(self.runs):
            scoring = sorted(set(self.runs["scoring"]))
            sections += [
                Section(
                    "Measured runs placed in the challenge's history",
                    runs_table.placed_table(self.placed),
                    placed_columns,
                    runs_table.PLACED_HEADERS,
                    "Runs: single model, on the data and protocol each row names; 95% "
                    "Wilson intervals. Challenge: test set. Scoring: " + ", ".join(scoring) + ".",
                    whole=("run",),
                ),
                Section(
                    "Runs",
                    runs_table.runs_rows(self.runs),
                    run_columns,
                    {**runs_table.RUN_HEADERS, "scoring": "Scoring"},
                    whole=("run_id",),
                ),
            ]
        for run_id, (worst, best) in self.per_class.items():
            for which, frame in (("Worst", worst), ("Best", best)):
                sections.append(
                    Section(
                        f"{which} classes of {run_id} (top-1)",
                        _records(frame),
                        tuple(PER_CLASS_HEADERS),
                        PER_CLASS_HEADERS,
                    )
                )
        for run_id, view in self.wordnet.items():
            sections += [
                Section(
                    f"Top-1 mistakes of {run_id} in the WordNet hierarchy",
                    _records(view.kinds),
                    tuple(KINDS_HEADERS),
                    KINDS_HEADERS,
                    "same parent: e.g. one dog breed for another; near: within 4 steps of the "
                    "true class in the devkit's hierarchy; far: anything else.",
                ),
                Section(
                    f"Most common confusions of {run_id}",
                    _records(view.confusions),
                    ("label", "predicted", "kind", "n"),
                ),
            ]
        return sections

    def plot_models(self) -> list[PlotModel]:
        """Reference models (dashed) and measured runs (with intervals) for ``--plot``."""
        references = [
            PlotModel(label=m.entry, top5_err=m.top5_err, kind="reference", detail="centre crop")
            for m in self.model_rows
        ]
        models: list[PlotModel] = []  # runs first: when there are too many, references go
        for r in self.placed:
            lo, hi = r.get("top5_err_lo"), r.get("top5_err_hi")
            models.append(
                PlotModel(
                    label=f"{r['entry']} [{r['run_id']}]",
                    top5_err=float(r["top5_err"]),
                    kind="run",
                    ci=None if lo is None or hi is None else (float(lo), float(hi)),
                    detail=f"{r['how']}; {r['eval_data']}",
                )
            )
        return models + references


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def build(
    frame: pd.DataFrame,
    *,
    model_rows: Sequence[challenge.ModelRow] = (),
    exclude_blacklist: bool = False,
    real_labels: Sequence[Sequence[int]] | None = None,
    per_class_n: int | None = None,
    hierarchies: Mapping[str, Mapping[str, str]] | None = None,
    include_outside_data: bool = False,
) -> RunsReport:
    """Re-score the selected runs (``runs.load_runs`` rows) and gather the optional views.

    ``hierarchies`` maps a run id to its devkit's ``wnid -> parent wnid``; runs without one
    get no WordNet view.
    """
    from ilsvrc_bench import runs, synsets
    from ilsvrc_bench.reports import rescore

    scored = runs_table.apply_scoring(
        frame, exclude_blacklist=exclude_blacklist, real_labels=real_labels
    )
    report = RunsReport(
        runs=scored, model_rows=model_rows, include_outside_data=include_outside_data
    )
    if per_class_n is None and not hierarchies:
        return report
    wnids = [s.wnid for s in synsets.all_synsets()] if hierarchies else []
    for r in scored.to_dict("records"):
        run_id = str(r["run_id"])
        predictions = runs.read_predictions(r["run_dir"])
        if per_class_n is not None:
            table = rescore.per_class(predictions, exclude_blacklist=exclude_blacklist)
            report.per_class[run_id] = rescore.worst_and_best(table, per_class_n)
        if hierarchies and run_id in hierarchies:
            report.wordnet[run_id] = rescore.wordnet_view(
                predictions, hierarchies[run_id], wnids=wnids
            )
    return report


def per_class_rows(report: RunsReport) -> list[dict[str, Any]]:
    """Every class of every run (``run_id`` + per-class columns), for csv/json output."""
    from ilsvrc_bench import runs
    from ilsvrc_bench.reports import rescore

    rows: list[dict[str, Any]] = []
    for r in report.runs.to_dict("records"):
        exclude = "blacklist" in str(r.get("scoring", ""))
        table = rescore.per_class(runs.read_predictions(r["run_dir"]), exclude_blacklist=exclude)
        rows += [{"run_id": r["run_id"], **rec} for rec in _records(table)]
    return rows


def wordnet_rows(report: RunsReport) -> list[dict[str, Any]]:
    """The WordNet mistake kinds of every run (``run_id`` + kinds columns), for csv/json."""
    return [
        {"run_id": run_id, **rec}
        for run_id, view in report.wordnet.items()
        for rec in _records(view.kinds)
    ]
