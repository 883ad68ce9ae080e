"""The one interface every model source implements (built-in or installed by a package).

A source owns a scheme (``timm`` in ``timm:resnet50``), may answer to bare names (torchvision's
``alexnet``, a plugin's name) or to reference forms (``*.onnx``, ``module:factory``), turns a name
plus the user's choices into a ``ModelSpec``, and builds a ``LoadedModel`` from a spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch


@runtime_checkable
class ModelSource(Protocol):
    """A family of models: ``scheme``, ``names``, ``claims``, ``spec`` and ``build``."""

    scheme: str

    def names(self) -> Sequence[str]:
        """Names this source answers to without its scheme, and lists in ``ilsvrc-bench models``."""
        ...

    def claims(self, ref: str) -> bool:
        """Whether a reference without a scheme has this source's form (``x.onnx``, ``m:f``)."""
        ...

    def spec(
        self, name: str, *, weights: WeightsChoice, preprocessing: PreprocessingOverrides
    ) -> ModelSpec:
        """The spec ``name`` stands for, with the weights choice and overrides applied.

        Raises ``ModelError`` (unknown name, weights that do not apply, a missing file) or
        ``UsageError`` (preprocessing the model cannot take).
        """
        ...

    def build(self, spec: ModelSpec, *, device: torch.device) -> LoadedModel:
        """The model of a spec this source made, with its weights, ready on ``device``.

        It must not depend on ``spec.preprocessing``: the engine builds a model once for specs
        that differ only in preprocessing (a sweep's points) and feeds each its own views.
        """
        ...


def module_model(
    spec: ModelSpec, module: torch.nn.Module, sha256: str | None, device: torch.device
) -> LoadedModel:
    """A torch module built on the CPU, moved to ``device`` in eval mode."""
    return LoadedModel(
        spec=spec, weights_sha256=sha256, module=module.to(device).eval(), device=device
    )
