"""The static reference-model table matches torchvision's own weights metadata."""

from __future__ import annotations

import pytest

from ilsvrc_bench.models import reference_models, resolve


def test_alexnet_and_vgg16_are_reference_models_with_published_accuracy() -> None:
    specs = {s.name: s for s in reference_models()}
    assert {"alexnet", "vgg16"} <= set(specs)
    alexnet, vgg16 = specs["alexnet"].reference, specs["vgg16"].reference
    assert alexnet is not None and (alexnet.top1, alexnet.top5) == (56.522, 79.066)
    assert vgg16 is not None and (vgg16.top1, vgg16.top5) == (71.592, 90.382)
    assert vgg16.top1_err == pytest.approx(28.408)


@pytest.mark.parametrize("spec", reference_models(), ids=lambda s: s.name)
def test_reference_table_equals_torchvision_metadata(spec: object) -> None:
    assert spec == resolve(spec.name)  # type: ignore[attr-defined]
