"""The reference models ``report`` compares against, as plain data (no torch import needed).

The figures are copied from torchvision's weights metadata (``meta["_metrics"]["ImageNet-1K"]``,
``num_params``, ``_ops``) and its ``transforms()``; a test checks them against torchvision.
"""

from __future__ import annotations

from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, ReferenceAccuracy, WeightsSpec

_HUB = "https://download.pytorch.org/models/"

# name, enum class, weights name, checkpoint file, acc@1, acc@5, params, GFLOPs, resize size.
# AlexNet (ILSVRC2012 winner's architecture), VGG16 (2014 runner-up), GoogLeNet (2014 winner),
# ResNet-152 (2015 winner); all with torchvision's DEFAULT weights.
_TABLE: tuple[tuple[str, str, str, str, float, float, int, float, int], ...] = (
    ("alexnet", "AlexNet_Weights", "IMAGENET1K_V1", "alexnet-owt-7be5be79.pth",
     56.522, 79.066, 61100840, 0.714, 256),
    ("vgg16", "VGG16_Weights", "IMAGENET1K_V1", "vgg16-397923af.pth",
     71.592, 90.382, 138357544, 15.47, 256),
    ("googlenet", "GoogLeNet_Weights", "IMAGENET1K_V1", "googlenet-1378be20.pth",
     69.778, 89.53, 6624904, 1.498, 256),
    ("resnet152", "ResNet152_Weights", "IMAGENET1K_V2", "resnet152-f82ba261.pth",
     82.284, 96.002, 60192808, 11.514, 232),
)  # fmt: skip


def reference_models() -> list[ModelSpec]:
    """The reference models with DEFAULT weights and their published accuracy."""
    return [
        ModelSpec(
            name=name,
            source="torchvision",
            architecture=name,
            weights=WeightsSpec(name=weights, url=_HUB + filename),
            preprocessing=Preprocessing(resize_size=resize, crop_size=224),
            reference=ReferenceAccuracy(
                top1=top1, top5=top5, source=f"torchvision {enum}.{weights} metadata"
            ),
            num_params=params,
            gflops=gflops,
            target=f"torchvision.models:{name}",
        )
        for name, enum, weights, filename, top1, top5, params, gflops, resize in _TABLE
    ]
