"""torchvision classification models: names, weights enums, specs, and building them safely.

Published weights are fetched into torch hub's cache under torchvision's own file names, then
read with ``torch.load(weights_only=True)`` and handed to torchvision's builder, so the model is
built exactly as torchvision builds it for those weights (architecture options, key renames).
A local weights file is loaded into the architecture torchvision builds for the DEFAULT weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models import weights as wts
from ilsvrc_bench.models.choices import (
    NO_OVERRIDES,
    PreprocessingOverrides,
    WeightsChoice,
)
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.source import module_model
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, ReferenceAccuracy, WeightsSpec
from ilsvrc_bench.models.suggest import did_you_mean

if TYPE_CHECKING:
    import torch

RANDOM_SEED = 0
# Auxiliary classifiers (GoogLeNet, Inception-v3) that torchvision removes after loading weights.
_AUX = ("aux1.", "aux2.", "AuxLogits.")


@cache
def names() -> tuple[str, ...]:
    """Every torchvision ImageNet classification model name (no detection, video, quantized)."""
    import torchvision.models as tvm

    return tuple(sorted(tvm.list_models(module=tvm)))


def weights_enum(name: str) -> Any:
    """The model's weights enum class (e.g. ``AlexNet_Weights``)."""
    import torchvision.models as tvm

    return tvm.get_model_weights(name)


def pick_weights(name: str, choice: str) -> Any:
    """The weights enum member for ``choice`` (``DEFAULT``, ``IMAGENET1K_V1``, ``X_Weights.Y``)."""
    enum = weights_enum(name)
    member_name = choice.rsplit(".", maxsplit=1)[-1].upper()  # enum names are upper case
    try:
        return enum[member_name] if member_name != "DEFAULT" else enum.DEFAULT
    except KeyError:
        options = ", ".join(["DEFAULT", *(m.name for m in enum), "random", "a file path"])
        raise ModelError(
            f"{name} has no weights named {choice!r}; choose one of: {options}"
        ) from None


def _preprocessing(member: Any) -> Preprocessing:
    transform = member.transforms()
    return Preprocessing(
        resize_size=int(transform.resize_size[0]),
        crop_size=int(transform.crop_size[0]),
        interpolation=transform.interpolation.value,
        antialias=bool(transform.antialias) if transform.antialias is not None else True,
        mean=tuple(float(m) for m in transform.mean),  # type: ignore[arg-type]
        std=tuple(float(s) for s in transform.std),  # type: ignore[arg-type]
    )


def _reference(member: Any) -> ReferenceAccuracy | None:
    metrics = member.meta.get("_metrics", {}).get("ImageNet-1K", {})
    top1, top5 = metrics.get("acc@1"), metrics.get("acc@5")
    if top1 is None or top5 is None or math.isnan(top1) or math.isnan(top5):
        return None
    return ReferenceAccuracy(
        top1=float(top1),
        top5=float(top5),
        source=f"torchvision {type(member).__name__}.{member.name} metadata",
    )


def spec_for(
    name: str,
    *,
    weights: WeightsChoice | None = None,
    preprocessing: PreprocessingOverrides = NO_OVERRIDES,
) -> ModelSpec:
    """The spec of torchvision model ``name`` with the chosen weights and overrides."""
    if name not in names():
        raise ModelError(f"unknown torchvision model '{name}'" + did_you_mean(name, names()))
    choice = weights or WeightsChoice()
    default = pick_weights(name, "DEFAULT")
    reference = None
    if choice.kind == "random":
        weights_spec = WeightsSpec(name="random")
        member = default
    elif choice.kind == "file":
        path = choice.path
        assert path is not None
        if not path.is_file():
            raise ModelError(f"weights file {path} does not exist")
        weights_spec = WeightsSpec(name=path.name, path=str(path))
        member = default
    else:
        member = pick_weights(name, choice.name or "DEFAULT")
        weights_spec = WeightsSpec(name=member.name, url=member.url)
        reference = _reference(member)
    categories = member.meta.get("categories") or ()
    if len(categories) != 1000:
        raise ModelError(f"torchvision weights {name} {member.name} are not a 1000-class model")
    return ModelSpec(
        name=name,
        source="torchvision",
        architecture=name,
        weights=weights_spec,
        preprocessing=preprocessing.apply(_preprocessing(member)),
        num_outputs=1000,
        class_offset=0,
        reference=reference,
        num_params=int(member.meta["num_params"]) if "num_params" in member.meta else None,
        gflops=float(member.meta["_ops"]) if "_ops" in member.meta else None,
        target=f"torchvision.models:{name}",
    )


