"""Progress of long work: one protocol for the engine and the data layer, drawn by the CLI.

Work is reported as stages, one at a time: ``start`` opens a stage with its total (``None`` when
unknown) and what it counts, ``advance`` moves it on, ``stop`` closes it. Starting the stage that
is open again (a download retried from a byte offset, a pass rerun after out-of-memory) restarts
its count. ``note`` passes on a message the user should see. The library never draws: the CLI's
``output.ProgressBars`` draws these stages on stderr; :class:`NullProgress` ignores them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

Unit = Literal["img", "bytes"]  # what a stage counts: images (or other items) or bytes


class Progress(Protocol):
    """What long work tells its caller while it runs."""

    def start(
        self, stage: str, total: int | None, completed: int = 0, *, unit: Unit = "img"
    ) -> None: ...
    def advance(self, n: int) -> None: ...
    def note(self, message: str) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    """Progress nobody watches."""

    def start(
        self, stage: str, total: int | None, completed: int = 0, *, unit: Unit = "img"
    ) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def stop(self) -> None:
        pass


@contextmanager
def stage(
    progress: Progress | None,
    name: str,
    total: int | None,
    *,
    completed: int = 0,
    unit: Unit = "img",
) -> Iterator[Callable[[int], None]]:
    """One stage of ``progress`` around a block, which gets its ``advance``; stopped however
    the block ends. ``progress`` None reports nothing."""
    progress = progress or NullProgress()
    progress.start(name, total, completed, unit=unit)
    try:
        yield progress.advance
    finally:
        progress.stop()
