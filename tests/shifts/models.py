"""Factories (``tests.shifts.models:NAME``) whose scores are known in advance."""

from __future__ import annotations

import torch
from torch import nn

from ilsvrc_bench.data.shifts import class_subset

N_CLASSES = 1000


class Constant(nn.Module):
    """The same logits for every image: ``favoured`` classes first, in order, the rest 0."""

    def __init__(self, favoured: list[int]) -> None:
        super().__init__()
        bias = torch.zeros(N_CLASSES)
        for rank, c in enumerate(favoured):
            bias[c] = 20.0 - rank
        self.bias = nn.Parameter(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(x.shape[0], N_CLASSES).clone() + 0 * x.mean()


def outside_then_r() -> nn.Module:
    """Five classes outside ImageNet-R first, then ImageNet-R's first six classes."""
    inside = list(class_subset("imagenet-r") or ())
    outside = [c for c in range(N_CLASSES) if c not in set(inside)][:5]
    return Constant(outside + inside[:6])


def _favour_r(i: int) -> nn.Module:
    inside = list(class_subset("imagenet-r") or ())
    return Constant([inside[i]])


def favour_r0() -> nn.Module:
    return _favour_r(0)


def favour_r1() -> nn.Module:
    return _favour_r(1)


def favour_r2() -> nn.Module:
    return _favour_r(2)


def tiny_b() -> nn.Module:
    """tests.engine.helpers' Tiny classifier with other random weights."""
    from tests.engine.helpers import Tiny

    return Tiny(seed=1)
