"""The model registry: references -> ``ModelSpec`` -> ``LoadedModel`` (logits in sorted-wnid order).

Importing this package does not import torch; building a model does.
"""

from __future__ import annotations

from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.reference import reference_models
from ilsvrc_bench.models.registry import Registry, default_registry, load, registered, resolve
from ilsvrc_bench.models.source import ModelSource
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, ReferenceAccuracy, WeightsSpec

__all__ = [
    "LoadedModel",
    "ModelSource",
    "ModelSpec",
    "Preprocessing",
    "PreprocessingOverrides",
    "ReferenceAccuracy",
    "Registry",
    "WeightsChoice",
    "WeightsSpec",
    "default_registry",
    "load",
    "reference_models",
    "registered",
    "resolve",
]
