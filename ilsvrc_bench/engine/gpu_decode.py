"""``--decode gpu``: JPEGs decoded by nvJPEG and resized on the device, in batches.

Loader workers only read bytes. For each image they decide where it is decoded: a baseline or
progressive 3-component JPEG goes to the GPU as its encoded bytes; everything else (grey or
CMYK JPEGs, PNG named .JPEG, unreadable files) takes the exact CPU path in the worker and arrives
as finished uint8 views. In the main process the GPU images of a batch are decoded in one
``torchvision.io.decode_jpeg(..., device=...)`` call, resized and cropped with torchvision's
tensor ops, and put back in their places beside the CPU-made views. An image nvJPEG still
refuses is decoded on the CPU there and then.

Pixels differ slightly from Pillow's (IDCT, chroma upsampling and tensor resize all differ), so a
run decoded this way records ``decoder: nvjpeg`` in its preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset as TorchDataset

from ilsvrc_bench.engine import protocols
from ilsvrc_bench.engine.loader import Batch, DatasetLike
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.models.spec import Preprocessing

DECODERS = ("cpu", "gpu")
GPU_DECODER = "nvjpeg"

# Start-of-frame markers (SOF0-SOF15 less DHT C4, JPG C8 and DAC CC) that carry the component count.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}


def jpeg_frame(data: bytes) -> tuple[int, int] | None:
    """(start-of-frame marker, number of colour components) of a JPEG, or None when ``data`` is
    not a JPEG whose frame header can be found (the caller then lets Pillow decide)."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    pos, n = 2, len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker in _STANDALONE:
            pos += 2
        elif marker in _SOF:
            return (marker, data[pos + 9]) if pos + 9 < n else None
        elif marker == 0xDA:  # start of scan before any frame header
            return None
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


# An item: (manifest index, path, encoded bytes for the GPU or None, CPU views or None,
# readable, error)
Item = tuple[int, str, torch.Tensor | None, torch.Tensor | None, bool, str]


def gpu_decodable(data: bytes) -> bool:
    """nvJPEG's batched decode handles baseline and progressive 3-component JPEGs; the rest
    (grey, CMYK/YCCK, lossless or arithmetic-coded JPEGs, other formats) are decoded on the CPU."""
    frame = jpeg_frame(data)
    return frame is not None and frame[0] in (0xC0, 0xC1, 0xC2) and frame[1] == 3


class EncodedViews(TorchDataset[Item]):
    """Item ``i``: its bytes when the GPU can decode them, else its finished CPU views."""

    def __init__(
        self, dataset: DatasetLike, records: Sequence[Any], prep: Preprocessing, protocol: str
    ) -> None:
        self.dataset = dataset
        self.records = list(records)
        self.prep = prep
        self.protocol = protocol

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Item:
        record = self.records[i]
        try:
            data = self.dataset.read_bytes(record)
        except DataError as exc:
            blank = _blank(self.prep, self.protocol)
            return record.index, record.path, None, blank, False, str(exc)
        if gpu_decodable(data):
            encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            return record.index, record.path, encoded, None, True, ""
        views, ok, error = cpu_views(data, record.path, self.prep, self.protocol)
        return record.index, record.path, None, views, ok, error


def cpu_views(
    data: bytes, source: str, prep: Preprocessing, protocol: str
) -> tuple[torch.Tensor, bool, str]:
    """The exact CPU path for one image: (views, readable, error)."""
    from ilsvrc_bench.models.preprocess import decode_rgb

    try:
        return protocols.views(decode_rgb(data, source=source), prep, protocol), True, ""
    except DataError as exc:
        return _blank(prep, protocol), False, str(exc)


def _blank(prep: Preprocessing, protocol: str) -> torch.Tensor:
    size = prep.crop_size
    return torch.zeros((protocols.n_views(protocol), 3, size, size), dtype=torch.uint8)


@dataclass
class EncodedBatch:
    """A batch on its way to the GPU: ``items`` in batch order."""

    items: list[Item]

    def __len__(self) -> int:
        return len(self.items)

    def pin_memory(self) -> EncodedBatch:
        return self


