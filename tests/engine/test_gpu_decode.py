"""``--decode gpu``: which images go to nvJPEG, per-image fallback, batch assembly (on the CPU)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from ilsvrc_bench.engine import gpu_decode, protocols
from ilsvrc_bench.engine.gpu_decode import EncodedBatch, GpuAssembler, gpu_decodable, jpeg_frame
from ilsvrc_bench.models.preprocess import decode_rgb
from ilsvrc_bench.models.spec import Preprocessing
from tests.engine.helpers import SMALL_PREP


def _encode(mode: str, fmt: str = "JPEG", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (48, 40), (10, 200, 30, 0)[: len(mode)] if mode != "L" else 90).save(
        buf, format=fmt, **save
    )
    return buf.getvalue()


def test_only_colour_baseline_or_progressive_jpegs_go_to_the_gpu() -> None:
    assert gpu_decodable(_encode("RGB"))
    assert gpu_decodable(_encode("RGB", progressive=True))
    assert jpeg_frame(_encode("RGB", progressive=True)) == (0xC2, 3)
    assert jpeg_frame(_encode("L")) == (0xC0, 1)
    assert not gpu_decodable(_encode("L"))  # grey: CPU
    assert not gpu_decodable(_encode("CMYK"))  # CMYK: Pillow's conversion
    assert not gpu_decodable(_encode("RGB", fmt="PNG"))  # a PNG named .JPEG
    assert not gpu_decodable(b"")
    assert not gpu_decodable(b"\xff\xd8\xff\xe0\x00")  # truncated header
    assert not gpu_decodable(_encode("RGB")[:20])


@pytest.mark.realdata
def test_the_real_images_split_as_their_headers_say(real_images: Path) -> None:
    split = {p.name: gpu_decodable(p.read_bytes()) for p in real_images.iterdir()}
    grey = {n for n in split if Image.open(real_images / n).mode != "RGB"}
    assert {n for n, gpu in split.items() if not gpu} == grey


def _cpu_decode(encoded: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Stands in for nvJPEG: torchvision's CPU decode_jpeg, so the assembly runs without a GPU."""
    from torchvision.io import ImageReadMode, decode_jpeg

    return [decode_jpeg(e, mode=ImageReadMode.RGB) for e in encoded]


def _items(blobs: list[bytes], prep: Preprocessing, protocol: str) -> EncodedBatch:
    items: list[tuple[int, str, torch.Tensor | None, torch.Tensor | None, bool, str]] = []
    for i, data in enumerate(blobs):
        if gpu_decodable(data):
            encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            items.append((i, f"img{i}", encoded, None, True, ""))
        else:
            views, ok, err = gpu_decode.cpu_views(data, f"img{i}", prep, protocol)
            items.append((i, f"img{i}", None, views, ok, err))
    return gpu_decode.collate_encoded(items)


@pytest.mark.parametrize("protocol", ["center", "10crop", "full"])
def test_assembly_keeps_batch_order_and_cpu_images_exact(protocol: str) -> None:
    blobs = [_encode("RGB"), _encode("L"), b"not an image", _encode("CMYK"), _encode("RGB")]
    assemble = GpuAssembler(torch.device("cpu"), SMALL_PREP, protocol, decode=_cpu_decode)
    batch = assemble(_items(blobs, SMALL_PREP, protocol))
    n_views = protocols.n_views(protocol)
    assert batch.images.shape == (5, n_views, 3, 32, 32)
    assert batch.index.tolist() == [0, 1, 2, 3, 4]
    assert batch.readable.tolist() == [True, True, False, True, True]
    assert "cannot decode image img2" in batch.errors[2]
    assert (assemble.n_gpu, assemble.n_cpu) == (2, 3)
    for i in (1, 3):  # grey and CMYK took the exact CPU path
        exact = protocols.views(decode_rgb(blobs[i]), SMALL_PREP, protocol)
        assert torch.equal(batch.images[i], exact)
    assert not batch.images[2].any()


def test_an_image_the_decoder_refuses_falls_back_to_the_cpu_alone() -> None:
    blobs = [_encode("RGB"), _encode("RGB", quality=50)]
    assert len(blobs[0]) != len(blobs[1])

    def picky(encoded: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
        if any(len(e) == len(blobs[1]) for e in encoded):
            raise RuntimeError("nvjpeg: unsupported")
        return _cpu_decode(encoded, device)

    assemble = GpuAssembler(torch.device("cpu"), SMALL_PREP, "center", decode=picky)
    batch = assemble(_items(blobs, SMALL_PREP, "center"))
    assert batch.readable.tolist() == [True, True]
    assert (assemble.n_gpu, assemble.n_cpu) == (1, 1)
    exact = protocols.views(decode_rgb(blobs[1]), SMALL_PREP, "center")
    assert torch.equal(batch.images[1], exact)


@pytest.mark.gpu
@pytest.mark.realdata
def test_nvjpeg_on_the_real_images_is_close_to_the_cpu_path(real_images: Path) -> None:
    device = torch.device("cuda")
    prep = Preprocessing()
    blobs = [p.read_bytes() for p in sorted(real_images.iterdir())]
    batch = GpuAssembler(device, prep, "center")(_items(blobs, prep, "center"))
    assert batch.images.device.type == "cuda"
    exact = torch.stack([protocols.views(decode_rgb(b), prep, "center") for b in blobs])
    diff = (batch.images.cpu().int() - exact.int()).abs().float()
    assert batch.readable.all()
    assert diff.mean() < 3.0  # IDCT, upsampling and tensor resize differ slightly, not wildly


def test_a_gpu_decoded_run_records_its_decoder() -> None:
    from ilsvrc_bench.engine import EvalOptions
    from ilsvrc_bench.engine.runrecord import decoder

    assert decoder(EvalOptions(decode="gpu")) == {"decoder": "nvjpeg"}
    assert decoder(EvalOptions()) == {}  # the exact path: records stay as they were


def test_tensor_views_follow_a_central_fraction() -> None:
    """The GPU path cuts the same central part as the PIL path, then resizes it to the crop."""
    import numpy as np
    import torchvision.transforms.functional as F

    from ilsvrc_bench.models.preprocess import central_crop

    image = torch.randint(0, 256, (3, 57, 101), dtype=torch.uint8)
    # The central 87.5%: rows int(3.5625) = 3 .. 54, columns int(6.3125) = 6 .. 95.
    part = image[:, 3:54, 6:95]
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    pil_part = torch.from_numpy(np.array(central_crop(pil, 0.875))).permute(2, 0, 1)
    assert torch.equal(pil_part, part)
    prep = Preprocessing(crop_size=40, central_fraction=0.875)
    (view,) = gpu_decode.tensor_views(image, prep, "center")
    assert torch.equal(view, F.resize(part, [40, 40], antialias=True))
