"""Small shift sets in the published layouts (wnid folders), from generated or real images."""

from __future__ import annotations

import io
import random
from collections.abc import Iterable
from pathlib import Path

from PIL import Image


def jpeg(seed: int, size: tuple[int, int] = (48, 40)) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    return buf.getvalue()


def generated(folder: Path, wnids: Iterable[str], per_class: int = 2) -> Path:
    """``folder/<wnid>/<n>.jpg`` of generated images (names as in ImageNet-R: ``art_0.jpg``)."""
    for c, wnid in enumerate(wnids):
        (folder / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (folder / wnid / f"art_{i}.jpg").write_bytes(jpeg(c * 100 + i))
    return folder


def from_real(folder: Path, real_images: Path, wnids: Iterable[str] | None) -> Path:
    """The real sample photos whose class is in ``wnids`` (all when None), as wnid folders."""
    keep = None if wnids is None else set(wnids)
    for file in sorted(real_images.glob("*.JPEG")):
        wnid = file.name.split("_")[0]
        if keep is None or wnid in keep:
            (folder / wnid).mkdir(parents=True, exist_ok=True)
            (folder / wnid / file.name).write_bytes(file.read_bytes())
    return folder
