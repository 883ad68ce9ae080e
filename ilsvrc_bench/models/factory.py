"""The user's own models: ``module.path:factory`` references and entry-point plugins.

A target (a ``module:attr`` reference or an entry point in group ``ilsvrc_bench.models``) is one of

* a callable taking no arguments that returns a ``torch.nn.Module`` with 1000 outputs and the
  standard 256/224 bilinear ImageNet preprocessing (override with the preprocessing options), or
* a ``ModelSpec`` (source ``"plugin"`` or ``"factory"``) whose ``target`` is such a callable; it
  declares the preprocessing, ``num_outputs``/``class_offset`` and reference accuracy itself.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models import weights as wts
from ilsvrc_bench.models.choices import NO_OVERRIDES, PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.source import module_model
from ilsvrc_bench.models.spec import ModelSpec, WeightsSpec
from ilsvrc_bench.models.suggest import did_you_mean

if TYPE_CHECKING:
    import torch

ENTRY_POINT_GROUP = "ilsvrc_bench.models"
FACTORY_WEIGHTS = "factory"
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_factory_ref(ref: str) -> bool:
    """Whether ``ref`` reads as ``module.path:attribute``."""
    module, sep, attr = ref.partition(":")
    return bool(sep) and bool(_DOTTED.match(module)) and bool(_DOTTED.match(attr))


def import_target(ref: str, *, what: str = "model") -> Any:
    """The object ``module.path:attr`` names; ``ModelError`` if it cannot be imported."""
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"cannot import module {module_name!r} for {what} {ref!r}: {exc}") from exc
    except SystemExit as exc:
        raise ModelError(
            f"importing module {module_name!r} for {what} {ref!r} called sys.exit({exc.code!r})"
        ) from exc
    except Exception as exc:
        raise ModelError(
            f"importing module {module_name!r} for {what} {ref!r} failed: "
            f"{wts.describe_exception(exc)}"
        ) from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"module {module_name!r} has no attribute {attr!r} ({what} {ref!r})")
        obj = getattr(obj, part)
    return obj


def _apply_weights(spec: ModelSpec, weights: WeightsChoice) -> ModelSpec:
    if weights.kind == "default":
        return spec
    if weights.kind == "named" and weights.name in ("DEFAULT", FACTORY_WEIGHTS):
        return spec
    if weights.kind == "random":
        raise ModelError(
            f"--weights random is for torchvision and timm models; {spec.name} builds its own "
            f"weights (use DEFAULT, or a weights file)"
        )
    if weights.kind == "named":
        raise ModelError(
            f"{spec.name} has no weights named {weights.name!r}; use DEFAULT or a weights file path"
        )
    path = weights.path
    assert path is not None
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist")
    return replace(spec, weights=WeightsSpec(name=path.name, path=str(path)))


def spec_from_target(
    obj: Any,
    *,
    name: str,
    target: str,
    source: str,
    weights: WeightsChoice,
    preprocessing: PreprocessingOverrides,
) -> ModelSpec:
    """The spec for a factory callable or a declared ``ModelSpec``, with the user's overrides."""
    if isinstance(obj, ModelSpec):
        if obj.target is None or not is_factory_ref(obj.target):
            raise ModelError(
                f"{source} {name!r} declares a ModelSpec without a 'module:factory' target"
            )
        spec = replace(obj, name=name, source=source)
    elif callable(obj):
        spec = ModelSpec(
            name=name,
            source=source,
            architecture=getattr(obj, "__qualname__", None) or target,
            weights=WeightsSpec(name=FACTORY_WEIGHTS),
            target=target,
        )
    else:
        raise ModelError(
            f"{source} {name!r} ({target}) is a {type(obj).__name__}, not a callable or a ModelSpec"
        )
    spec = _apply_weights(spec, weights)
    return replace(spec, preprocessing=preprocessing.apply(spec.preprocessing))


def factory_spec(
    ref: str,
    *,
    weights: WeightsChoice | None = None,
    preprocessing: PreprocessingOverrides = NO_OVERRIDES,
) -> ModelSpec:
    """The spec of a ``module.path:factory`` reference (the module is imported to check it)."""
    obj = import_target(ref)
    return spec_from_target(
        obj,
        name=ref,
        target=ref,
        source="factory",
        weights=weights or WeightsChoice(),
        preprocessing=preprocessing,
    )


@cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        other = found.get(ep.name)
        if other is not None and other.value != ep.value:
            raise ModelError(
                f"model plugin name {ep.name!r} is registered twice ({other.value} and "
                f"{ep.value}); uninstall one of the packages"
            )
        found[ep.name] = ep
    return found


def refresh_plugins() -> None:
    """Forget the cached entry points (after installing a plugin in-process)."""
    _entry_points.cache_clear()


def plugin_names() -> tuple[str, ...]:
    return tuple(sorted(_entry_points()))


def plugin_spec(
    name: str,
    *,
    weights: WeightsChoice | None = None,
    preprocessing: PreprocessingOverrides = NO_OVERRIDES,
) -> ModelSpec:
    """The spec of an installed plugin (entry point ``name`` in group ``ilsvrc_bench.models``)."""
    ep = _entry_points().get(name)
    if ep is None:
        raise ModelError(
            f"no model plugin named {name!r} is installed" + did_you_mean(name, plugin_names())
        )
    try:
        obj = ep.load()
    except SystemExit as exc:
        raise ModelError(
            f"model plugin {name!r} ({ep.value}) called sys.exit({exc.code!r}) while loading"
        ) from exc
    except Exception as exc:
        raise ModelError(
            f"model plugin {name!r} ({ep.value}) failed to load: {wts.describe_exception(exc)}"
        ) from exc
    return spec_from_target(
        obj, name=name, target=ep.value, source="plugin", weights=weights or WeightsChoice(),
        preprocessing=preprocessing,
    )  # fmt: skip


def build_module(spec: ModelSpec) -> tuple[torch.nn.Module, str | None]:
    """Call the spec's factory and load a weights file into the result if one was chosen."""
    import torch

    if spec.target is None:
        raise ModelError(f"model {spec.name} has no factory to call")
    factory = import_target(spec.target)
    if isinstance(factory, ModelSpec) or not callable(factory):
        raise ModelError(f"{spec.target} (model {spec.name}) is not callable")
    try:
        module = factory()
    except SystemExit as exc:
        raise ModelError(
            f"factory {spec.target} for model {spec.name} called sys.exit({exc.code!r})"
        ) from exc
    except Exception as exc:
        raise ModelError(
            f"factory {spec.target} for model {spec.name} raised {wts.describe_exception(exc)}"
        ) from exc
    if not isinstance(module, torch.nn.Module):
        raise ModelError(
            f"factory {spec.target} for model {spec.name} returned a "
            f"{type(module).__name__}, not a torch.nn.Module"
        )
    if spec.weights.path is None:
        return module, None
    state = wts.load_state_dict_file(spec.weights.path)
    wts.load_into(module, state, source=spec.weights.path, architecture=spec.target)
    return module, wts.sha256_file(spec.weights.path)


class FactorySource:
    """``module.path:callable`` (or ``factory:module.path:callable``): the user's own code."""

    scheme = "factory"

    def names(self) -> Sequence[str]:
        return ()

    def claims(self, ref: str) -> bool:
        return is_factory_ref(ref)

    def spec(
        self, name: str, *, weights: WeightsChoice, preprocessing: PreprocessingOverrides
    ) -> ModelSpec:
        if not is_factory_ref(name):
            raise ModelError(f"factory reference {name!r} must read module.path:callable")
        return factory_spec(name, weights=weights, preprocessing=preprocessing)

    def build(self, spec: ModelSpec, *, device: torch.device) -> LoadedModel:
        module, sha = build_module(spec)
        return module_model(spec, module, sha, device)


class PluginSource(FactorySource):
    """Models installed by packages under the entry-point group ``ilsvrc_bench.models``."""

    scheme = "plugin"

    def names(self) -> Sequence[str]:
        return plugin_names()

    def claims(self, ref: str) -> bool:
        return False

    def spec(
        self, name: str, *, weights: WeightsChoice, preprocessing: PreprocessingOverrides
    ) -> ModelSpec:
        return plugin_spec(name, weights=weights, preprocessing=preprocessing)


FACTORIES = FactorySource()
PLUGINS = PluginSource()
