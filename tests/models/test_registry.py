"""The model-source registry: one Protocol, lazy entries, loud duplicates, plugins as built-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from ilsvrc_bench.errors import ExitCode, ModelError
from ilsvrc_bench.models import (
    ModelSource,
    PreprocessingOverrides,
    Registry,
    WeightsChoice,
    default_registry,
    load,
    resolve,
)
from ilsvrc_bench.models.registry import BUILTIN_SOURCES

from .conftest import PLUGIN_SRC


def test_every_builtin_source_meets_the_protocol() -> None:
    registry = default_registry()
    for scheme, _ in BUILTIN_SOURCES:
        source = registry.source(scheme)
        assert isinstance(source, ModelSource) and source.scheme == scheme


def test_a_scheme_registered_twice_is_refused() -> None:
    registry = Registry()
    registry.register("demo", "some.module:SOURCE")
    with pytest.raises(ModelError, match="'demo' is registered twice") as info:
        registry.register("demo", "other.module:SOURCE", origin="entry point of other")
    assert "some.module:SOURCE" in str(info.value) and "other.module:SOURCE" in str(info.value)
    assert info.value.exit_code == ExitCode.MODEL
    with pytest.raises(ModelError, match="must be lower case"):
        registry.register("Bad Scheme", "x:y")


def test_entries_are_imported_only_when_used() -> None:
    registry = Registry()
    registry.register("ghost", "no_such_module_for_ilsvrc:SOURCE")  # nothing imported yet
    with pytest.raises(ModelError, match="cannot import module 'no_such_module_for_ilsvrc'"):
        registry.resolve("ghost:anything")


def test_a_target_that_is_not_a_source_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    registry = Registry()
    registry.register("tiny", "ilsvrc_test_plugin:tiny")
    with pytest.raises(ModelError, match="lacks scheme/names/claims/spec/build"):
        registry.source("tiny")
    registry.register("toyish", "ilsvrc_test_plugin:TOY_SOURCE")
    with pytest.raises(ModelError, match="says its scheme is 'toy'"):
        registry.source("toyish")


def test_unknown_scheme_and_source_suggest_close_names() -> None:
    with pytest.raises(ModelError, match=r"unknown model source 'tim'.*did you mean 'timm'"):
        resolve("tim:resnet50")
    with pytest.raises(ModelError, match=r"unknown model source 'onnxx'; did you mean 'onnx'"):
        default_registry().source("onnxx")
    with pytest.raises(ModelError, match="names nothing after 'timm:'"):
        resolve("timm: ")


def test_a_registered_source_resolves_claims_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    registry = Registry()
    registry.register("toy", "ilsvrc_test_plugin:TOY_SOURCE")
    spec = registry.resolve("toy:n3", preprocessing={"crop_size": 64})
    assert (spec.source, spec.name, spec.preprocessing.crop_size) == ("toy", "n3", 64)
    assert registry.resolve("toy-zero").name == "toy-zero"  # a listed bare name
    assert registry.resolve("model.toy").name == "model.toy"  # a claimed form
    model = registry.load(spec)
    assert model(torch.zeros(2, 3, 8, 8)).argmax(1).tolist() == [0, 0]
    assert [s.name for s in registry.registered()] == ["toy-zero"]


@pytest.fixture
def source_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ToySource installed as pip would: a dist-info with an ilsvrc_bench.model_sources entry."""
    dist = tmp_path / "ilsvrc_toy-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ilsvrc-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[ilsvrc_bench.model_sources]\ntoy = ilsvrc_test_plugin:TOY_SOURCE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    default_registry.cache_clear()
    yield
    monkeypatch.undo()
    default_registry.cache_clear()


def test_source_plugins_register_like_builtins(source_plugin: None) -> None:
    spec = resolve("toy:anything")
    assert spec.source == "toy"
    assert load(spec)(torch.zeros(1, 3, 8, 8)).shape == (1, 1000)
    assert "toy" in default_registry().schemes()


def test_a_source_plugin_taking_a_builtin_scheme_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "ilsvrc_evil-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ilsvrc-evil\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[ilsvrc_bench.model_sources]\ntimm = ilsvrc_test_plugin:TOY_SOURCE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    default_registry.cache_clear()
    try:
        with pytest.raises(ModelError, match=r"'timm' is registered twice .*ilsvrc-evil"):
            resolve("alexnet")
    finally:
        monkeypatch.undo()
        default_registry.cache_clear()


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        (None, "default", None),
        ("", "default", None),
        ("default", "default", None),
        ("DEFAULT", "default", None),
        ("Random", "random", None),
        ("IMAGENET1K_V2", "named", "IMAGENET1K_V2"),
        ("ResNet50_Weights.IMAGENET1K_V1", "named", "ResNet50_Weights.IMAGENET1K_V1"),
        ("a1_in1k", "named", "a1_in1k"),
    ],
)
def test_weights_choice_parsing(text: str | None, kind: str, name: str | None) -> None:
    choice = WeightsChoice.parse(text)
    assert (choice.kind, choice.name, choice.path) == (kind, name, None)


@pytest.mark.parametrize("text", ["w.pth", "dir/w", "w.safetensors", "x.ckpt"])
def test_weights_choice_files_are_absolute(text: str) -> None:
    choice = WeightsChoice.parse(text)
    assert choice.kind == "file" and choice.path is not None and choice.path.is_absolute()
    assert choice.path.name == Path(text).name and choice.label == str(choice.path)


def test_overrides_are_typed_and_validated_on_construction() -> None:
    over = PreprocessingOverrides(interpolation="BICUBIC", mean="0.5 0.5 0.5", crop_size="96")  # type: ignore[arg-type]
    assert (over.interpolation, over.mean, over.crop_size) == ("bicubic", (0.5, 0.5, 0.5), 96)
    assert over.given == {"crop_size": 96, "interpolation": "bicubic", "mean": (0.5, 0.5, 0.5)}
    assert not PreprocessingOverrides() and over
    from ilsvrc_bench.errors import UsageError

    with pytest.raises(UsageError, match=r"central_fraction must be a number in \(0, 1\]"):
        PreprocessingOverrides(central_fraction=1.5)
