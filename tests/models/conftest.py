"""Model-area fixtures: real torchvision architectures with random weights, built once a session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def alexnet_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random AlexNet state dict saved with torch.save (a real torchvision architecture)."""
    import torch
    import torchvision.models as tvm

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "alexnet_random.pth"
    torch.save(tvm.alexnet(weights=None).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def vgg16_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random VGG16 (138M parameters) state dict, saved once per test session."""
    import torch
    import torchvision.models as tvm

    torch.manual_seed(2)
    path = tmp_path_factory.mktemp("weights") / "vgg16_random.pth"
    torch.save(tvm.vgg16(weights=None).state_dict(), path)
    return path
