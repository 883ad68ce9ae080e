"""A built model ready to score batches: logits in sorted-wnid order, whatever the backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch

N_CLASSES = 1000


@dataclass(eq=False)
class LoadedModel:
    """A model on a device. Call it with a normalised float32 NCHW batch on ``device``.

    ``module`` is the torch module (``None`` for ONNX); the engine may replace it, e.g. with a
    ``torch.compile``d or ``channels_last`` version, and calls go to whatever it holds then.
    """

    spec: ModelSpec
    weights_sha256: str | None
    module: torch.nn.Module | None
    device: torch.device
    runner: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 1000]`` logits in sorted-wnid order (a background column is dropped)."""
        import torch

        try:
            if self.runner is not None:
                logits: Any = self.runner(x)
            elif self.module is not None:
                with torch.no_grad():
                    logits = self.module(x)
            else:  # pragma: no cover - construction guarantees one of the two
                raise ModelError(f"model {self.spec.name} has nothing to run")
        except SystemExit as exc:
            # A model must not end the process (and lose the run): it is a model error.
            raise ModelError(
                f"model {self.spec.name} called sys.exit({exc.code!r}) on a batch of shape "
                f"{list(x.shape)}"
            ) from exc
        return self._to_classes(logits)

    def _to_classes(self, logits: Any) -> torch.Tensor:
        import torch

        if not isinstance(logits, torch.Tensor):
            # e.g. GoogLeNetOutputs / InceptionOutputs namedtuples, or HF-style outputs.
            found = getattr(logits, "logits", None)
            if found is None and isinstance(logits, (tuple, list)) and logits:
                found = logits[0]
            logits = found
        if not isinstance(logits, torch.Tensor):
            raise ModelError(f"model {self.spec.name} did not return a tensor of logits")
        expected = self.spec.num_outputs
        if logits.ndim != 2 or logits.shape[1] != expected:
            raise ModelError(
                f"model {self.spec.name} returned shape {list(logits.shape)}, expected "
                f"[N, {expected}]; set num_outputs/class_offset in its spec if it has another width"
            )
        offset = self.spec.class_offset
        classes: torch.Tensor = logits
        if offset or expected != N_CLASSES:
            classes = logits[:, offset : offset + N_CLASSES]
        return classes
