"""The ILSVRC classification results 2010-2017 as sourced data, and placing a score among them.

The records live in ``history.csv`` beside this module, one row per entry, each with its source
(the challenge's results page or the paper) and a confidence mark: ``primary`` when the figure
was read in that source, ``secondary`` when it comes only from third parties quoting it.
Challenge figures are top-5 error on the *test* set, often from ensembles and multi-crop
evaluation; a model measured by ilsvrc-bench is scored on *val*, usually as a single model on a
single crop. Placements compare the two anyway, because that is the question users ask, and
every report says so. 2010 and 2011 used their own test sets and class lists (the 90 dog breeds
came in 2012; 2012-2017 share one test set), so those years compare less directly still.

Like the challenge, placements rank against entries that used only the provided training data
unless asked to include the others.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from ilsvrc_bench.errors import DataError

Kind = Literal["challenge", "human", "paper"]
Confidence = Literal["primary", "secondary"]
YEARS = tuple(range(2010, 2018))
# Years with their own test set and class list; 2012-2017 share the ILSVRC2012 data.
OLD_DATA_YEARS = frozenset({2010, 2011})
OLD_DATA_NOTE = "2010-11: other test set and classes"
# Years whose results page was read in full, so every team is listed and any rank is exact.
COMPLETE_RANKINGS = frozenset({2012})
# How many of each year's best teams (provided-data standings) are listed with no unlisted team
# between them, so a rank down to the last of them is exact and one below it a lower bound:
# 2013: OverFeat's paper says its post-competition 13.6 "ranks fifth", and four teams are
# listed better than that; 2014: the SPP-net paper's Table 5 lists the best entry of the top 7
# teams; 2010-11 and 2015-17: the top teams as the results pages are quoted.
CONTIGUOUS_TEAMS = {2010: 2, 2011: 2, 2013: 4, 2014: 7, 2015: 2, 2016: 3, 2017: 3}
# Entries with outside data were listed (and are known to be contiguous) only for these years;
# elsewhere, including outside data can only push a rank further down.
CONTIGUOUS_WITH_OUTSIDE_DATA = {2013: 4}
HISTORY_NOTE = (
    "Challenge figures are top-5 error on the ILSVRC test set, often ensembles with multi-crop "
    "evaluation; model figures are on val, single model, single centre crop unless stated. "
    "Placements compare them as-is, against entries that used only the provided training data. "
    "2010 and 2011 used another test set and class list."
)
HISTORY_NOTE_OUTSIDE = HISTORY_NOTE.replace(
    "against entries that used only the provided training data",
    "against every entry, including those trained with outside data",
)


@dataclass(frozen=True)
class Entry:
    """One published result: a challenge entry, the human estimate, or a paper's figure."""

    year: int  # challenge year; for a paper row, the paper's year
    kind: Kind
    team: str
    entry: str
    method: str
    top5_err: float | None
    top1_err: float | None
    eval_data: str  # e.g. "ILSVRC2012 test", "ILSVRC2012 val", "ILSVRC2010 test"
    outside_data: bool | None
    ensemble: bool | None
    post_competition: bool | None
    confidence: Confidence
    source: str
    note: str

    @property
    def split(self) -> str:
        """``val`` or ``test``: the split the figure was measured on."""
        return "val" if " val" in self.eval_data else "test"


def _opt_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def _opt_bool(text: str) -> bool | None:
    t = text.strip().lower()
    if not t:
        return None
    if t in {"true", "yes", "1"}:
        return True
    if t in {"false", "no", "0"}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _entry(row: dict[str, str]) -> Entry:
    kind = row["kind"].strip()
    if kind not in {"challenge", "human", "paper"}:
        raise ValueError(f"kind must be challenge, human or paper, not {kind!r}")
    confidence = row["confidence"].strip()
    if confidence not in {"primary", "secondary"}:
        raise ValueError(f"confidence must be primary or secondary, not {confidence!r}")
    return Entry(
        year=int(row["year"]),
        kind=kind,  # type: ignore[arg-type]
        team=row["team"].strip(),
        entry=row["entry"].strip(),
        method=row["method"].strip(),
        top5_err=_opt_float(row["top5_err"]),
        top1_err=_opt_float(row["top1_err"]),
        eval_data=row["eval_data"].strip(),
        outside_data=_opt_bool(row["outside_data"]),
        ensemble=_opt_bool(row["ensemble"]),
        post_competition=_opt_bool(row["post_competition"]),
        confidence=confidence,  # type: ignore[arg-type]
        source=row["source"].strip(),
        note=row["note"].strip(),
    )


