"""Image preprocessing that gives exactly the tensors torchvision's ``weights.transforms()`` gives.

The pieces are split so the engine can decode once and reuse the decoded image for several crops:
``decode_rgb`` (bytes -> PIL RGB), ``resize``/``center_crop``/``to_uint8_tensor`` (PIL -> uint8 CHW)
and ``normalize`` (uint8 NCHW on any device -> float32). Resizing and cropping call torchvision's
own functional ops on PIL images, and ``normalize`` repeats its operations in the same order
(to float, divide by 255, subtract mean, divide by std), so the result is bit-identical.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import DataError
from ilsvrc_bench.models.choices import COLOR_ORDERS, INTERPOLATIONS, PreprocessingOverrides
from ilsvrc_bench.models.spec import Preprocessing

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = [
    "COLOR_ORDERS",
    "INTERPOLATIONS",
    "center_crop",
    "central_crop",
    "decode_rgb",
    "normalize",
    "resize",
    "resize_center_crop",
    "to_uint8_tensor",
    "with_overrides",
]


def decode_rgb(data: bytes, *, source: str = "<bytes>") -> Image.Image:
    """Decode image bytes to an RGB PIL image (CMYK, grayscale, palette are converted).

    Raises ``DataError`` naming ``source`` when the bytes are not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            # The same conversion torchvision's default image loader does.
            rgb: Image.Image = img.convert("RGB")
            return rgb
    except UnidentifiedImageError as exc:  # Pillow's text names a BytesIO object, not the file
        what = "an empty file" if not data else "not an image format Pillow reads"
        raise DataError(f"cannot decode image {source}: {what}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot decode image {source}: {exc}") from exc
    except Image.DecompressionBombError as exc:
        raise DataError(f"cannot decode image {source}: {exc}") from exc


def _mode(prep: Preprocessing) -> Any:
    from torchvision.transforms import InterpolationMode

    return InterpolationMode(prep.interpolation)


def resize(img: Image.Image, size: int | tuple[int, int], prep: Preprocessing) -> Image.Image:
    """Resize with ``prep``'s interpolation: an int scales the shorter side, a pair is (h, w).

    Pillow always antialiases (torchvision ignores ``antialias=False`` for a PIL image), so a
    bilinear or bicubic resize with ``antialias`` off is made as torchvision makes it for a uint8
    tensor (``F.resize(tensor, antialias=False)``, the GPU decoder's resize too), not silently
    antialiased. Nearest has no antialiasing to turn off: it is Pillow's either way.
    """
    import torchvision.transforms.functional as F

    target = [size] if isinstance(size, int) else list(size)
    if not prep.antialias and prep.interpolation != "nearest":
        tensor = F.resize(F.pil_to_tensor(img), target, interpolation=_mode(prep), antialias=False)
        unsmoothed: Image.Image = F.to_pil_image(tensor)
        return unsmoothed
    out: Image.Image = F.resize(img, target, interpolation=_mode(prep), antialias=True)
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


def central_crop(img: Image.Image, fraction: float) -> Image.Image:
    """The central ``fraction`` of each side, with ``tf.image.central_crop``'s rounding."""
    width, height = img.size
    # TensorFlow truncates the start offset and keeps the crop symmetric around the centre.
    top = int((height - height * fraction) / 2)
    left = int((width - width * fraction) / 2)
    return img.crop((left, top, width - left, height - top))


def resize_center_crop(img: Image.Image, prep: Preprocessing) -> torch.Tensor:
    """The single-crop eval recipe: shorter side to ``resize_size``, centre crop ``crop_size``.

    With ``prep.central_fraction`` set: central crop of that fraction of each side, then resize
    to ``crop_size`` square. Returns a uint8 CHW tensor in RGB order; ``normalize`` finishes it.
    """
    if prep.central_fraction is not None:
        cropped = central_crop(img, prep.central_fraction)
        return to_uint8_tensor(resize(cropped, (prep.crop_size, prep.crop_size), prep))
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


def with_overrides(
    prep: Preprocessing, overrides: PreprocessingOverrides | Mapping[str, object] | None
) -> Preprocessing:
    """``prep`` with the given fields replaced, each validated; ``None`` values are ignored.

    Raises ``UsageError`` for an unknown key or a bad value.
    """
    if overrides is None:
        return prep
    return PreprocessingOverrides.from_mapping(overrides).apply(prep)
