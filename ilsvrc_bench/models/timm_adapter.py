"""timm models (``timm:NAME`` or ``timm:NAME.TAG``): preprocessing from timm's pretrained config.

The eval recipe follows timm's: resize the shorter side to ``floor(input_size / crop_pct)`` with
the config's interpolation, centre crop ``input_size``, normalise with its mean and std.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models import weights as wts
from ilsvrc_bench.models.choices import (
    INTERPOLATIONS,
    NO_OVERRIDES,
    PreprocessingOverrides,
    WeightsChoice,
)
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.source import module_model
from ilsvrc_bench.models.spec import Interpolation, ModelSpec, Preprocessing, WeightsSpec
from ilsvrc_bench.models.suggest import did_you_mean

if TYPE_CHECKING:
    import torch

PREFIX = "timm:"
RANDOM_SEED = 0


def _timm() -> Any:
    try:
        import timm
    except ImportError as exc:
        raise ModelError(
            "timm: models need timm; install it with: pip install 'ilsvrc-bench[timm]'"
        ) from exc
    return timm


def _pretrained_cfg(name: str) -> Any:
    timm = _timm()
    arch, _, tag = name.partition(".")
    if not timm.is_model(arch):
        raise ModelError(f"unknown timm model '{arch}'" + did_you_mean(arch, timm.list_models()))
    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except RuntimeError:
        tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{arch}.*")]
        raise ModelError(
            f"timm model {arch} has no pretrained tag {tag!r}; tags: {', '.join(tags) or 'none'}"
        ) from None
    if cfg is None:
        raise ModelError(f"timm model {name} has no pretrained config")
    return cfg


def _preprocessing(cfg: Any) -> Preprocessing:
    size = int(cfg.input_size[-1])
    interpolation: Interpolation = (
        cfg.interpolation if cfg.interpolation in INTERPOLATIONS else "bicubic"
    )
    if cfg.crop_mode not in (None, "center"):
        raise ModelError(
            f"timm model {cfg.architecture}.{cfg.tag} uses crop mode {cfg.crop_mode!r}; "
            f"only centre crops are supported"
        )
    return Preprocessing(
        resize_size=math.floor(size / (cfg.crop_pct or 0.875)),
        crop_size=size,
        interpolation=interpolation,
        mean=tuple(float(m) for m in cfg.mean),  # type: ignore[arg-type]
        std=tuple(float(s) for s in cfg.std),  # type: ignore[arg-type]
    )


def spec_for(
    name: str,
    *,
    weights: WeightsChoice | None = None,
    preprocessing: PreprocessingOverrides = NO_OVERRIDES,
) -> ModelSpec:
    """The spec of timm model ``name`` (``arch`` or ``arch.tag``) with the chosen weights."""
    arch = name.partition(".")[0]
    choice = weights or WeightsChoice()
    if choice.kind == "random":
        weights_spec = WeightsSpec(name="random")
    elif choice.kind == "file":
        path = choice.path
        assert path is not None
        if not path.is_file():
            raise ModelError(f"weights file {path} does not exist")
        weights_spec = WeightsSpec(name=path.name, path=str(path))
    else:
        if choice.kind == "named":
            name = f"{arch}.{choice.name}"
        weights_spec = WeightsSpec(name="DEFAULT")
    cfg = _pretrained_cfg(name)
    full = f"{cfg.architecture}.{cfg.tag}" if cfg.tag else cfg.architecture
    if weights_spec.name == "DEFAULT":
        weights_spec = WeightsSpec(name=cfg.tag or "DEFAULT", url=_weights_url(cfg))
        name = full
    num_outputs = int(cfg.num_classes or 1000)
    if num_outputs not in (1000, 1001):
        raise ModelError(
            f"timm model {full} has {num_outputs} classes; expected an ImageNet-1k classifier"
        )
    offset = int(cfg.label_offset) if cfg.label_offset else (1 if num_outputs == 1001 else 0)
    return ModelSpec(
        name=PREFIX + name,
        source="timm",
        architecture=cfg.architecture,
        weights=weights_spec,
        preprocessing=preprocessing.apply(_preprocessing(cfg)),
        num_outputs=num_outputs,
        class_offset=offset,
        target=full,
    )


def _weights_url(cfg: Any) -> str | None:
    if cfg.hf_hub_id:
        return f"https://huggingface.co/{cfg.hf_hub_id}"
    return cfg.url or None


def _cached_file(cfg: Any) -> Path | None:
    """The weights file timm just loaded, found in the Hugging Face or torch hub cache."""
    if cfg.hf_hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:  # pragma: no cover - timm depends on huggingface_hub
            return None
        names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else []
        for filename in [*names, "model.safetensors", "pytorch_model.bin", "open_clip_model.bin"]:
            found = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(found, str):
                return Path(found)
    if cfg.url:
        candidate = wts.hub_dir() / Path(cfg.url.split("?")[0]).name
        return candidate if candidate.is_file() else None
    return None


def build_module(spec: ModelSpec) -> tuple[torch.nn.Module, str | None]:
    """Build a timm model on the CPU; returns it and its weights' SHA-256 (when known)."""
    import torch

    timm = _timm()
    name = spec.target or spec.architecture
    kwargs = {"num_classes": spec.num_outputs}
    if spec.weights.is_random:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            return timm.create_model(name, pretrained=False, **kwargs), None
    if spec.weights.path is not None:
        state = wts.load_state_dict_file(spec.weights.path)
        with wts.skip_init():
            model = timm.create_model(name, pretrained=False, **kwargs)
        wts.load_into(model, state, source=spec.weights.path, architecture=spec.name)
        return model, wts.sha256_file(spec.weights.path)
    cfg = _pretrained_cfg(name)
    try:
        model = timm.create_model(name, pretrained=True, **kwargs)
    except Exception as exc:
        where = (
            f"the Hugging Face cache (repo {cfg.hf_hub_id}, $HF_HOME)"
            if cfg.hf_hub_id
            else f"{wts.hub_dir()}"
        )
        raise ModelError(
            f"cannot get timm weights for {name} ({wts.describe_exception(exc)}); if this machine "
            f"is offline, put them in {where}, or download them elsewhere and pass --weights PATH"
        ) from exc
    cached = _cached_file(cfg)
    return model, wts.sha256_file(cached) if cached is not None else None


class TimmSource:
    """``timm:NAME`` or ``timm:NAME.TAG``; timm's names are not listed (there are thousands)."""

    scheme = "timm"

    def names(self) -> Sequence[str]:
        return ()

    def claims(self, ref: str) -> bool:
        return False

    def spec(
        self, name: str, *, weights: WeightsChoice, preprocessing: PreprocessingOverrides
    ) -> ModelSpec:
        return spec_for(name, weights=weights, preprocessing=preprocessing)

    def build(self, spec: ModelSpec, *, device: torch.device) -> LoadedModel:
        module, sha = build_module(spec)
        return module_model(spec, module, sha, device)


SOURCE = TimmSource()
