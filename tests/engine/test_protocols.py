"""Protocol views: centre crop, full image, and the ten crops' geometry on a real photograph."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from ilsvrc_bench.engine import protocols
from ilsvrc_bench.errors import UsageError
from ilsvrc_bench.models import preprocess
from ilsvrc_bench.models.spec import Preprocessing

PREP = Preprocessing(resize_size=72, crop_size=56)


def real_photo(folder: Path) -> Image.Image:
    # A non-square photograph, so the corners differ from the centre along both axes.
    for path in sorted(folder.glob("*.JPEG")):
        img = Image.open(path).convert("RGB")
        if img.width != img.height:
            return img
    raise AssertionError("no non-square image")


def test_ten_crop_geometry_on_a_real_image(real_images: Path) -> None:
    img = real_photo(real_images)
    views = protocols.views(img, PREP, "10crop")
    resized = preprocess.to_uint8_tensor(preprocess.resize(img, PREP.resize_size, PREP))
    _, h, w = resized.shape
    c = PREP.crop_size
    assert min(h, w) == PREP.resize_size
    assert views.shape == (10, 3, c, c) and views.dtype == torch.uint8
    top, left = round((h - c) / 2), round((w - c) / 2)
    expected = [
        resized[:, :c, :c],  # top-left
        resized[:, :c, w - c :],  # top-right
        resized[:, h - c :, :c],  # bottom-left
        resized[:, h - c :, w - c :],  # bottom-right
        resized[:, top : top + c, left : left + c],  # centre
    ]
    for i, crop in enumerate(expected):
        assert torch.equal(views[i], crop), f"view {i}"
        assert torch.equal(views[i + 5], crop.flip(-1)), f"view {i + 5} is not view {i} mirrored"
    # The centre view is exactly the single-crop protocol's input.
    assert torch.equal(views[4], protocols.views(img, PREP, "center")[0])
    assert torch.equal(views[4], preprocess.resize_center_crop(img, PREP))
    # The corners really are different places of the photograph.
    assert len({bytes(v.numpy()) for v in views}) == 10


def test_full_is_the_whole_image_squashed(real_images: Path) -> None:
    img = real_photo(real_images)
    (view,) = protocols.views(img, PREP, "full")
    expected = preprocess.to_uint8_tensor(img.resize((56, 56), Image.Resampling.BILINEAR))
    assert view.shape == (3, 56, 56)
    # torchvision's antialiased PIL resize is PIL's own resize.
    assert torch.equal(view, expected)


def test_protocol_checks() -> None:
    assert protocols.n_views("10crop") == 10 and protocols.n_views("center") == 1
    with pytest.raises(UsageError, match="resize_size >= crop_size"):
        protocols.check("10crop", Preprocessing(resize_size=32, crop_size=64))
    with pytest.raises(UsageError, match="unknown protocol"):
        protocols.n_views("5crop")


def test_center_with_a_central_fraction_is_tensorflows_crop_then_resize() -> None:
    # 101 x 57: the central 87.5% starts at int((101 - 88.375) / 2) = 6 and int(3.5625) = 3.
    rng = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (57, 101, 3), dtype=torch.uint8, generator=rng)
    img = Image.fromarray(pixels.numpy())
    prep = Preprocessing(crop_size=40, central_fraction=0.875)
    (view,) = protocols.views(img, prep, "center")
    box = img.crop((6, 3, 101 - 6, 57 - 3)).resize((40, 40), Image.Resampling.BILINEAR)
    assert torch.equal(view, preprocess.to_uint8_tensor(box))
    with pytest.raises(UsageError, match=r"10crop .* central-fraction"):
        protocols.check("10crop", prep)


def test_every_command_offers_exactly_the_engines_protocols() -> None:
    import click

    from ilsvrc_bench.engine.options import PROTOCOLS
    from tests.cli.test_cli_contract import _all_commands
    from tests.cli.test_terminal_options import _command

    assert set(PROTOCOLS) == set(protocols.N_VIEWS)
    offered = {}
    for path in _all_commands():
        for param in _command(path).params:
            # (report's --protocol is a free-text filter over recorded runs)
            if "--protocol" in getattr(param, "opts", ()) and isinstance(param.type, click.Choice):
                offered[" ".join(path)] = tuple(param.type.choices)
    assert {"eval", "bench", "sweep", "data cache"} <= set(offered)
    assert all(choices == PROTOCOLS for choices in offered.values()), offered
