"""Tiny models and an in-memory dataset for engine tests (importable as factory targets)."""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ilsvrc_bench.errors import DataError
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, WeightsSpec

SMALL_PREP = Preprocessing(resize_size=40, crop_size=32)


class Tiny(nn.Module):
    """A fixed, image-dependent classifier: channel means and a few pooled cells -> 1000 logits."""

    def __init__(self, width: int = 1000, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(3 * 16, width)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(width, 48, generator=gen))
            self.fc.bias.copy_(torch.randn(width, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1))


class Slow(Tiny):
    """Tiny, but each forward sleeps ``$ILSVRC_TEST_SLEEP`` seconds (for kill-midway tests)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(float(os.environ.get("ILSVRC_TEST_SLEEP", "0.2")))
        return super().forward(x)


class InterruptAfter(Tiny):
    """Raises KeyboardInterrupt on the forward call number ``$ILSVRC_TEST_INTERRUPT_AT``."""

    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        InterruptAfter.calls += 1
        if InterruptAfter.calls == int(os.environ.get("ILSVRC_TEST_INTERRUPT_AT", "2")):
            raise KeyboardInterrupt
        return super().forward(x)


def make_sample_root(base: Path) -> Path:
    """A data root under ``base`` holding dataset ``sample``: 10 classes x 2 generated images."""
    from ilsvrc_bench.data import prepare, write_sample

    tar, devkit = write_sample(base / "src", classes=10, per_class=2, seed=0)
    prepare([tar, devkit], root=base / "root", name="sample")
    return base / "root"


def tiny() -> nn.Module:
    return Tiny()


def slow() -> nn.Module:
    return Slow()


def interrupt_after() -> nn.Module:
    InterruptAfter.calls = 0
    return InterruptAfter()


def unseeded() -> nn.Module:
    """Tiny with weights drawn afresh in every process (what an unseeded factory does)."""
    return Tiny(seed=int.from_bytes(os.urandom(4), "little"))


def ten_outputs() -> nn.Module:
    return Tiny(width=10)


# ---- in-memory dataset ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rec:
    index: int
    path: str
    class_index: int
    wnid: str = "n00000000"
    devkit_id: int | None = None
    blacklisted: bool = False
    size: int = 0
    sha256: str = ""


def jpeg(seed: int, size: tuple[int, int] = (48, 40)) -> bytes:
    from PIL import Image

    gen = torch.Generator().manual_seed(seed)
    arr = torch.randint(0, 256, (size[1], size[0], 3), generator=gen, dtype=torch.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr.numpy()).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class MemoryDataset:
    """Duck-types ``ilsvrc_bench.data.Dataset``; ``broken`` indices raise DataError on read."""

    n: int = 12
    n_classes: int = 4
    broken: frozenset[int] = frozenset()
    blacklist: frozenset[int] = frozenset()
    name: str = "mem"
    path: Path = Path("/mem")
    source: str = "memory"
    split: str = "val"
    manifest_sha256: str = "0" * 64
    info: dict[str, object] = field(default_factory=dict)
    reads: int = 0

    @property
    def records(self) -> tuple[Rec, ...]:
        return tuple(
            Rec(i, f"img{i:03d}.png", i % self.n_classes, blacklisted=i in self.blacklist)
            for i in range(self.n)
        )

    @property
    def n_images(self) -> int:
        return self.n

    def read_bytes(self, record: Rec) -> bytes:
        self.reads += 1
        if record.index in self.broken:
            raise DataError(f"/mem/{record.path}: cannot read image (vanished)")
        return jpeg(record.index)


def spec(target: str = "tests.engine.helpers:tiny", name: str = "tiny") -> ModelSpec:
    return ModelSpec(
        name=name,
        source="factory",
        architecture=name,
        weights=WeightsSpec(name="factory"),
        preprocessing=SMALL_PREP,
        target=target,
    )


@dataclass
class FakeLoaded:
    """Duck-types ``LoadedModel`` around any callable."""

    spec: ModelSpec
    module: nn.Module | None
    fn: object = None
    weights_sha256: str | None = "f" * 64
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.fn is not None:
            return self.fn(x)  # type: ignore[operator]
        assert self.module is not None
        return self.module(x)


def loader_for(modules: dict[str, object]):
    """A ``load(spec, device=...)`` that returns FakeLoaded around ``modules[spec.name]``."""

    def load(s: ModelSpec, *, device: torch.device) -> FakeLoaded:
        obj = modules[s.name]
        if isinstance(obj, nn.Module):
            return FakeLoaded(spec=s, module=obj.to(device).eval())
        return FakeLoaded(spec=s, module=None, fn=obj)

    return load
