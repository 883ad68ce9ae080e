"""Model references -> ``ModelSpec`` -> ``LoadedModel``, and the list of registered models.

Reference syntax (``-m/--model``):

* ``alexnet``, ``vgg16``, any torchvision classification model; ``torchvision:NAME`` when a plugin
  uses the same name;
* ``timm:NAME`` (optionally ``NAME.TAG``), ``onnx:PATH`` (a bare ``PATH.onnx`` works too);
* ``module.path:factory`` for the user's code; ``plugin:NAME`` or just ``NAME`` for a model
  installed through the entry-point group ``ilsvrc_bench.models``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models import factory, onnx_adapter, timm_adapter
from ilsvrc_bench.models import torchvision_adapter as tv
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.spec import ModelSpec
from ilsvrc_bench.models.suggest import did_you_mean

if TYPE_CHECKING:
    import torch

SCHEMES = ("torchvision", "timm", "onnx", "plugin")


def _torchvision(
    name: str, weights: str | None, preprocessing: Mapping[str, object] | None
) -> ModelSpec:
    if name not in tv.names():
        raise ModelError(f"unknown torchvision model '{name}'" + did_you_mean(name, tv.names()))
    return tv.spec_for(name, weights=weights, preprocessing=preprocessing)


def resolve(
    ref: str,
    *,
    weights: str | None = None,
    preprocessing: Mapping[str, object] | None = None,
) -> ModelSpec:
    """The spec a model reference names, with the weights choice and preprocessing overrides.

    ``weights``: ``None``/``"DEFAULT"``, a weights name (``IMAGENET1K_V1``, a timm tag),
    ``"random"``, or a ``.pth``/``.pt``/``.safetensors`` path. Raises ``ModelError`` for an
    unknown model (with "did you mean"), unknown weights or a missing file.
    """
    ref = ref.strip()
    if not ref:
        raise ModelError("empty model reference")
    scheme, sep, rest = ref.partition(":")
    if sep and scheme in SCHEMES:
        if not rest:
            raise ModelError(f"model reference {ref!r} names nothing after '{scheme}:'")
        if scheme == "torchvision":
            return _torchvision(rest, weights, preprocessing)
        if scheme == "timm":
            return timm_adapter.spec_for(rest, weights=weights, preprocessing=preprocessing)
        if scheme == "onnx":
            return onnx_adapter.spec_for(rest, weights=weights, preprocessing=preprocessing)
        return factory.plugin_spec(rest, weights=weights, preprocessing=preprocessing)
    if ref.lower().endswith(".onnx"):
        return onnx_adapter.spec_for(ref, weights=weights, preprocessing=preprocessing)
    if factory.is_factory_ref(ref):
        return factory.factory_spec(ref, weights=weights, preprocessing=preprocessing)
    plugins = factory.plugin_names()
    in_tv, in_plugins = ref in tv.names(), ref in plugins
    if in_tv and in_plugins:
        raise ModelError(
            f"model name {ref!r} is both a torchvision model and a plugin; "
            f"write torchvision:{ref} or plugin:{ref}"
        )
    if in_plugins:
        return factory.plugin_spec(ref, weights=weights, preprocessing=preprocessing)
    if in_tv:
        return tv.spec_for(ref, weights=weights, preprocessing=preprocessing)
    raise ModelError(f"unknown model '{ref}'" + did_you_mean(ref, [*tv.names(), *plugins]))


def load(spec: ModelSpec, *, device: torch.device | str = "cpu") -> LoadedModel:
    """Build the model, load its weights and move it to ``device`` in eval mode."""
    import torch

    dev = torch.device(device)
    if spec.source == "onnx":
        runner, onnx_sha = onnx_adapter.build(spec, device=dev)
        return LoadedModel(
            spec=spec, weights_sha256=onnx_sha, module=None, device=dev, runner=runner
        )
    module: torch.nn.Module
    sha: str | None
    if spec.source == "torchvision":
        module, sha = tv.build(spec)
    elif spec.source == "timm":
        module, sha = timm_adapter.build(spec)
    elif spec.source in ("factory", "plugin"):
        module, sha = factory.build(spec)
    else:
        raise ModelError(f"model {spec.name} has an unknown source {spec.source!r}")
    module = module.to(dev).eval()
    return LoadedModel(spec=spec, weights_sha256=sha, module=module, device=dev)


def _matches(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    if include and not any(fnmatch.fnmatchcase(name, pat) for pat in include):
        return False
    return not any(fnmatch.fnmatchcase(name, pat) for pat in exclude)


def registered(include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[ModelSpec]:
    """Every torchvision classification model (DEFAULT weights) and installed plugin.

    ``include``/``exclude`` are shell-style wildcards on the name (``vgg*``, ``*_bn``).
    """
    specs = [
        tv.spec_for(name, weights=None, preprocessing=None)
        for name in tv.names()
        if _matches(name, include, exclude)
    ]
    for name in factory.plugin_names():
        if _matches(name, include, exclude):
            specs.append(factory.plugin_spec(name, weights=None, preprocessing=None))
    return specs
