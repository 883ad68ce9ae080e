"""Models that end the process the way careless user code does (for the sys.exit tests)."""

from __future__ import annotations

import sys

import torch


class ExitsInForward(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sys.exit("input too small")


def exits_in_factory() -> torch.nn.Module:
    sys.exit(3)


def exits_in_forward() -> torch.nn.Module:
    return ExitsInForward()
