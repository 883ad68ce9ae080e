"""The plan of one ``eval``: what is evaluated, on which images, where, and in which passes.

Everything that can be checked before a model is loaded is checked here, once: the manifest
agrees with itself, the data is still there, each model's preprocessing suits the protocol, the
precision suits the device. Models share one group, one decoding pass: models whose pixels are
made the same way (``Preprocessing.pixel_key``) share their views, and on the exact CPU path the
views of every pixel recipe are made from the one decode of each image (a sweep's points, models
with different resize rules), unless a complete cache serves a recipe already, up to a memory
budget per batch (``MAX_BATCH_BYTES``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ilsvrc_bench.engine import device as devices
from ilsvrc_bench.engine import pipeline, protocols
from ilsvrc_bench.engine.distributed import World
from ilsvrc_bench.engine.loader import DatasetLike
from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.subset import stratified_subset
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing

# The uint8 views of one batch, over every recipe of a shared decoding pass (the loader keeps two
# batches in flight per worker): more recipes than this go to a further pass. At batch 64 and
# 224x224 centre crops that is 10 recipes.
MAX_BATCH_BYTES = 96 * 2**20


@dataclass(frozen=True)
class PlannedModel:
    """One model reference as given (``position`` in the user's order) and its resolved spec."""

    position: int
    ref: str
    spec: ModelSpec
    recipe: int = 0  # the index of its pixel recipe in its group's ``recipes``


@dataclass(frozen=True)
class Group:
    """Models fed by one decoding pass: ``recipes`` are the distinct pixel recipes the pass makes
    of each decoded image; a model reads the views of ``recipes[model.recipe]``."""

    recipes: tuple[Preprocessing, ...]
    models: tuple[PlannedModel, ...]

    @property
    def prep(self) -> Preprocessing:
        """The first recipe (the only one, unless the group shares a decode across recipes)."""
        return self.recipes[0]


@dataclass(frozen=True)
class Plan:
    """The one settings object, the device chosen once, the images and the passes."""

    options: EvalOptions
    device: torch.device
    world: World
    dataset: DatasetLike
    runs_dir: Path
    subset: tuple[Any, ...]  # manifest records evaluated, in manifest order
    data_info: Mapping[str, Any]  # the run record's ``data``
    groups: tuple[Group, ...]
    # The classes a subset-of-classes dataset (ImageNet-R/-A) covers; None for all 1000.
    class_subset: tuple[int, ...] | None = None


def make_plan(
    specs: Sequence[tuple[str, ModelSpec]],
    dataset: DatasetLike,
    *,
    options: EvalOptions,
    device: torch.device,
    runs_dir: Path,
    world: World | None = None,
) -> Plan:
    """Check what can be checked without a model and group the models by preprocessing."""
    devices.check_precision(options.precision, device)
    pipeline.check_decode(options.decode, device)
    records = list(dataset.records)
    _check_manifest(dataset, records)
    _check_storage(dataset)
    subset, subset_sha = stratified_subset(records, options.limit)
    class_subset = _class_subset(dataset)
    by_pixels: dict[tuple[Any, ...], list[tuple[int, str, ModelSpec]]] = {}
    for position, (ref, spec) in enumerate(specs):
        protocols.check(options.protocol, spec.preprocessing)
        by_pixels.setdefault(spec.preprocessing.pixel_key, []).append((position, ref, spec))
    data_info = {
        "name": dataset.name,
        "path": str(dataset.path),
        "source": dataset.source,
        "split": dataset.split,
        "manifest_sha256": dataset.manifest_sha256,
        "n_images": len(records),
        "limit": options.limit,
        "subset_sha256": subset_sha,
        "class_subset": tuple(class_subset) if class_subset else None,
        # prepared datasets say whether they hold all of ILSVRC2012 val; in-memory ones do not
        "is_subset": getattr(dataset, "info", {}).get("is_subset"),
    }
    return Plan(
        options=options,
        device=device,
        world=world or World(),
        dataset=dataset,
        runs_dir=runs_dir,
        subset=tuple(subset),
        data_info=data_info,
        groups=_groups(list(by_pixels.values()), dataset, options),
        class_subset=class_subset,
    )


def _groups(
    recipes: list[list[tuple[int, str, ModelSpec]]], dataset: DatasetLike, options: EvalOptions
) -> tuple[Group, ...]:
    """One group per decoding pass; ``recipes`` holds the models of each pixel recipe."""
    shared: list[list[tuple[int, str, ModelSpec]]] = []
    alone: list[list[tuple[int, str, ModelSpec]]] = []
    for models in recipes:
        prep = models[0][2].preprocessing
        # The cache and nvJPEG make one recipe's views; a complete cache beats decoding.
        cached = options.cache is not False and pipeline.find_cache(
            dataset, prep, options.protocol, options.decode
        )
        own_pass = options.decode != "cpu" or options.cache is True or cached
        (alone if own_pass else shared).append(models)
    passes = [[models] for models in alone] + _within_budget(shared, options)
    return tuple(_group(p) for p in passes)


def _within_budget(
    recipes: list[list[tuple[int, str, ModelSpec]]], options: EvalOptions
) -> list[list[list[tuple[int, str, ModelSpec]]]]:
    """Recipes cut into passes whose batches of views stay under ``MAX_BATCH_BYTES``."""
    per_view = protocols.n_views(options.protocol) * 3 * options.batch_size
    passes: list[list[list[tuple[int, str, ModelSpec]]]] = []
    used = 0
    for models in recipes:
        size = per_view * models[0][2].preprocessing.crop_size ** 2
        if not passes or used + size > MAX_BATCH_BYTES:
            passes.append([])
            used = 0
        passes[-1].append(models)
        used += size
    return passes


def _group(recipes: list[list[tuple[int, str, ModelSpec]]]) -> Group:
    planned = [
        PlannedModel(position, ref, spec, recipe=i)
        for i, models in enumerate(recipes)
        for position, ref, spec in models
    ]
    return Group(tuple(m[0][2].preprocessing for m in recipes), tuple(planned))


def _class_subset(dataset: DatasetLike) -> tuple[int, ...] | None:
    from ilsvrc_bench.data.shifts import dataset_class_subset

    info = getattr(dataset, "info", None)
    subset = dataset_class_subset(info if isinstance(info, Mapping) else None)
    return tuple(subset) if subset else None


def _check_storage(dataset: DatasetLike) -> None:
    """A dataset read in place from a tar that is gone fails at once, not image by image."""
    storage = getattr(dataset, "storage", None)
    location = getattr(storage, "location", None)
    if location is not None and not Path(location).exists():
        raise DataError(
            f"{location}: the data of dataset {dataset.name} is gone (moved or deleted since it "
            "was prepared); prepare it again"
        )


def _check_manifest(dataset: DatasetLike, records: Sequence[Any]) -> None:
    info = getattr(dataset, "info", None) or {}
    declared = info.get("n_images") if isinstance(info, Mapping) else None
    if declared is not None and int(declared) != len(records):
        raise DataError(
            f"{dataset.path}: dataset.json declares {declared} images but the manifest has "
            f"{len(records)}; prepare the data again"
        )
    if len({r.index for r in records}) != len(records):
        raise DataError(f"{dataset.path}: the manifest repeats image indices")
