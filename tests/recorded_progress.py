"""A ``progress.Progress`` that records what it is told and holds callers to the protocol."""

from __future__ import annotations

from ilsvrc_bench.progress import Unit


class RecordedProgress:
    """Totals, counts and units per stage; ``advance`` outside an open stage is a test failure."""

    def __init__(self) -> None:
        self.open: str | None = None
        self.done: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}
        self.units: dict[str, Unit] = {}
        self.stages: list[str] = []  # in the order started, restarts included
        self.notes: list[str] = []

    def start(
        self, stage: str, total: int | None, completed: int = 0, *, unit: Unit = "img"
    ) -> None:
        assert self.open in (None, stage), f"{stage} started while {self.open} is open"
        self.open = stage
        self.stages.append(stage)
        self.done[stage] = completed
        self.totals[stage] = total
        self.units[stage] = unit

    def advance(self, n: int) -> None:
        assert self.open is not None, "advance outside a stage"
        self.done[self.open] += n

    def note(self, message: str) -> None:
        self.notes.append(message)

    def stop(self) -> None:
        self.open = None
