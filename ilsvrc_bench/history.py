"""The ILSVRC classification results 2010-2017 as sourced data, and placing a score among them.

The records live in ``history.csv`` beside this module, one row per entry, each with its source
(the challenge's results page or the paper). Challenge figures are top-5 error on the *test*
set, often from ensembles and multi-crop evaluation; a model measured by ilsvrc-bench is scored
on *val*, usually as a single model on a single crop. Placements compare the two anyway, because
that is the question users ask, and every report says so.
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
YEARS = tuple(range(2010, 2018))
# Years whose results page was read in full, so every team is listed and a rank is exact.
# Other years list the winner and the entries we could check; a rank past them is a lower bound.
COMPLETE_RANKINGS = frozenset({2012})
HISTORY_NOTE = (
    "Challenge figures are top-5 error on the ILSVRC test set, often ensembles with multi-crop "
    "evaluation; model figures are on val, single model, single centre crop unless stated. "
    "Placements compare them as-is."
)


@dataclass(frozen=True)
class Entry:
    """One published result: a challenge entry, the human estimate, or a paper's figure."""

    year: int
    kind: Kind
    team: str
    entry: str
    method: str
    top5_err: float | None
    top1_err: float | None
    outside_data: bool | None
    ensemble: bool | None
    post_competition: bool
    source: str
    note: str

    @property
    def split(self) -> str:
        """``val`` for paper figures whose note says val; challenge entries are test-set."""
        return "val" if self.kind == "paper" and "val" in self.note.lower() else "test"


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


@cache
def entries() -> tuple[Entry, ...]:
    """Every record, in file order."""
    text = resources.files("ilsvrc_bench").joinpath("history.csv").read_text(encoding="utf-8")
    rows: list[Entry] = []
    for lineno, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            rows.append(
                Entry(
                    year=int(row["year"]),
                    kind=row["kind"].strip(),  # type: ignore[arg-type]
                    team=row["team"].strip(),
                    entry=row["entry"].strip(),
                    method=row["method"].strip(),
                    top5_err=_opt_float(row["top5_err"]),
                    top1_err=_opt_float(row["top1_err"]),
                    outside_data=_opt_bool(row["outside_data"]),
                    ensemble=_opt_bool(row["ensemble"]),
                    post_competition=bool(_opt_bool(row["post_competition"])),
                    source=row["source"].strip(),
                    note=row["note"].strip(),
                )
            )
        except (KeyError, ValueError) as exc:
            raise DataError(f"history.csv line {lineno}: {exc}") from exc
    return tuple(rows)


def challenge_entries(year: int | None = None) -> list[Entry]:
    """Official challenge entries (test set), optionally of one year, best first."""
    rows = [
        e
        for e in entries()
        if e.kind == "challenge" and e.top5_err is not None and (year is None or e.year == year)
    ]
    return sorted(rows, key=lambda e: (e.year, e.top5_err))


def team_ranking(year: int) -> list[Entry]:
    """Each team's best entry of ``year``, best first: the standings that placements use."""
    best: dict[str, Entry] = {}
    for e in challenge_entries(year):
        if e.team not in best:
            best[e.team] = e
    return list(best.values())


def winner(year: int) -> Entry:
    return team_ranking(year)[0]


def human() -> Entry:
    return next(e for e in entries() if e.kind == "human")


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


def place(top5_err: float) -> list[Placement]:
    """The rank ``top5_err`` would have had each year: 1 + the number of teams strictly better."""
    out = []
    for year in YEARS:
        ranking = team_ranking(year)
        better = sum(1 for e in ranking if e.top5_err is not None and e.top5_err < top5_err)
        exact = better == 0 or year in COMPLETE_RANKINGS
        out.append(Placement(year=year, rank=better + 1, n_teams=len(ranking), exact=exact))
    return out


def describe_placement(top5_err: float) -> str:
    """A short verdict such as ``would have won 2011; 2nd in 2012``.

    The year after the last win is where the score stops winning; its place is exact only for
    years whose every team is listed (``at best 3rd in 2014`` otherwise).
    """
    placements = place(top5_err)
    won = [p for p in placements if p.rank == 1]
    if not won:
        return "would not have won any year; " + _rank_text(placements[0])
    last_win = won[-1]
    following = [p for p in placements if p.year > last_win.year]
    if not following:
        return f"would have won every year to {last_win.year}"
    return f"would have won {last_win.year}; " + _rank_text(following[0])


def _rank_text(p: Placement) -> str:
    if not p.exact:
        return f"at best {p.ordinal} in {p.year}"
    return f"{p.ordinal} in {p.year}"
