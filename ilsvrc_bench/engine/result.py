"""What ``evaluate`` gives back, and the progress callback it reports through."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ilsvrc_bench import runs


class Progress(Protocol):
    """What the engine tells the caller while it runs (the CLI draws a progress bar)."""

    def start(self, description: str, total: int, completed: int) -> None: ...
    def advance(self, n: int) -> None: ...
    def note(self, message: str) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    def start(self, description: str, total: int, completed: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass(frozen=True)
class EvalResult:
    """One model's finished run: its record (metrics included) and where it lives."""

    record: runs.RunRecord
    run_dir: Path
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # things the user must see even with --quiet

    @property
    def reused_images(self) -> int:
        return self.record.reused_images

    def summary(self) -> dict[str, Any]:
        """The flat row the CLI prints (``--format json`` gives a list of these)."""
        return self.record.row(run_dir=str(self.run_dir))
