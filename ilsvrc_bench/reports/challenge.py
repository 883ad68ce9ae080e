"""The per-year table of the challenge, and models placed into it.

Rows are plain dicts with stable keys, so every format (rich table, Markdown, CSV, JSON) is a
rendering of the same data. Keys of a row:

``kind``        challenge | human | paper | reference (published val accuracy of a registered
                model) | run (a measured run)
``year``        challenge year (empty for reference and run rows)
``entry``       team and entry, or model name
``team``, ``method``
``top5_err``, ``top1_err``   percent
``split``       test | val
``eval_data``   the data the figure was measured on (``ILSVRC2012 test``, ``ILSVRC2010 test``,
                a run's dataset name)
``outside_data``, ``ensemble``
``rank``        the team's place that year among the teams ranked (challenge rows; empty for an
                outside-data entry unless outside data is included)
``placement``   where a model's top-5 error would have ranked (reference and run rows)
``confidence``  primary | secondary: whether the figure was read in its source or only quoted
``source``      URL or where the figure comes from

Placements rank against entries that used only the provided training data, as the challenge
did, unless ``include_outside_data`` is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ilsvrc_bench import history

COLUMNS = (
    "kind",
    "year",
    "entry",
    "team",
    "method",
    "top5_err",
    "top1_err",
    "split",
    "eval_data",
    "outside_data",
    "ensemble",
    "rank",
    "placement",
    "confidence",
    "source",
)


@dataclass(frozen=True)
class ModelRow:
    """A model's val figures to place into the history (published reference or measured run)."""

    kind: str  # "reference" or "run"
    entry: str
    top1_err: float | None
    top5_err: float
    source: str
    method: str = ""
    top5_ci: tuple[float, float] | None = None  # of the error, percent

    def as_row(self, *, include_outside_data: bool = False) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "year": None,
            "entry": self.entry,
            "team": None,
            "method": self.method,
            "top5_err": round(self.top5_err, 3),
            "top1_err": None if self.top1_err is None else round(self.top1_err, 3),
            "split": "val",
            "eval_data": "ILSVRC2012 val",
            "outside_data": None,
            "ensemble": False,
            "rank": None,
            "placement": history.describe_placement(
                self.top5_err, include_outside_data=include_outside_data
            ),
            "confidence": "primary",
            "source": self.source,
        }


def reference_rows() -> list[ModelRow]:
    """The registered reference models with their published val accuracy."""
    from ilsvrc_bench import models

    rows = []
    for spec in models.reference_models():
        ref = spec.reference
        if ref is None:
            continue
        rows.append(
            ModelRow(
                kind="reference",
                entry=f"{spec.name} ({spec.weights.name})",
                top1_err=ref.top1_err,
                top5_err=ref.top5_err,
                source=ref.source,
                method="published, single model, centre crop",
            )
        )
    return rows


def history_rows(*, include_outside_data: bool = False) -> list[dict[str, Any]]:
    """Every history record as a row; each team's best ranked entry carries its rank that year."""
    ranks: dict[history.Entry, int] = {}
    for year in history.YEARS:
        ranking = history.team_ranking(year, include_outside_data=include_outside_data)
        for i, e in enumerate(ranking, start=1):
            ranks[e] = i
    rows = []
    for e in history.entries():
        rows.append(
            {
                "kind": e.kind,
                "year": e.year,
                "entry": e.team if e.kind == "human" or not e.entry else e.entry,
                "team": e.team,
                "method": e.method,
                "top5_err": e.top5_err,
                "top1_err": e.top1_err,
                "split": e.split,
                "eval_data": e.eval_data,
                "outside_data": e.outside_data,
                "ensemble": e.ensemble,
                "rank": ranks.get(e),
                "placement": None,
                "confidence": e.confidence,
                "source": e.source,
            }
        )
    return rows


def report_rows(
    model_rows: Iterable[ModelRow] = (), *, include_outside_data: bool = False
) -> list[dict[str, Any]]:
    """History rows followed by the model rows: the data behind csv and json output."""
    return history_rows(include_outside_data=include_outside_data) + [
        m.as_row(include_outside_data=include_outside_data) for m in model_rows
    ]


YEAR_COLUMNS = (
    "year",
    "test_set",
    "winner",
    "winner_top5_err",
    "runner_up",
    "runner_up_top5_err",
    "teams",
    "exact_to",
)
# the terminal table leaves the test set to its caption and the team count to the other formats
# (json/csv, markdown, --wide), so it reads in 80 columns
YEAR_COLUMNS_TERMINAL = tuple(c for c in YEAR_COLUMNS if c not in {"teams", "test_set"})
YEAR_HEADERS = {
    "year": "Year",
    "test_set": "Test set",
    "winner": "Winner",
    "winner_top5_err": "Top-5 %",
    "runner_up": "2nd",
    "runner_up_top5_err": "Top-5 %",
    "teams": "Teams listed",
    "exact_to": "Exact to",
}


def year_table(*, include_outside_data: bool = False) -> list[dict[str, Any]]:
    """One row per challenge year: winner and runner-up (each team's best entry), how many
    teams are listed and down to which rank a placement is exact."""
    rows = []
    for year in history.YEARS:
        ranking = history.team_ranking(year, include_outside_data=include_outside_data)
        first, second = ranking[0], ranking[1] if len(ranking) > 1 else None
        rows.append(
            {
                "year": year,
                "test_set": first.eval_data.removeprefix("ILSVRC").removesuffix(" test"),
                "winner": _label(first),
                "winner_top5_err": first.top5_err,
                "runner_up": _label(second) if second else None,
                "runner_up_top5_err": second.top5_err if second else None,
                "teams": len(ranking),
                "exact_to": history.contiguous_teams(
                    year, include_outside_data=include_outside_data
                ),
            }
        )
    return rows


def year_caption(*, include_outside_data: bool = False) -> str:
    """What the year table ranks, in a sentence."""
    which = (
        "every entry, outside data included"
        if include_outside_data
        else "entries that used only the provided training data (--include-outside-data for all)"
    )
    return (
        f"Each team's best entry among {which}. 2010 and 2011 used their own test set and class "
        "list; 2012-2017 share the ILSVRC2012 test set. A placement is exact down to the "
        "'Exact to' team and a lower bound below it."
    )


def _label(e: history.Entry) -> str:
    extra = " (outside data)" if e.outside_data else ""
    return f"{e.team}{extra}"


MODEL_COLUMNS = ("entry", "kind", "eval_data", "top1_err", "top5_err", "placement", "source")
# the terminal table leaves the kind and the long source URLs to the other formats (and --wide)
MODEL_COLUMNS_TERMINAL = ("entry", "eval_data", "top1_err", "top5_err", "placement")
MODEL_HEADERS = {
    "entry": "Model / entry",
    "kind": "Kind",
    "eval_data": "Data",
    "top1_err": "Top-1 err %",
    "top5_err": "Top-5 err %",
    "placement": "In the challenge's history",
    "source": "Source",
}


def model_table(
    model_rows: Sequence[ModelRow], *, include_outside_data: bool = False
) -> list[dict[str, Any]]:
    """Human and paper rows for context, then the models with their placements."""
    rows: list[dict[str, Any]] = []
    for r in history_rows():
        if r["kind"] in {"human", "paper"}:
            year = f"{r['year']} paper" if r["kind"] == "paper" else str(r["year"])
            rows.append({**r, "entry": f"{r['entry']} ({year})"})
    rows += [m.as_row(include_outside_data=include_outside_data) for m in model_rows]
    return rows
