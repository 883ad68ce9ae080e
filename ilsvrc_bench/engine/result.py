"""What ``evaluate`` gives back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ilsvrc_bench import runs


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
