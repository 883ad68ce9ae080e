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
        rec, m = self.record, self.record.metrics or {}
        return {
            "model": rec.model.get("name"),
            "model_ref": rec.model.get("ref"),
            "weights": rec.weights.get("name"),
            "data": rec.data.get("name"),
            "protocol": rec.protocol,
            "precision": rec.precision,
            "device": rec.device.get("name"),
            "n_images": m.get("n_images"),
            "top1_acc": m.get("top1_acc"),
            "top5_acc": m.get("top5_acc"),
            "top1_err": m.get("top1_err"),
            "top5_err": m.get("top5_err"),
            "top1_ci": m.get("top1_ci"),
            "top5_ci": m.get("top5_ci"),
            "mean_per_class_acc": m.get("mean_per_class_acc"),
            "n_unreadable": m.get("n_unreadable"),
            "unreadable": [u["path"] for u in rec.unreadable],
            "images_per_second": (rec.timings or {}).get("images_per_second"),
            "reused_images": rec.reused_images,
            "run_id": rec.run_id,
            "run_dir": str(self.run_dir),
        }
