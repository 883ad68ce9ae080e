"""The user's choices for a model, parsed once at the edge: weights and preprocessing overrides.

``WeightsChoice`` is one of four kinds (default, a named set, random, a file); every model source
receives it already parsed. ``PreprocessingOverrides`` holds the validated values of the
``--resize/--crop/--interpolation/--mean/--std/--central-fraction`` flags (``None`` = keep the
model's own value).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from ilsvrc_bench.errors import UsageError
from ilsvrc_bench.models.spec import ColorOrder, Interpolation, Preprocessing

WeightsKind = Literal["default", "named", "random", "file"]
WEIGHTS_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
INTERPOLATIONS: tuple[Interpolation, ...] = ("nearest", "bilinear", "bicubic")
COLOR_ORDERS: tuple[ColorOrder, ...] = ("RGB", "BGR")


def looks_like_path(value: str) -> bool:
    """Whether a ``--weights`` value names a file rather than a weights name or ``random``."""
    return (
        value.lower().endswith(WEIGHTS_SUFFIXES)
        or os.sep in value
        or "/" in value
        or Path(value).expanduser().exists()
    )


@dataclass(frozen=True)
class WeightsChoice:
    """``--weights``: the source's default, a named set (enum member, timm tag), random, a file."""

    kind: WeightsKind = "default"
    name: str | None = None  # for "named": as the user wrote it
    path: Path | None = None  # for "file": absolute; existence is checked by the source

    @classmethod
    def parse(cls, value: str | WeightsChoice | None) -> WeightsChoice:
        """``None``/``DEFAULT`` -> default, ``random``, a path-like value -> file, else named."""
        if isinstance(value, WeightsChoice):
            return value
        text = (value or "").strip()
        if not text or text.upper() == "DEFAULT":
            return cls()
        if text.lower() == "random":
            return cls(kind="random")
        if looks_like_path(text):
            return cls(kind="file", path=Path(text).expanduser().resolve())
        return cls(kind="named", name=text)

    @property
    def label(self) -> str:
        """How the choice reads in a message: ``DEFAULT``, ``random``, the name or the path."""
        if self.kind == "named":
            return str(self.name)
        if self.kind == "file":
            return str(self.path)
        return "DEFAULT" if self.kind == "default" else "random"


DEFAULT_WEIGHTS = WeightsChoice()


def positive_int(key: str, value: object) -> int:
    """``value`` as a positive integer; ``UsageError`` naming ``key`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UsageError(f"preprocessing {key} must be a positive integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"preprocessing {key} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise UsageError(f"preprocessing {key} must be a positive integer, got {value!r}")
    return number


def parse_triple(key: str, value: object) -> tuple[float, float, float]:
    """Three finite numbers (``"0.5,0.5,0.5"``, ``"0.5 0.5 0.5"`` or a sequence); std positive."""
    items: list[object]
    if isinstance(value, str):
        items = [v for v in value.replace(",", " ").split() if v]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise UsageError(f"preprocessing {key} must be three numbers, got {value!r}")
    try:
        numbers = tuple(float(v) for v in items)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"preprocessing {key} must be three numbers, got {value!r}") from None
    if len(numbers) != 3 or not all(math.isfinite(n) for n in numbers):
        raise UsageError(f"preprocessing {key} must be three finite numbers, got {value!r}")
    if key == "std" and any(n <= 0 for n in numbers):
        raise UsageError(f"preprocessing std must be positive, got {value!r}")
    return (numbers[0], numbers[1], numbers[2])


def parse_fraction(key: str, value: object) -> float:
    """A number in (0, 1]."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"preprocessing {key} must be a number in (0, 1], got {value!r}") from None
    if isinstance(value, bool) or not (0 < number <= 1):
        raise UsageError(f"preprocessing {key} must be a number in (0, 1], got {value!r}")
    return number


def _interpolation(value: object) -> Interpolation:
    for name in INTERPOLATIONS:
        if str(value).lower() == name:
            return name
    raise UsageError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {value!r}")


def _color_order(value: object) -> ColorOrder:
    for name in COLOR_ORDERS:
        if str(value).upper() == name:
            return name
    raise UsageError(f"color_order must be RGB or BGR, got {value!r}")


def _antialias(value: object) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"antialias must be true or false, got {value!r}")
    return value


_PARSERS: dict[str, Any] = {
    "resize_size": lambda v: positive_int("resize_size", v),
    "crop_size": lambda v: positive_int("crop_size", v),
    "interpolation": _interpolation,
    "antialias": _antialias,
    "mean": lambda v: parse_triple("mean", v),
    "std": lambda v: parse_triple("std", v),
    "color_order": _color_order,
    "central_fraction": lambda v: parse_fraction("central_fraction", v),
}


@dataclass(frozen=True)
class PreprocessingOverrides:
    """Values that replace a model's own preprocessing; ``None`` keeps the model's value."""

    resize_size: int | None = None
    crop_size: int | None = None
    interpolation: Interpolation | None = None
    antialias: bool | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    color_order: ColorOrder | None = None
    central_fraction: float | None = None

    def __post_init__(self) -> None:
        # Validate (and normalise: "BICUBIC" -> "bicubic", "0.5,0.5,0.5" -> a tuple) whatever
        # was given, so an object of this type always holds good values.
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, _PARSERS[f.name](value))

    @classmethod
    def from_mapping(
        cls, values: PreprocessingOverrides | Mapping[str, object] | None
    ) -> PreprocessingOverrides:
        """From ``{"crop_size": 224, ...}`` (``None`` values ignored); unknown keys are refused."""
        if isinstance(values, PreprocessingOverrides):
            return values
        known = {f.name for f in fields(cls)}
        for key in values or {}:
            if key not in known:
                raise UsageError(
                    f"unknown preprocessing setting {key!r}; "
                    f"expected one of {', '.join(sorted(known))}"
                )
        return cls(**{k: v for k, v in (values or {}).items() if v is not None})  # type: ignore[arg-type]

    @property
    def given(self) -> dict[str, Any]:
        """The overridden fields and their values."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in values.items() if v is not None}

    def __bool__(self) -> bool:
        return bool(self.given)

    def apply(self, prep: Preprocessing) -> Preprocessing:
        """``prep`` with the overridden fields replaced."""
        return replace(prep, **self.given) if self else prep


NO_OVERRIDES = PreprocessingOverrides()
