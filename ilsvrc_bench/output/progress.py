"""The one progress renderer: rich bars on stderr for the library's ``progress.Progress``."""

from __future__ import annotations

from typing import Any

from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ilsvrc_bench import output
from ilsvrc_bench.progress import Unit


class _Amount(ProgressColumn):
    """``done/total``: a count, or sizes when the task counts bytes."""

    def render(self, task: Task) -> Text:
        done, total = int(task.completed), task.total
        if task.fields.get("unit") == "bytes":
            return Text(f"{decimal(done)}/{decimal(int(total)) if total else '?'}")
        return Text(f"{done:,}/{int(total):,}" if total else f"{done:,}")


class _Rate(ProgressColumn):
    """Items per second over the work done here (resumed work is not counted)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        unit = task.fields.get("unit") or ""
        if unit == "bytes":
            return Text(f"{decimal(int(speed))}/s")
        return Text(f"{speed:.1f} {unit}/s".replace("  ", " "))


class ProgressBars:
    """The one progress renderer: a rich bar on stderr per stage (nothing with ``--quiet``).

    Implements ``ilsvrc_bench.progress.Progress`` for the engine and the data layer alike. A
    stage's bar is drawn until ``stop`` and then stays printed; starting the open stage again
    resets its bar. Stage names are printed as text, never as markup.
    """

    def __init__(self) -> None:
        self._bars = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            _Amount(),
            _Rate(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=output.err(),
            transient=False,
            disable=output.is_quiet(),
        )
        self._task: Any = None
        self._stage: str | None = None

    def __enter__(self) -> ProgressBars:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def start(
        self, stage: str, total: int | None, completed: int = 0, *, unit: Unit = "img"
    ) -> None:
        if self._task is not None and stage == self._stage:  # the open stage, restarted
            self._bars.reset(self._task, total=total, completed=completed)
            return
        self._bars.start()
        self._task = self._bars.add_task(stage, total=total, completed=completed, unit=unit)
        self._stage = stage

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._bars.update(self._task, advance=n)

    def note(self, message: str) -> None:
        output.warn(message)

    def stop(self) -> None:
        """Print the stage's bar as it ends; the next stage gets a bar of its own."""
        self._bars.stop()
        if self._task is not None:
            self._bars.remove_task(self._task)
        self._task = self._stage = None
