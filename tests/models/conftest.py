"""Model-area fixtures: real torchvision architectures with random weights, built once a session."""

from __future__ import annotations

from collections.abc import Iterator
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


PLUGIN_SRC = Path(__file__).parent / "plugin_pkg"
PLUGIN_ENTRY_POINTS = {
    "tinyplug": "ilsvrc_test_plugin:tiny",
    "tiny1001": "ilsvrc_test_plugin:SPEC",
    "brokenplug": "ilsvrc_test_plugin:broken",
}


def install_plugin(
    site: Path, monkeypatch: pytest.MonkeyPatch, entry_points: dict[str, str], name: str
) -> None:
    """Install the test plugin package the way pip does: a dist-info with entry_points.txt."""
    from ilsvrc_bench.models import factory

    dist = site / f"{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = [f"{k} = {v}" for k, v in entry_points.items()]
    (dist / "entry_points.txt").write_text("[ilsvrc_bench.models]\n" + "\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    factory.refresh_plugins()


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test plugin installed (entry points tinyplug, tiny1001, brokenplug); yields its site."""
    from ilsvrc_bench.models import factory

    site = tmp_path / "site-packages"
    install_plugin(site, monkeypatch, PLUGIN_ENTRY_POINTS, "ilsvrc-test-plugin")
    yield site
    factory.refresh_plugins()


@pytest.fixture
def user_code(monkeypatch: pytest.MonkeyPatch) -> str:
    """The plugin package importable as plain user code (for module:factory references)."""
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    return "ilsvrc_test_plugin"


@pytest.fixture
def real_tflite() -> Path:
    """The real uint8 MobileNet V1 0.5/160 TFLite model; skips when absent or without LiteRT."""
    from tests.conftest import REALDATA

    pytest.importorskip("ai_edge_litert")
    path = REALDATA / "models" / "mobilenet_v1_0.5_160_quant.tflite"
    if not path.is_file():
        pytest.skip(f"real TFLite model not available at {path}")
    return path
