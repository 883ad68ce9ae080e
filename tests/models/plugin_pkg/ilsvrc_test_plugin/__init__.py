"""A tiny third-party model package, as a user would write one (used by the plugin tests).

The test fixture installs it by writing a ``*.dist-info`` with ``entry_points.txt``, exactly
what ``pip install`` writes, and putting both on ``sys.path``.
"""

from __future__ import annotations

import torch

from ilsvrc_bench.models import ModelSpec, Preprocessing, WeightsSpec


class TinyNet(torch.nn.Module):
    """Global average pooling and one linear layer: [N, 3, H, W] -> [N, num_outputs]."""

    def __init__(self, num_outputs: int = 1000) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


def tiny() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


def tiny1001() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet(1001)


def broken() -> TinyNet:
    raise ValueError("boom in the factory")


def not_a_module() -> int:
    return 42


# A plugin that declares everything about itself: a TF-style 1001-output model with its own
# preprocessing.
SPEC = ModelSpec(
    name="tiny1001",
    source="plugin",
    architecture="TinyNet",
    weights=WeightsSpec(name="factory"),
    preprocessing=Preprocessing(resize_size=160, crop_size=128, interpolation="bicubic"),
    num_outputs=1001,
    class_offset=1,
    target="ilsvrc_test_plugin:tiny1001",
)


class ToySource:
    """A whole model source installed by a package (entry-point group ilsvrc_bench.model_sources):
    ``toy:N`` is a TinyNet whose bias favours class N."""

    scheme = "toy"

    def names(self) -> tuple[str, ...]:
        return ("toy-zero",)

    def claims(self, ref: str) -> bool:
        return ref.endswith(".toy")

    def spec(self, name: str, *, weights: object, preprocessing: object) -> ModelSpec:
        from ilsvrc_bench.models import PreprocessingOverrides

        assert isinstance(preprocessing, PreprocessingOverrides)
        return ModelSpec(
            name=name,
            source=self.scheme,
            architecture="TinyNet",
            weights=WeightsSpec(name="toy"),
            preprocessing=preprocessing.apply(Preprocessing()),
            target=name,
        )

    def build(self, spec: ModelSpec, *, device: torch.device) -> object:
        from ilsvrc_bench.models import LoadedModel

        net = TinyNet()
        with torch.no_grad():
            net.fc.weight.zero_()
            net.fc.bias.zero_()
            net.fc.bias[0] = 1.0
        return LoadedModel(spec=spec, weights_sha256=None, module=net, device=device)


TOY_SOURCE = ToySource()
