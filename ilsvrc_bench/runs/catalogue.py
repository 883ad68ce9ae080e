"""Many runs at once: every complete run of a runs directory as one DataFrame row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ilsvrc_bench.errors import RunError
from ilsvrc_bench.runs.files import iter_run_dirs, read_record
from ilsvrc_bench.runs.parts import DEFAULT_LEVEL
from ilsvrc_bench.runs.record import ROW_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

# The columns of load_runs: the record's row (runs.ROW_COLUMNS).
LOAD_RUNS_COLUMNS = ROW_COLUMNS


@dataclass(frozen=True)
class Catalogue:
    """The complete runs of a runs directory, and the run directories that could not be read."""

    frame: pd.DataFrame  # one row per complete run (ROW_COLUMNS), oldest first
    skipped: tuple[str, ...] = ()  # one message per unreadable run, naming its run.json


def read_catalogue(runs_dir: Path, *, level: float = DEFAULT_LEVEL) -> Catalogue:
    """Every complete run under ``runs_dir``; a corrupt run is skipped and said in ``skipped``.

    Runs still in progress are left out. Intervals are computed at ``level``.
    """
    import pandas as pd

    rows = []
    skipped = []
    for run_dir in iter_run_dirs(runs_dir):
        try:
            record = read_record(run_dir)
        except RunError as exc:
            skipped.append(str(exc))
            continue
        if record.complete:
            rows.append(record.row(run_dir=str(run_dir), level=level))
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    frame = frame.sort_values(["created_at", "run_id"], kind="stable").reset_index(drop=True)
    return Catalogue(frame=frame, skipped=tuple(skipped))


def load_runs(runs_dir: Path, *, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """One row per *complete* run under ``runs_dir`` (:data:`ROW_COLUMNS`), oldest first.

    Incomplete runs are skipped; a corrupt or newer ``run.json`` raises :class:`RunError`
    (:func:`read_catalogue` skips it instead and says so).
    """
    catalogue = read_catalogue(runs_dir, level=level)
    if catalogue.skipped:
        raise RunError(catalogue.skipped[0])
    return catalogue.frame
