"""The model-source registry: references -> ``ModelSpec`` -> ``LoadedModel``, and the model list.

Reference syntax (``-m/--model``):

* ``SCHEME:NAME`` for any registered source: ``torchvision:alexnet``, ``timm:NAME[.TAG]``,
  ``onnx:PATH``, ``tflite:PATH``, ``plugin:NAME``, ``factory:module.path:callable``;
* a bare reference a source recognises by its form: ``PATH.onnx``, ``PATH.tflite``,
  ``module.path:callable``;
* a bare name a source lists: any torchvision classifier (``alexnet``), an installed plugin.

Sources are lazy entries (``scheme -> "module:attribute"``): nothing is imported until a source is
needed. The built-in ones and those packages install through the entry-point group
``ilsvrc_bench.model_sources`` are registered the same way, and a scheme registered twice is an
error, never a silent override.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.source import ModelSource
from ilsvrc_bench.models.spec import ModelSpec
from ilsvrc_bench.models.suggest import did_you_mean

if TYPE_CHECKING:
    import torch

SOURCE_ENTRY_POINT_GROUP = "ilsvrc_bench.model_sources"
_MODELS = "ilsvrc_bench.models"
# Registration order is the order bare references are offered to sources.
BUILTIN_SOURCES: tuple[tuple[str, str], ...] = (
    ("torchvision", f"{_MODELS}.torchvision_adapter:SOURCE"),
    ("timm", f"{_MODELS}.timm_adapter:SOURCE"),
    ("onnx", f"{_MODELS}.onnx_adapter:SOURCE"),
    ("tflite", f"{_MODELS}.tflite_adapter:SOURCE"),
    ("plugin", f"{_MODELS}.factory:PLUGINS"),
    ("factory", f"{_MODELS}.factory:FACTORIES"),
)
_SCHEME = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass
class _Entry:
    scheme: str
    target: str | ModelSource  # "module:attribute" until first use
    origin: str


class Registry:
    """Model sources by scheme; each is imported on first use."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def register(self, scheme: str, target: str | ModelSource, *, origin: str = "built-in") -> None:
        """Add a source under ``scheme``; ``ModelError`` if the scheme is taken or malformed."""
        if not _SCHEME.match(scheme):
            raise ModelError(
                f"model source scheme {scheme!r} ({origin}) must be lower case letters, digits, "
                f"'-' or '_'"
            )
        other = self._entries.get(scheme)
        if other is not None:
            raise ModelError(
                f"model source scheme {scheme!r} is registered twice ({other.origin}: "
                f"{_describe(other.target)}; {origin}: {_describe(target)}); uninstall one"
            )
        self._entries[scheme] = _Entry(scheme, target, origin)

    def schemes(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def source(self, scheme: str) -> ModelSource:
        """The source registered as ``scheme`` (imported now if it was not yet)."""
        entry = self._entries.get(scheme)
        if entry is None:
            raise ModelError(
                f"unknown model source {scheme!r}" + did_you_mean(scheme, self.schemes())
            )
        if isinstance(entry.target, str):
            entry.target = _load_source(entry)
        return entry.target

    def resolve(
        self,
        ref: str,
        *,
        weights: WeightsChoice | str | None = None,
        preprocessing: PreprocessingOverrides | Mapping[str, object] | None = None,
    ) -> ModelSpec:
        """The spec ``ref`` names, with the weights choice and preprocessing overrides applied."""
        choice = WeightsChoice.parse(weights)
        overrides = PreprocessingOverrides.from_mapping(preprocessing)
        ref = ref.strip()
        if not ref:
            raise ModelError("empty model reference")
        source, name = self._find(ref)
        return source.spec(name, weights=choice, preprocessing=overrides)

    def _find(self, ref: str) -> tuple[ModelSource, str]:
        scheme, sep, rest = ref.partition(":")
        if sep and scheme in self._entries:
            if not rest.strip():
                raise ModelError(f"model reference {ref!r} names nothing after '{scheme}:'")
            return self.source(scheme), rest.strip()
        if sep and _SCHEME.match(scheme) and not _importable(scheme):
            hint = did_you_mean(scheme, self.schemes())
            if hint:  # "tim:resnet50": a misspelt scheme, not a module of the user's
                raise ModelError(f"unknown model source '{scheme}' in {ref!r}" + hint)
        sources = [self.source(s) for s in self._entries]
        claimed = [s for s in sources if s.claims(ref)]
        if claimed:
            return claimed[0], ref
        named = [s for s in sources if ref in s.names()]
        if len(named) > 1:
            choices = " or ".join(f"{s.scheme}:{ref}" for s in named)
            kinds = " and ".join(f"a {s.scheme}" for s in named)
            raise ModelError(f"model name {ref!r} is {kinds} model; write {choices}")
        if named:
            return named[0], ref
        known = [n for s in sources for n in s.names()]
        raise ModelError(f"unknown model '{ref}'" + did_you_mean(ref, known))

    def load(self, spec: ModelSpec, *, device: torch.device | str = "cpu") -> LoadedModel:
        """Build the model of ``spec`` with the source that made it, on ``device`` in eval mode."""
        import torch

        return self.source(spec.source).build(spec, device=torch.device(device))

    def registered(
        self, include: Sequence[str] = (), exclude: Sequence[str] = ()
    ) -> list[ModelSpec]:
        """Every listed model of every source with its default weights, filtered by wildcards."""
        default, none = WeightsChoice(), PreprocessingOverrides()
        return [
            source.spec(name, weights=default, preprocessing=none)
            for source in (self.source(s) for s in self._entries)
            for name in source.names()
            if _matches(name, include, exclude)
        ]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _describe(target: str | ModelSource) -> str:
    return target if isinstance(target, str) else type(target).__name__


def _load_source(entry: _Entry) -> ModelSource:
    from ilsvrc_bench.models.factory import import_target

    assert isinstance(entry.target, str)
    obj = import_target(entry.target, what=f"model source {entry.scheme!r}")
    if not isinstance(obj, ModelSource):
        raise ModelError(
            f"model source {entry.scheme!r} ({entry.target}) is a {type(obj).__name__}, which "
            f"lacks scheme/names/claims/spec/build"
        )
    if obj.scheme != entry.scheme:
        raise ModelError(
            f"model source {entry.target} says its scheme is {obj.scheme!r} but is registered "
            f"as {entry.scheme!r}"
        )
    return obj


def _matches(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    if include and not any(fnmatch.fnmatchcase(name, pat) for pat in include):
        return False
    return not any(fnmatch.fnmatchcase(name, pat) for pat in exclude)


@cache
def default_registry() -> Registry:
    """The built-in sources, then those installed through ``ilsvrc_bench.model_sources``."""
    registry = Registry()
    for scheme, target in BUILTIN_SOURCES:
        registry.register(scheme, target)
    seen: set[tuple[str, str]] = set()
    for ep in metadata.entry_points(group=SOURCE_ENTRY_POINT_GROUP):
        if (ep.name, ep.value) in seen:  # the same distribution found twice on sys.path
            continue
        seen.add((ep.name, ep.value))
        dist = getattr(ep.dist, "name", None) or "an installed package"
        registry.register(ep.name, ep.value, origin=f"entry point of {dist}")
    return registry


def resolve(
    ref: str,
    *,
    weights: WeightsChoice | str | None = None,
    preprocessing: PreprocessingOverrides | Mapping[str, object] | None = None,
) -> ModelSpec:
    """The spec a model reference names, with the weights choice and preprocessing overrides.

    ``weights``: a ``WeightsChoice`` (or its text: ``None``/``DEFAULT``, a weights name such as
    ``IMAGENET1K_V1`` or a timm tag, ``random``, a weights file). Raises ``ModelError`` for an
    unknown model (with "did you mean"), unknown weights or a missing file.
    """
    return default_registry().resolve(ref, weights=weights, preprocessing=preprocessing)


def load(spec: ModelSpec, *, device: torch.device | str = "cpu") -> LoadedModel:
    """Build the model, load its weights and move it to ``device`` in eval mode."""
    return default_registry().load(spec, device=device)


def registered(include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[ModelSpec]:
    """Every torchvision classification model (DEFAULT weights) and installed plugin.

    ``include``/``exclude`` are shell-style wildcards on the name (``vgg*``, ``*_bn``).
    """
    return default_registry().registered(include, exclude)
