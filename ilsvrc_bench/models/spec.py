"""Typed, declarative descriptions of a model: what it is, its weights, how to preprocess for it.

Class order: every model's outputs are mapped to the 1000 ILSVRC2012 classes in *sorted-wnid*
order (index 0 = n01440764). ``class_offset`` says how many leading outputs to drop first
(1 for TensorFlow-era models with a background class at output 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Interpolation = Literal["nearest", "bilinear", "bicubic"]
ColorOrder = Literal["RGB", "BGR"]
# The scheme of the model source that builds the model ("torchvision", "timm", "onnx", "tflite",
# "factory", "plugin", or a source installed by a package).
Source = str

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Applied to the uint8 views on the device (``preprocess.normalize``), after decoding and resizing.
AFTER_PIXELS = frozenset({"mean", "std", "color_order"})


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input: resize shorter side, centre crop, normalise.

    With ``central_fraction`` set the geometry is TensorFlow's instead: cut out the central
    ``central_fraction`` of each side (``tf.image.central_crop``), then resize that to
    ``crop_size`` x ``crop_size`` (the aspect ratio is not kept; ``resize_size`` is unused).
    """

    resize_size: int = 256
    crop_size: int = 224
    interpolation: Interpolation = "bilinear"
    antialias: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    color_order: ColorOrder = "RGB"
    central_fraction: float | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        """Every field: models with equal keys are fed identical tensors."""
        return tuple(asdict(self).values())

    @property
    def pixel_key(self) -> tuple[Any, ...]:
        """The fields that shape the uint8 pixels (all but mean, std and channel order, which
        are applied on the device): models with equal pixel keys are fed the same views."""
        return tuple(v for k, v in asdict(self).items() if k not in AFTER_PIXELS)


@dataclass(frozen=True)
class WeightsSpec:
    """Which weights: a torchvision enum name, ``random``, a local file, or the ONNX file itself."""

    name: str
    path: str | None = None
    url: str | None = None
    sha256: str | None = None

    @property
    def is_random(self) -> bool:
        return self.name == "random"


@dataclass(frozen=True)
class ReferenceAccuracy:
    """Published single-crop val accuracy in percent, with where it was published."""

    top1: float
    top5: float
    source: str

    @property
    def top1_err(self) -> float:
        return round(100.0 - self.top1, 3)

    @property
    def top5_err(self) -> float:
        return round(100.0 - self.top5, 3)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to build a model and feed it, and what it is known to score."""

    name: str
    source: Source
    architecture: str
    weights: WeightsSpec
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    num_outputs: int = 1000
    class_offset: int = 0
    reference: ReferenceAccuracy | None = None
    num_params: int | None = None
    gflops: float | None = None
    target: str | None = None  # what to build: "module:factory", an ONNX path, a timm name
    # Facts a reader of the spec or the run must know, e.g. "output 0 (background) dropped".
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
