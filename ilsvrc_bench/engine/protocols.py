"""Test-time protocols: how one decoded image becomes the views a model scores.

``center``
    Shorter side resized to ``resize_size``, centre crop ``crop_size`` (the torchvision recipe);
    with ``central_fraction`` set, that central part of each side resized to ``crop_size``.
``10crop``
    Shorter side resized to ``resize_size``; the four corner crops and the centre crop of
    ``crop_size`` (in that order: top-left, top-right, bottom-left, bottom-right, centre), then
    the horizontal mirror of each of those five, in the same order (view ``i + 5`` is view ``i``
    mirrored). The model's softmax probabilities are averaged over the ten views (AlexNet paper).
``full``
    The whole image resized to a ``crop_size`` square (aspect ratio not kept), no crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import UsageError
from ilsvrc_bench.models.spec import Preprocessing

if TYPE_CHECKING:
    import torch
    from PIL import Image

N_VIEWS = {"center": 1, "10crop": 10, "full": 1}


def n_views(protocol: str) -> int:
    """How many views per image the protocol scores."""
    try:
        return N_VIEWS[protocol]
    except KeyError:
        raise UsageError(f"unknown protocol {protocol!r}; use {', '.join(N_VIEWS)}") from None


def check(protocol: str, prep: Preprocessing) -> None:
    """Refuse settings the protocol cannot honour."""
    n_views(protocol)
    if protocol == "10crop" and prep.central_fraction is not None:
        raise UsageError(
            "10crop crops the resized image at its corners; it cannot follow a central-fraction "
            "recipe (use --protocol center, or set --resize and --crop instead)"
        )
    # Both cut crops out of the resized image; a centre crop larger than it would be padding.
    resized_then_cropped = protocol == "10crop" or (
        protocol == "center" and prep.central_fraction is None
    )
    if resized_then_cropped and prep.resize_size < prep.crop_size:
        raise UsageError(
            f"{protocol} needs resize_size >= crop_size (the crop is cut from the resized "
            f"image), got {prep.resize_size} < {prep.crop_size}"
        )


def views(img: Image.Image, prep: Preprocessing, protocol: str) -> torch.Tensor:
    """The protocol's views of an RGB image as uint8 ``[V, 3, crop, crop]``."""
    return views_of_each(img, [prep], protocol)[0]


def views_of_each(
    img: Image.Image, preps: Sequence[Preprocessing], protocol: str
) -> list[torch.Tensor]:
    """``views(img, prep, protocol)`` for each of ``preps``, from one decoded image; each
    distinct resize (size, interpolation, antialias) is made once and cropped as often as asked."""
    resized = _Resizes(img)
    return [_views(resized, prep, protocol) for prep in preps]


class _Resizes:
    """The resizes of one decoded image, each made once."""

    def __init__(self, img: Image.Image) -> None:
        self.img = img
        self._done: dict[tuple[Any, ...], Image.Image] = {}

    def __call__(self, size: int | tuple[int, int], prep: Preprocessing) -> Image.Image:
        from ilsvrc_bench.models import preprocess

        key = (size, prep.interpolation, prep.antialias)
        if key not in self._done:
            self._done[key] = preprocess.resize(self.img, size, prep)
        return self._done[key]


def _views(resized: _Resizes, prep: Preprocessing, protocol: str) -> torch.Tensor:
    import torch
    import torchvision.transforms.functional as F

    from ilsvrc_bench.models import preprocess

    if protocol == "center":
        if prep.central_fraction is not None:
            return preprocess.resize_center_crop(resized.img, prep).unsqueeze(0)
        shorter = resized(prep.resize_size, prep)
        return preprocess.to_uint8_tensor(preprocess.center_crop(shorter, prep.crop_size))[None]
    if protocol == "full":
        square = resized((prep.crop_size, prep.crop_size), prep)
        return preprocess.to_uint8_tensor(square).unsqueeze(0)
    if protocol == "10crop":
        shorter_t = preprocess.to_uint8_tensor(resized(prep.resize_size, prep))
        five = list(F.five_crop(shorter_t, [prep.crop_size, prep.crop_size]))
        return torch.stack(five + [v.flip(-1) for v in five])
    n_views(protocol)  # raises for an unknown protocol
    raise AssertionError(protocol)
