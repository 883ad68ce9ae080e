"""Dataset -> uint8 batches of protocol views, decoded in worker processes.

Images are decoded once per pass and shared by every model in the pass; a pass may make several
pixel recipes (e.g. the points of a sweep) from that one decode. Batches stay uint8 until they
reach the device, where they are normalised; on CUDA they come out of pinned memory so the copy
can be non-blocking.
An image that cannot be read or decoded yields a zero tensor and its error, never a dropped row.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from ilsvrc_bench.engine import protocols
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.models.spec import Preprocessing


class RecordLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def class_index(self) -> int: ...
    @property
    def blacklisted(self) -> bool: ...


class DatasetLike(Protocol):
    """What the engine needs of ``ilsvrc_bench.data.Dataset``."""

    name: str
    path: Any
    source: str
    split: str
    manifest_sha256: str

    @property
    def records(self) -> Sequence[Any]: ...
    @property
    def n_images(self) -> int: ...
    def read_bytes(self, record: Any) -> bytes: ...


@dataclass
class Batch:
    """``index``: manifest rows ``[B]``; ``images``: uint8 ``[B, V, 3, H, W]``;
    ``readable``: bool ``[B]``; ``errors``: one message per image ("" when readable).

    A pass that feeds several pixel recipes from one decode carries the other recipes' views
    in ``variants`` (same layout, their own crop size): ``views(i)`` is recipe ``i``'s.
    """

    index: torch.Tensor
    images: torch.Tensor
    readable: torch.Tensor
    errors: list[str]
    variants: tuple[torch.Tensor, ...] = ()

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def views(self, recipe: int) -> torch.Tensor:
        return self.images if recipe == 0 else self.variants[recipe - 1]

    def pin_memory(self) -> Batch:
        # DataLoader calls this on custom batch types when pin_memory=True.
        return Batch(
            self.index,
            self.images.pin_memory(),
            self.readable,
            self.errors,
            tuple(v.pin_memory() for v in self.variants),
        )


Views = torch.Tensor | tuple[torch.Tensor, ...]
Item = tuple[int, Views, bool, str]


class ImageViews(TorchDataset[Item]):
    """Item ``i``: (manifest index, uint8 views ``[V, 3, crop, crop]``, readable, error).

    With ``also`` (more pixel recipes) the image is decoded once and item ``i`` holds a tuple of
    views, ``prep``'s first, then one per recipe of ``also`` (``protocols.views_of_each``).
    """

    def __init__(
        self,
        dataset: DatasetLike,
        records: Sequence[Any],
        prep: Preprocessing,
        protocol: str,
        also: Sequence[Preprocessing] = (),
    ) -> None:
        self.dataset = dataset
        self.records = list(records)
        self.prep = prep
        self.protocol = protocol
        self.recipes = (prep, *also)
        self.n_views = protocols.n_views(protocol)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Item:
        from ilsvrc_bench.models.preprocess import decode_rgb

        record = self.records[i]
        try:
            img = decode_rgb(self.dataset.read_bytes(record), source=record.path)
            made = protocols.views_of_each(img, self.recipes, self.protocol)
            return record.index, self._pack(made), True, ""
        except DataError as exc:
            blank = [
                torch.zeros((self.n_views, 3, p.crop_size, p.crop_size), dtype=torch.uint8)
                for p in self.recipes
            ]
            return record.index, self._pack(blank), False, str(exc)

    def _pack(self, views: list[torch.Tensor]) -> Views:
        return views[0] if len(views) == 1 else tuple(views)


def collate(items: Sequence[Item]) -> Batch:
    first = items[0][1] if items else None
    n = len(first) if isinstance(first, tuple) else 1
    stacks = [
        torch.stack([it[1][k] if isinstance(it[1], tuple) else it[1] for it in items])
        for k in range(n)
    ]
    return Batch(
        index=torch.tensor([it[0] for it in items], dtype=torch.int64),
        images=stacks[0],
        readable=torch.tensor([it[2] for it in items], dtype=torch.bool),
        errors=[it[3] for it in items],
        variants=tuple(stacks[1:]),
    )


def worker_init(_: int) -> None:
    # Never collect what the worker inherited from the parent: destroying an object that owns
    # threads there (an onnxruntime session of an earlier pass, waiting to be collected) waits
    # for threads that a forked child does not have, and the worker hangs for ever.
    gc.freeze()
    # Decoding is the work; one intra-op thread per worker avoids oversubscribing the cores.
    torch.set_num_threads(1)


def worker_loader(
    dataset: TorchDataset[Any], *, workers: int, prefetch: int = 4, **kwargs: Any
) -> DataLoader[Any]:
    """A DataLoader whose workers fork safely: the parent's garbage is collected first (where
    destroying it is safe), and the workers never collect what they inherit (``worker_init``)."""
    if workers > 0:
        gc.collect()
    return DataLoader(
        dataset,
        num_workers=workers,
        worker_init_fn=worker_init if workers > 0 else None,
        prefetch_factor=prefetch if workers > 0 else None,
        **kwargs,
    )


def grid_batches(
    n: int, batch_size: int, keep: Callable[[int], bool] | None = None
) -> list[list[int]]:
    """Positions ``0..n-1`` cut into consecutive batches of ``batch_size``, keeping only the
    positions ``keep`` accepts and dropping batches left empty.

    A resumed run batches its remaining images on the same grid as an uninterrupted run (chunks
    are flushed at batch boundaries), so each batch holds the same images and the model sees
    exactly the same inputs; halving the batch size refines the grid.
    """
    batches = []
    for start in range(0, n, batch_size):
        batch = [i for i in range(start, min(start + batch_size, n)) if keep is None or keep(i)]
        if batch:
            batches.append(batch)
    return batches


def make_loader(
    dataset: DatasetLike,
    records: Sequence[Any],
    *,
    prep: Preprocessing,
    protocol: str,
    batch_size: int,
    workers: int,
    pin_memory: bool,
    keep: Callable[[int], bool] | None = None,
    also: Sequence[Preprocessing] = (),
) -> DataLoader[Any]:
    """Batches over ``records`` in the given order: no shuffling, no padding, last batch kept.

    ``keep(position)`` leaves out records (already scored), on the grid of ``grid_batches``;
    ``also`` adds pixel recipes made from the same decode (``Batch.variants``).
    """
    # Import the decoding stack here, once: before workers fork (so each does not import it
    # again) and before the pass's clock starts (torchvision takes seconds to import).
    import torchvision.transforms.functional  # noqa: F401

    import ilsvrc_bench.models.preprocess  # noqa: F401

    return worker_loader(
        ImageViews(dataset, records, prep, protocol, also),
        workers=workers,
        # Batches of several recipes are larger: fewer in flight keeps memory flat.
        prefetch=2 if also else 4,
        batch_sampler=grid_batches(len(records), batch_size, keep),
        collate_fn=collate,
        pin_memory=pin_memory,
    )
