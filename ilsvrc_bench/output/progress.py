"""The one progress renderer: rich bars on stderr for the engine and the data layer."""

from __future__ import annotations

from collections.abc import Sequence
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
    """The one progress renderer: rich bars on stderr (nothing with ``--quiet``).

    It takes both progress callbacks of the library: the engine's ``Progress`` (``start``,
    ``advance``, ``note``, ``stop``: one pass at a time, counted in images) and the data layer's
    stage callback ``bars(stage, advance, total)`` (one bar per stage; stages starting with one
    of ``byte_stages`` count bytes). Descriptions are printed as text, never as markup.
    """

    def __init__(self, *, unit: str = "img", byte_stages: Sequence[str] = ()) -> None:
        self._unit = unit
        self._byte_stages = tuple(byte_stages)
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
        self._stages: dict[str, Any] = {}

    def __enter__(self) -> ProgressBars:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def start(self, description: str, total: int, completed: int = 0) -> None:
        self._bars.start()
        self._task = self._bars.add_task(
            description, total=total, completed=completed, unit=self._unit
        )

    def advance(self, n: int) -> None:
        self._bars.update(self._task, advance=n)

    def note(self, message: str) -> None:
        output.warn(message)

    def stop(self) -> None:
        self._bars.stop()

    def __call__(self, stage: str, advance: int, total: int | None) -> None:
        if stage not in self._stages:
            unit = "bytes" if stage.startswith(self._byte_stages) else ""
            self._stages[stage] = self._bars.add_task(stage, total=total, unit=unit)
        self._bars.update(self._stages[stage], advance=advance, total=total)
