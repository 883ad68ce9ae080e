"""The user's own code: module:factory references and entry-point plugins."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ilsvrc_bench.errors import ExitCode, ModelError
from ilsvrc_bench.models import load, registered, resolve

from .conftest import install_plugin


def test_factory_reference_builds_the_users_module(user_code: str) -> None:
    spec = resolve(f"{user_code}:tiny")
    assert spec.source == "factory" and spec.weights.name == "factory"
    assert spec.preprocessing.crop_size == 224
    model = load(spec)
    assert model.weights_sha256 is None
    assert model(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)


def test_factory_with_weights_file(user_code: str, tmp_path: Path) -> None:
    from ilsvrc_test_plugin import TinyNet  # type: ignore[import-not-found]

    torch.manual_seed(5)
    path = tmp_path / "tiny.pth"
    torch.save(TinyNet().state_dict(), path)
    model = load(resolve(f"{user_code}:tiny", weights=str(path)))
    assert model.module is not None
    assert torch.equal(model.module.state_dict()["fc.bias"], torch.load(path)["fc.bias"])
    assert model.weights_sha256 is not None
    torch.save(TinyNet(5).state_dict(), path)
    with pytest.raises(ModelError, match=r"fc\.weight \[5, 3\] vs \[1000, 3\]"):
        load(resolve(f"{user_code}:tiny", weights=str(path)))


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_such_module_xyz:make", "cannot import module 'no_such_module_xyz'"),
        ("ilsvrc_test_plugin:nothing", "has no attribute 'nothing'"),
        ("ilsvrc_test_plugin:TinyNet.forward.__name__", "is a str, not a callable"),
    ],
)
def test_bad_factory_references(user_code: str, ref: str, message: str) -> None:
    with pytest.raises(ModelError, match=message) as info:
        resolve(ref)
    assert info.value.exit_code == ExitCode.MODEL


def test_factory_that_raises(user_code: str) -> None:
    with pytest.raises(ModelError, match="raised ValueError: boom in the factory"):
        load(resolve(f"{user_code}:broken"))


def test_factory_returning_a_non_module(user_code: str) -> None:
    with pytest.raises(ModelError, match=r"returned a int, not a torch\.nn\.Module"):
        load(resolve(f"{user_code}:not_a_module"))


def test_factory_rejects_random_weights(user_code: str) -> None:
    with pytest.raises(ModelError, match="builds its own weights"):
        resolve(f"{user_code}:tiny", weights="random")


def test_wrong_output_width_is_caught_at_call(user_code: str) -> None:
    model = load(resolve(f"{user_code}:tiny1001"))
    with pytest.raises(ModelError, match=r"returned shape \[1, 1001\], expected \[N, 1000\]"):
        model(torch.zeros(1, 3, 8, 8))


def test_entry_point_plugin_by_name(plugin: Path) -> None:
    spec = resolve("tinyplug")
    assert spec.source == "plugin" and spec.target == "ilsvrc_test_plugin:tiny"
    assert resolve("plugin:tinyplug") == spec
    assert load(spec)(torch.zeros(1, 3, 32, 32)).shape == (1, 1000)


def test_plugin_declaring_a_1001_output_spec_drops_the_background(plugin: Path) -> None:
    spec = resolve("tiny1001", preprocessing={"crop_size": 112})
    assert (spec.num_outputs, spec.class_offset) == (1001, 1)
    assert (spec.preprocessing.resize_size, spec.preprocessing.crop_size) == (160, 112)
    model = load(spec)
    x = torch.randn(3, 3, 16, 16)
    assert model.module is not None
    raw = model.module(x)
    assert torch.equal(model(x), raw[:, 1:])


def test_plugins_are_listed_and_filtered(plugin: Path) -> None:
    names = [s.name for s in registered(include=["tiny*"])]
    assert names == ["tiny1001", "tinyplug"]
    assert "alexnet" in [s.name for s in registered(exclude=["tiny*", "broken*"])]


def test_broken_plugin(plugin: Path) -> None:
    with pytest.raises(ModelError, match="raised ValueError: boom"):
        load(resolve("brokenplug"))


def test_plugin_shadowing_torchvision_name_is_ambiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ilsvrc_bench.models import factory

    install_plugin(tmp_path, monkeypatch, {"alexnet": "ilsvrc_test_plugin:tiny"}, "shadow")
    try:
        with pytest.raises(ModelError, match="write torchvision:alexnet or plugin:alexnet"):
            resolve("alexnet")
        assert resolve("plugin:alexnet").source == "plugin"
        assert resolve("torchvision:alexnet").source == "torchvision"
    finally:
        monkeypatch.undo()
        factory.refresh_plugins()


def test_unknown_plugin_suggests_close_names(plugin: Path) -> None:
    with pytest.raises(ModelError, match="did you mean 'tinyplug'"):
        resolve("tinyplg")
    with pytest.raises(ModelError, match=r"no model plugin named 'tinyplg'.*mean 'tinyplug'"):
        resolve("plugin:tinyplg")
