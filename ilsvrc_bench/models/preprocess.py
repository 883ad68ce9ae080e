"""Image preprocessing that gives exactly the tensors torchvision's ``weights.transforms()`` gives.

The pieces are split so the engine can decode once and reuse the decoded image for several crops:
``decode_rgb`` (bytes -> PIL RGB), ``resize``/``center_crop``/``to_uint8_tensor`` (PIL -> uint8 CHW)
and ``normalize`` (uint8 NCHW on any device -> float32). Resizing and cropping call torchvision's
own functional ops on PIL images, and ``normalize`` repeats its operations in the same order
(to float, divide by 255, subtract mean, divide by std), so the result is bit-identical.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import DataError, UsageError
from ilsvrc_bench.models.spec import Preprocessing

if TYPE_CHECKING:
    import torch
    from PIL import Image

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
COLOR_ORDERS = ("RGB", "BGR")


def decode_rgb(data: bytes, *, source: str = "<bytes>") -> Image.Image:
    """Decode image bytes to an RGB PIL image (CMYK, grayscale, palette are converted).

    Raises ``DataError`` naming ``source`` when the bytes are not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            # The same conversion torchvision's default image loader does.
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot decode image {source}: {exc}") from exc
    except Image.DecompressionBombError as exc:
        raise DataError(f"cannot decode image {source}: {exc}") from exc


def _mode(prep: Preprocessing) -> Any:
    from torchvision.transforms import InterpolationMode

    return InterpolationMode(prep.interpolation)


def resize(img: Image.Image, size: int | tuple[int, int], prep: Preprocessing) -> Image.Image:
    """Resize with ``prep``'s interpolation: an int scales the shorter side, a pair is (h, w)."""
    import torchvision.transforms.functional as F

    target = [size] if isinstance(size, int) else list(size)
    out: Image.Image = F.resize(img, target, interpolation=_mode(prep), antialias=prep.antialias)
    return out


def center_crop(img: Image.Image, size: int | tuple[int, int]) -> Image.Image:
    """Centre crop to ``size`` (an int for a square, else (h, w)); pads with zeros if too small."""
    import torchvision.transforms.functional as F

    target = [size] if isinstance(size, int) else list(size)
    cropped: Image.Image = F.center_crop(img, target)
    return cropped


def to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """A PIL RGB image as a uint8 CHW tensor (no scaling)."""
    import torchvision.transforms.functional as F

    tensor: torch.Tensor = F.pil_to_tensor(img)
    return tensor


def resize_center_crop(img: Image.Image, prep: Preprocessing) -> torch.Tensor:
    """The single-crop eval recipe: shorter side to ``resize_size``, centre crop ``crop_size``.

    Returns a uint8 CHW tensor in RGB order; ``normalize`` finishes the job.
    """
    return to_uint8_tensor(center_crop(resize(img, prep.resize_size, prep), prep.crop_size))


def normalize(batch: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 NCHW RGB (any device) -> float32 normalised, bit-identical to ``weights.transforms()``.

    The same on the CPU and on CUDA (all three steps are correctly rounded IEEE operations).

    For a model with ``color_order == "BGR"`` the channels are flipped first; ``mean`` and ``std``
    are given in the model's channel order.
    """
    import torch

    if batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f"expected a uint8 batch of shape [N, 3, H, W], got {tuple(batch.shape)}")
    if prep.color_order == "BGR":
        batch = batch.flip(1)
    # Divide by a tensor on the batch's device, not a Python number: CUDA turns division by a
    # CPU scalar into multiplication by its reciprocal, which rounds differently from the CPU.
    scale = torch.full((), 255.0, dtype=torch.float32, device=batch.device)
    x = batch.to(torch.float32).div_(scale)
    mean = torch.as_tensor(prep.mean, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    std = torch.as_tensor(prep.std, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    return x.sub_(mean).div_(std)


def _positive_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UsageError(f"preprocessing {key} must be a positive integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"preprocessing {key} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise UsageError(f"preprocessing {key} must be a positive integer, got {value!r}")
    return number


def _triple(key: str, value: object) -> tuple[float, float, float]:
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


def with_overrides(prep: Preprocessing, overrides: Mapping[str, object] | None) -> Preprocessing:
    """``prep`` with the given fields replaced, each validated; ``None`` values are ignored.

    Raises ``UsageError`` for an unknown key or a bad value.
    """
    if not overrides:
        return prep
    known = {f.name for f in fields(Preprocessing)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in known:
            raise UsageError(
                f"unknown preprocessing setting {key!r}; expected one of {', '.join(sorted(known))}"
            )
        if key in ("resize_size", "crop_size"):
            changes[key] = _positive_int(key, value)
        elif key in ("mean", "std"):
            changes[key] = _triple(key, value)
        elif key == "interpolation":
            name = str(value).lower()
            if name not in INTERPOLATIONS:
                raise UsageError(
                    f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {value!r}"
                )
            changes[key] = name
        elif key == "color_order":
            order = str(value).upper()
            if order not in COLOR_ORDERS:
                raise UsageError(f"color_order must be RGB or BGR, got {value!r}")
            changes[key] = order
        elif key == "antialias":
            if not isinstance(value, bool):
                raise UsageError(f"antialias must be true or false, got {value!r}")
            changes[key] = value
    return replace(prep, **changes)