@cache
def entries() -> tuple[Entry, ...]:
    """Every record, in file order."""
    text = resources.files("ilsvrc_bench").joinpath("history.csv").read_text(encoding="utf-8")
    rows: list[Entry] = []
    for lineno, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            rows.append(_entry(row))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"history.csv line {lineno}: {exc}") from exc
    return tuple(rows)


def challenge_entries(
    year: int | None = None, *, include_outside_data: bool = False
) -> list[Entry]:
    """Official challenge entries (test set), optionally of one year, best first; by default
    only those that used the provided training data."""
    rows = [
        e
        for e in entries()
        if e.kind == "challenge"
        and e.top5_err is not None
        and (year is None or e.year == year)
        and (include_outside_data or e.outside_data is not True)
    ]
    return sorted(rows, key=lambda e: (e.year, e.top5_err))


def team_ranking(year: int, *, include_outside_data: bool = False) -> list[Entry]:
    """Each team's best entry of ``year``, best first: the standings that placements use.

    By default, as the challenge ranked them, only entries that used the provided training data.
    """
    best: dict[str, Entry] = {}
    for e in challenge_entries(year, include_outside_data=include_outside_data):
        if e.team not in best:
            best[e.team] = e
    return list(best.values())


def winner(year: int, *, include_outside_data: bool = False) -> Entry:
    return team_ranking(year, include_outside_data=include_outside_data)[0]


def human() -> Entry:
    return next(e for e in entries() if e.kind == "human")


def contiguous_teams(year: int, *, include_outside_data: bool = False) -> int:
    """How many of ``year``'s best teams are listed with none missing between them."""
    n_teams = len(team_ranking(year, include_outside_data=include_outside_data))
    if year in COMPLETE_RANKINGS:
        return n_teams
    known = CONTIGUOUS_WITH_OUTSIDE_DATA if include_outside_data else CONTIGUOUS_TEAMS
    return min(known.get(year, 1), n_teams)


@dataclass(frozen=True)
class Placement:
    """Where a top-5 error would have ranked among one year's teams (1 = would have won)."""

    year: int
    rank: int
    n_teams: int  # teams listed for that year
    exact: bool  # False: unlisted teams may also be better, so the place is ``rank`` or lower

    @property
    def ordinal(self) -> str:
        n = self.rank
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"


def place(top5_err: float, *, include_outside_data: bool = False) -> list[Placement]:
    """The rank ``top5_err`` would have had each year: 1 + the number of teams strictly better.

    The rank is exact while every team better than the score is among the year's contiguous
    top teams; below them unlisted teams may be better too, so it is a lower bound.
    """
    out = []
    for year in YEARS:
        ranking = team_ranking(year, include_outside_data=include_outside_data)
        better = sum(1 for e in ranking if e.top5_err is not None and e.top5_err < top5_err)
        exact = (
            year in COMPLETE_RANKINGS
            or better == 0
            or better < contiguous_teams(year, include_outside_data=include_outside_data)
        )
        out.append(Placement(year=year, rank=better + 1, n_teams=len(ranking), exact=exact))
    return out


def describe_placement(top5_err: float, *, include_outside_data: bool = False) -> str:
    """A short verdict such as ``would have won 2011 (2010-11: ...); 2nd in 2012``.

    The year after the last win is where the score stops winning; its place is exact down to
    the year's last contiguous listed team (``6th in 2014``) and a lower bound below it, which
    says how many teams that year lists (``at best 8th in 2014 (7 teams listed)``). A score that
    wins no year is placed in 2012, the year whose data val comes from and every team is listed.
    """
    placements = place(top5_err, include_outside_data=include_outside_data)
    won = [p for p in placements if p.rank == 1]
    if not won:
        in_2012 = next(p for p in placements if p.year == 2012)
        return "would not have won any year; " + _rank_text(in_2012)
    last_win = won[-1]
    following = [p for p in placements if p.year > last_win.year]
    if not following:
        return f"would have won every year to {last_win.year}"
    return f"would have won {_year_text(last_win.year)}; " + _rank_text(following[0])


def _year_text(year: int) -> str:
    return f"{year} ({OLD_DATA_NOTE})" if year in OLD_DATA_YEARS else str(year)


def _rank_text(p: Placement) -> str:
    if p.exact and p.rank > p.n_teams:
        return f"{p.ordinal} in {_year_text(p.year)} (below all {p.n_teams} teams)"
    if p.exact:
        return f"{p.ordinal} in {_year_text(p.year)}"
    listed = f"{p.n_teams} team listed" if p.n_teams == 1 else f"{p.n_teams} teams listed"
    extra = f"; {OLD_DATA_NOTE}" if p.year in OLD_DATA_YEARS else ""
    return f"at best {p.ordinal} in {p.year} ({listed}{extra})"
