"""The typed parts of a run record: what model, weights, data and device, the hit counts, timings.

Each is a frozen :class:`~ilsvrc_bench.runs.schema.Record`, read back with type checks naming the
field. :class:`~ilsvrc_bench.runs.record.RunRecord` puts them together. Metrics are hit *counts*;
accuracies, errors and confidence intervals are computed from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ilsvrc_bench.errors import RunError
from ilsvrc_bench.metrics import wilson_interval, z_for_level
from ilsvrc_bench.runs.schema import Record

if TYPE_CHECKING:
    from ilsvrc_bench.models.spec import ModelSpec

Metric = Literal["top1", "top5"]
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class ReferenceInfo(Record):
    """The published accuracy of the model's weights, percent, and where it was published."""

    top1: float
    top5: float
    source: str


@dataclass(frozen=True)
class EnsembleMember(Record):
    """One run an ensemble averaged."""

    run_id: str
    name: str
    ref: str | None = None


@dataclass(frozen=True)
class ModelInfo(Record):
    """Which model: its name and the reference the user typed, and how it was built."""

    name: str
    ref: str | None = None  # what the user typed (-m)
    source: str | None = None  # "torchvision", "timm", "onnx", "factory", "plugin"
    architecture: str | None = None
    target: str | None = None  # what was built: "module:factory", an ONNX path, a timm name
    num_outputs: int = 1000
    class_offset: int = 0  # leading outputs dropped (1 for a background class)
    reference: ReferenceInfo | None = None
    num_params: int | None = None
    gflops: float | None = None
    members: tuple[EnsembleMember, ...] = ()  # an ensemble's runs (source "ensemble")
    combine: str | None = None  # how an ensemble combined them

    @classmethod
    def from_spec(cls, spec: ModelSpec, *, ref: str) -> ModelInfo:
        ref_acc = spec.reference
        return cls(
            name=spec.name,
            ref=ref,
            source=spec.source,
            architecture=spec.architecture,
            target=spec.target,
            num_outputs=spec.num_outputs,
            class_offset=spec.class_offset,
            reference=None
            if ref_acc is None
            else ReferenceInfo(top1=ref_acc.top1, top5=ref_acc.top5, source=ref_acc.source),
            num_params=spec.num_params,
            gflops=spec.gflops,
        )


@dataclass(frozen=True)
class WeightsIdentity(Record):
    """The weights actually loaded."""

    name: str  # the weights' name ("IMAGENET1K_V1", "random", a file's name)
    sha256: str | None = None  # of the file loaded; of the state dict for weights with no file
    path: str | None = None  # the local file, when the user gave one
    url: str | None = None
    random: bool = False


@dataclass(frozen=True)
class DataIdentity(Record):
    """The data the run scored: which dataset, which manifest, which subset of it."""

    name: str
    manifest_sha256: str
    n_images: int  # images in the manifest
    path: str | None = None
    source: str | None = None  # "official", "kaggle", "hf", "folder", ...
    split: str | None = None  # "val" for ILSVRC2012 val
    limit: int | None = None  # --limit, or None for every image
    subset_sha256: str | None = None  # sha256 of the scored manifest indices under --limit
    # sorted-wnid class indices the scores were restricted to before ranking (ImageNet-R/-A:
    # 200 classes), or None when all 1000 were ranked
    class_subset: tuple[int, ...] | None = None
    # the dataset is part of ILSVRC2012 val, not all of it (dataset.json "is_subset"); None
    # in records written before datasets said so
    is_subset: bool | None = None


@dataclass(frozen=True)
class DeviceInfo(Record):
    type: str  # "cpu", "cuda", "mps"
    name: str  # e.g. "NVIDIA H100 80GB HBM3" or the CPU's model name


@dataclass(frozen=True)
class Counts(Record):
    """Top-1 and top-5 hits over ``n_images`` images: what every accuracy is computed from."""

    DERIVED: ClassVar[frozenset[str]] = frozenset(
        {"top1_acc", "top5_acc", "top1_err", "top5_err", "top1_ci", "top5_ci"}
    )

    n_images: int
    top1_correct: int
    top5_correct: int
    # mean over classes with images of the per-class accuracy, percent (None if no image)
    mean_per_class_acc: float | None = None
    mean_per_class_top5_acc: float | None = None

    def correct(self, metric: Metric) -> int:
        return self.top1_correct if metric == "top1" else self.top5_correct

    def acc(self, metric: Metric) -> float:
        """Accuracy in percent (NaN with no image)."""
        return 100 * self.correct(metric) / self.n_images if self.n_images else math.nan

    def err(self, metric: Metric) -> float:
        return 100 - self.acc(metric)

    def ci(self, metric: Metric, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
        """Wilson interval of the accuracy at ``level`` (e.g. 0.95), percent, from the counts."""
        return wilson_interval(self.correct(metric), self.n_images, z_for_level(level))

    @property
    def top1_acc(self) -> float:
        return self.acc("top1")

    @property
    def top5_acc(self) -> float:
        return self.acc("top5")

    @property
    def top1_err(self) -> float:
        return self.err("top1")

    @property
    def top5_err(self) -> float:
        return self.err("top5")

    def derived(self) -> dict[str, Any]:
        return {
            "top1_acc": self.top1_acc,
            "top5_acc": self.top5_acc,
            "top1_err": self.top1_err,
            "top5_err": self.top5_err,
        }

    def validate(self, *, source: str, path: str) -> None:
        for name in ("top1_correct", "top5_correct"):
            hits = getattr(self, name)
            if not 0 <= hits <= self.n_images:
                where = f"{path}.{name}" if path else name
                raise RunError(f"{source}: field {where} is {hits}, outside 0..{self.n_images}")
        if self.top5_correct < self.top1_correct:
            raise RunError(f"{source}: field {path or 'metrics'}: fewer top-5 than top-1 hits")


@dataclass(frozen=True)
class BlacklistExcluded(Counts):
    """The same counts over the images not on the devkit's blacklist."""

    n_blacklisted: int = 0


@dataclass(frozen=True)
class Metrics(Counts):
    """The counts of a complete run (unreadable images are misses, in the denominator)."""

    n_unreadable: int = 0
    blacklist_excluded: BlacklistExcluded | None = None  # None: no image is blacklisted
    n_nonfinite: int = 0  # images whose model outputs held NaN or inf (misses, see nonfinite)


@dataclass(frozen=True)
class Timings(Record):
    """How long this process's evaluation pass took (model loading excluded)."""

    wall_s: float
    images_per_second: float | None = None  # images scored here / wall_s (not 10crop views)
    data_wait_share: float | None = None  # share of wall_s waiting for the loader
    compute_share: float | None = None  # share copying, normalising and running this model
    images_this_process: int | None = None  # the rest were reused (--resume)


@dataclass(frozen=True)
class UnreadableImage(Record):
    index: int  # manifest row
    path: str | None
    error: str


@dataclass(frozen=True)
class NonfiniteImage(Record):
    """An image whose model outputs held NaN or inf: a miss (pred -1s, prob 0s), never ranked."""

    index: int  # manifest row
    path: str | None


@dataclass(frozen=True)
class RankTiming(Record):
    """One rank of a run under torchrun."""

    rank: int
    host: str
    device: DeviceInfo
    images: int  # images this rank scored (reused ones excluded)
    wall_s: float
    images_per_second: float | None = None


@dataclass(frozen=True)
class Distributed(Record):
    """How a run under torchrun was split: the images over ``world_size`` ranks."""

    world_size: int
    backend: str  # "gloo" (CPU) or "nccl" (GPU)
    ranks: tuple[RankTiming, ...] = ()