def collate_encoded(items: Sequence[Item]) -> EncodedBatch:
    return EncodedBatch(list(items))


Decode = Callable[[list[torch.Tensor], torch.device], list[torch.Tensor]]


def nvjpeg_decode(encoded: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Batched ``decode_jpeg`` on ``device`` as RGB CHW uint8 tensors."""
    import warnings

    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29 on its decoders
        out = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def tensor_views(image: torch.Tensor, prep: Preprocessing, protocol: str) -> torch.Tensor:
    """``protocols.views`` for a CHW uint8 tensor (on any device), with torchvision's tensor ops."""
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode

    mode = InterpolationMode(prep.interpolation)
    crop = [prep.crop_size, prep.crop_size]
    if protocol == "full":
        square: torch.Tensor = F.resize(image, crop, interpolation=mode, antialias=prep.antialias)
        return square.unsqueeze(0)
    if protocol == "center" and prep.central_fraction is not None:
        # TensorFlow's recipe, as preprocess.central_crop does it: the central fraction of each
        # side (start offsets truncated), then that part resized to the crop size.
        height, width = image.shape[-2:]
        top = int((height - height * prep.central_fraction) / 2)
        left = int((width - width * prep.central_fraction) / 2)
        part = image[..., top : height - top, left : width - left]
        squashed: torch.Tensor = F.resize(part, crop, interpolation=mode, antialias=prep.antialias)
        return squashed.unsqueeze(0)
    resized = F.resize(image, [prep.resize_size], interpolation=mode, antialias=prep.antialias)
    if protocol == "center":
        centre: torch.Tensor = F.center_crop(resized, crop)
        return centre.unsqueeze(0)
    if protocol == "10crop":
        five = list(F.five_crop(resized, crop))
        return torch.stack(five + [v.flip(-1) for v in five])
    protocols.n_views(protocol)  # raises for an unknown protocol
    raise AssertionError(protocol)


class GpuAssembler:
    """EncodedBatch -> Batch with uint8 views on ``device``; GPU failures fall back per image."""

    def __init__(
        self,
        device: torch.device,
        prep: Preprocessing,
        protocol: str,
        decode: Decode = nvjpeg_decode,
    ) -> None:
        self.device = device
        self.prep = prep
        self.protocol = protocol
        self.decode = decode
        self.n_gpu = 0
        self.n_cpu = 0

    def __call__(self, batch: EncodedBatch) -> Batch:
        views: list[torch.Tensor | None] = [item[3] for item in batch.items]
        readable = [item[4] for item in batch.items]
        errors = [item[5] for item in batch.items]
        encoded = {i: item[2] for i, item in enumerate(batch.items) if item[2] is not None}
        decoded = self._decode_all(list(encoded.values()))
        for (pos, data), image in zip(encoded.items(), decoded, strict=True):
            if image is None:  # nvJPEG refused it: the exact CPU path, now
                views[pos], readable[pos], errors[pos] = cpu_views(
                    data.numpy().tobytes(), batch.items[pos][1], self.prep, self.protocol
                )
                self.n_cpu += 1
            else:
                views[pos] = tensor_views(image, self.prep, self.protocol)
                self.n_gpu += 1
        self.n_cpu += len(batch) - len(encoded)
        images = torch.stack([v.to(self.device, non_blocking=True) for v in views if v is not None])
        return Batch(
            index=torch.tensor([it[0] for it in batch.items], dtype=torch.int64),
            images=images,
            readable=torch.tensor(readable, dtype=torch.bool),
            errors=errors,
        )

    def _decode_all(self, encoded: list[torch.Tensor]) -> list[torch.Tensor | None]:
        """One batched call; if it fails, each image alone, so one bad image costs only itself."""
        if not encoded:
            return []
        try:
            return list(self.decode(encoded, self.device))
        except RuntimeError:
            pass
        out: list[torch.Tensor | None] = []
        for one in encoded:
            try:
                out.append(self.decode([one], self.device)[0])
            except RuntimeError:
                out.append(None)
        return out
