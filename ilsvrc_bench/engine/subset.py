"""``--limit N``: a deterministic, class-stratified subset of the manifest."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

R = TypeVar("R", bound=Any)


def stratified_subset(records: Sequence[R], limit: int | None) -> tuple[list[R], str | None]:
    """The first ``limit`` images of a round robin over classes, returned in manifest order.

    Classes are visited in class-index order; within a class images are taken in manifest
    order, so every class gets ``limit // n_classes`` or one more image, and the same manifest
    and ``limit`` always give the same subset. Returns ``(records, subset_sha256)``;
    ``subset_sha256`` (of the chosen manifest indices) is None when every image is used.
    """
    if limit is None or limit >= len(records):
        return list(records), None
    by_class: dict[int, list[R]] = defaultdict(list)
    for rec in records:
        by_class[rec.class_index].append(rec)
    queues = [by_class[c] for c in sorted(by_class)]
    chosen: list[R] = []
    depth = 0
    while len(chosen) < limit:
        for queue in queues:
            if depth < len(queue):
                chosen.append(queue[depth])
                if len(chosen) == limit:
                    break
        depth += 1
    chosen.sort(key=lambda r: r.index)
    return chosen, subset_digest([r.index for r in chosen])


def subset_digest(indices: Sequence[int]) -> str:
    """sha256 of the manifest indices, one decimal per line."""
    return hashlib.sha256("".join(f"{i}\n" for i in indices).encode()).hexdigest()
