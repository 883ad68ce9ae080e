"""Loader throughput on generated JPEGs: images/s and the share of time spent waiting for data.

Generates ImageNet-sized JPEGs in memory (no disk), then for each worker count runs the real
engine (``evaluate_specs``) with a near-free model, so the numbers measure decoding, resizing,
cropping, batching and the host->device copy, not a network. Not a test; prints a table.

    .venv/bin/python benchmarks/loader_throughput.py --images 256 --workers 0,1,2
    .venv/bin/python benchmarks/loader_throughput.py --device cuda --workers 4,8,15
    .venv/bin/python benchmarks/loader_throughput.py --device cuda --arch resnet50 --precision bf16

``--arch`` replaces the near-free model with a randomly initialised torchvision architecture, to
see whether a real model on the device is compute- or data-bound.
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ilsvrc_bench.engine import EvalOptions, evaluate_specs
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, WeightsSpec


@dataclass(frozen=True)
class _Record:
    index: int
    path: str
    class_index: int
    blacklisted: bool = False


@dataclass
class GeneratedDataset:
    """Duck-types ``ilsvrc_bench.data.Dataset`` over JPEG bytes held in memory."""

    blobs: list[bytes]
    name: str = "generated"
    path: Path = Path("/generated")
    source: str = "generated"
    split: str = "val"
    manifest_sha256: str = "0" * 64
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> list[_Record]:
        return [_Record(i, f"{i:08d}.JPEG", i % 1000) for i in range(len(self.blobs))]

    @property
    def n_images(self) -> int:
        return len(self.blobs)

    def read_bytes(self, record: _Record) -> bytes:
        return self.blobs[record.index]


def make_jpegs(n: int, width: int, height: int, seed: int = 0) -> list[bytes]:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    blobs = []
    for _ in range(n):
        img = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(img)
        for _ in range(20):
            x, y = rng.randrange(width), rng.randrange(height)
            fill = tuple(rng.randrange(256) for _ in range(3))
            draw.ellipse((x, y, x + rng.randrange(8, 120), y + rng.randrange(8, 120)), fill=fill)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        blobs.append(buf.getvalue())
    return blobs


class _Cheap(torch.nn.Module):
    """Global average pool + a linear layer: costs next to nothing, so the loader dominates."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


@dataclass
class _Loaded:
    spec: ModelSpec
    module: torch.nn.Module
    device: torch.device
    weights_sha256: str | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def _model(arch: str | None) -> torch.nn.Module:
    if arch is None:
        return _Cheap()
    import torchvision

    return getattr(torchvision.models, arch)()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", default="500x375", help="WIDTHxHEIGHT of generated JPEGs")
    parser.add_argument("--workers", default="0,1,2", help="comma-separated worker counts")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--protocol", default="center", choices=["center", "10crop", "full"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--arch", default=None, help="a torchvision architecture (random weights)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    print(f"generating {args.images} JPEGs of {width}x{height} ...", flush=True)
    dataset = GeneratedDataset(make_jpegs(args.images, width, height))
    prep = Preprocessing()  # 256 / 224 bilinear, the torchvision recipe
    spec = ModelSpec(
        name="cheap", source="factory", architecture="cheap", weights=WeightsSpec("random")
    )
    spec = ModelSpec(**{**spec.__dict__, "preprocessing": prep})
    what = f"{args.arch or 'near-free model'}, {args.precision}, batch {args.batch_size}"
    print(f"model: {what}{', channels_last' if args.channels_last else ''}")
    print(f"{'workers':>7} {'images/s':>9} {'data wait':>9} {'compute':>8}  device")
    for workers in (int(w) for w in args.workers.split(",")):
        with tempfile.TemporaryDirectory() as runs_dir:
            (result,) = evaluate_specs(
                [("cheap", spec)],
                dataset,
                runs_dir=Path(runs_dir),
                options=EvalOptions(
                    device=args.device,
                    batch_size=args.batch_size,
                    workers=workers,
                    protocol=args.protocol,
                    precision=args.precision,
                    channels_last=args.channels_last,
                    resume=False,
                ),
                load=lambda s, device: _Loaded(s, _model(args.arch).to(device).eval(), device),
            )
        t = result.record.timings
        assert t is not None
        print(
            f"{workers:>7} {t.images_per_second or 0:>9.1f} {t.data_wait_share or 0:>9.1%} "
            f"{t.compute_share or 0:>8.1%}  {result.record.device.name}",
            flush=True,
        )


if __name__ == "__main__":
    main()