@contextmanager
def _serving(member: Any, state: Mapping[str, torch.Tensor]) -> Iterator[None]:
    """Make torchvision's builder take ``state`` instead of downloading and unpickling."""
    enum_cls = type(member)

    def get_state_dict(self: Any, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        return dict(state)

    enum_cls.get_state_dict = get_state_dict
    try:
        yield
    finally:
        del enum_cls.get_state_dict


def _parse_mismatch(exc: RuntimeError) -> tuple[list[str], list[str], list[str]]:
    """Missing keys, unexpected keys and shape mismatches from torch's load_state_dict error."""
    import re

    missing: list[str] = []
    unexpected: list[str] = []
    shapes: list[str] = []
    for raw in str(exc).split("\n"):
        line = raw.strip()
        if line.startswith("Missing key(s)"):
            missing = re.findall(r'"([^"]+)"', line)
        elif line.startswith("Unexpected key(s)"):
            unexpected = re.findall(r'"([^"]+)"', line)
        elif line.startswith("size mismatch for"):
            found = re.match(
                r"size mismatch for (\S+): copying a param with shape torch\.Size\((\[.*?\])\).*"
                r"current model is torch\.Size\((\[.*?\])\)",
                line,
            )
            shapes.append(f"{found[1]} {found[2]} vs {found[3]}" if found else line)
    return missing, unexpected, shapes


def _mismatch_message(exc: RuntimeError, *, source: str, architecture: str) -> str:
    """torch's load_state_dict error condensed to one line of missing/unexpected/shape lists."""
    missing, unexpected, shapes = _parse_mismatch(exc)
    parts = []
    if missing:
        parts.append(wts.summarise("missing keys", missing))
    if unexpected:
        parts.append(wts.summarise("unexpected keys", unexpected))
    if shapes:
        parts.append(wts.summarise("shape mismatches (file vs model)", shapes, limit=3))
    detail = "; ".join(parts) or wts.describe_exception(exc)
    return f"weights {source} do not fit architecture {architecture}: {detail}"


def _build_serving(name: str, member: Any, state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    import torchvision.models as tvm

    with _serving(member, state), wts.skip_init():
        model: torch.nn.Module = tvm.get_model(name, weights=member)
        return model


def _only_aux_missing(exc: RuntimeError) -> list[str]:
    """The missing keys when they are all auxiliary-classifier keys and nothing else is wrong."""
    missing, unexpected, shapes = _parse_mismatch(exc)
    if missing and not unexpected and not shapes and all(k.startswith(_AUX) for k in missing):
        return missing
    return []


def build_module(spec: ModelSpec) -> tuple[torch.nn.Module, str | None]:
    """Build the model of a torchvision spec on the CPU; returns it and its weights' SHA-256."""
    import torch
    import torchvision.models as tvm

    name = spec.architecture
    if spec.weights.is_random:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            # GoogLeNet and Inception-v3 warn unless their initialisation is chosen explicitly.
            extra = {"init_weights": True} if name in ("googlenet", "inception_v3") else {}
            return tvm.get_model(name, weights=None, **extra), None
    if spec.weights.path is not None:
        file = Path(spec.weights.path)
        source = str(file)
        member = pick_weights(name, "DEFAULT")
    else:
        member = pick_weights(name, spec.weights.name)
        file = wts.hub_checkpoint(spec.weights.url or member.url)
        source = f"{type(member).__name__}.{member.name} ({file})"
    state = wts.load_state_dict_file(file)
    sha = wts.sha256_file(file)
    try:
        return _build_serving(name, member, state), sha
    except RuntimeError as exc:
        if "state_dict" not in str(exc):
            raise
        aux = _only_aux_missing(exc)
        if not aux:
            raise ModelError(_mismatch_message(exc, source=source, architecture=name)) from exc
    # Saved from a model built for published weights: torchvision dropped its auxiliary heads
    # after loading, but loads the heads first. Their values are discarded again, so any will do.
    with wts.skip_init():
        scratch = tvm.get_model(name, weights=None, aux_logits=True, init_weights=False)
    filler = scratch.state_dict()
    return _build_serving(name, member, {**state, **{k: filler[k] for k in aux}}), sha


class TorchvisionSource:
    """``torchvision:NAME``, or the bare NAME: every torchvision ImageNet classifier."""

    scheme = "torchvision"

    def names(self) -> Sequence[str]:
        return names()

    def claims(self, ref: str) -> bool:
        return False

    def spec(
        self, name: str, *, weights: WeightsChoice, preprocessing: PreprocessingOverrides
    ) -> ModelSpec:
        return spec_for(name, weights=weights, preprocessing=preprocessing)

    def build(self, spec: ModelSpec, *, device: torch.device) -> LoadedModel:
        module, sha = build_module(spec)
        return module_model(spec, module, sha, device)


SOURCE = TorchvisionSource()
