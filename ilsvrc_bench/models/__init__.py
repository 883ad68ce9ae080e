"""The model registry: references -> ``ModelSpec`` -> ``LoadedModel`` (logits in sorted-wnid order).

Importing this package does not import torch; building a model does.
"""

from __future__ import annotations

from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.reference import reference_models
from ilsvrc_bench.models.registry import load, registered, resolve
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, ReferenceAccuracy, WeightsSpec

__all__ = [
    "LoadedModel",
    "ModelSpec",
    "Preprocessing",
    "ReferenceAccuracy",
    "WeightsSpec",
    "load",
    "reference_models",
    "registered",
    "resolve",
]
