"""``ilsvrc-bench models``: list the registered models; ``models show NAME`` prints one spec.

Torch is imported only inside the commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.options import (
    format_option,
    output_option,
    preprocessing_options,
    weights_option,
)

if TYPE_CHECKING:
    from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice
    from ilsvrc_bench.models.spec import ModelSpec

LIST_COLUMNS = (
    "name",
    "source",
    "architecture",
    "weights",
    "params_m",
    "gflops",
    "resize",
    "crop",
    "interpolation",
    "top1",
    "top5",
)
LIST_HEADERS = {
    "params_m": "params (M)",
    "gflops": "GFLOPs",
    "crop": "input",
    "top1": "top-1 %",
    "top5": "top-5 %",
}


def _split(patterns: Iterable[str]) -> list[str]:
    return [p.strip() for item in patterns for p in item.split(",") if p.strip()]


def _row(spec: ModelSpec) -> dict[str, object]:
    ref = spec.reference
    return {
        "name": spec.name,
        "source": spec.source,
        "architecture": spec.architecture,
        "weights": spec.weights.name,
        "params_m": round(spec.num_params / 1e6, 1) if spec.num_params else None,
        "gflops": spec.gflops,
        "resize": spec.preprocessing.resize_size,
        "crop": spec.preprocessing.crop_size,
        "interpolation": spec.preprocessing.interpolation,
        "top1": ref.top1 if ref else None,
        "top5": ref.top5 if ref else None,
    }


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            rows += _flatten(value, f"{prefix}{key}.")
        else:
            rows.append({"field": f"{prefix}{key}", "value": value})
    return rows


@click.group("models", invoke_without_command=True)
@click.option(
    "--include",
    multiple=True,
    metavar="PATTERN",
    help="Only names matching a wildcard (repeatable or comma-separated), e.g. 'vgg*'.",
)
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Drop names matching a wildcard.")
@format_option()
@output_option
@click.pass_context
def models(
    ctx: click.Context,
    *,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    fmt: str,
    output_path: Path | None,
) -> None:
    """List the registered models: every torchvision classifier and installed plugins.

    Shows architecture size, default input size and published top-1/top-5 of the default
    weights. timm:NAME, onnx:PATH and module:factory references work everywhere a model is
    taken, without being listed. See 'models show NAME' for one model in full.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ilsvrc_bench.models import registered

    specs = registered(include=_split(include), exclude=_split(exclude))
    if not specs:
        output.warn("no registered model matches the filters")
    output.emit(
        [_row(s) for s in specs],
        fmt=fmt.lower(),
        columns=LIST_COLUMNS,
        output=output_path,
        headers=LIST_HEADERS,
    )


@models.command("show")
@click.argument("name")
@weights_option
@preprocessing_options
@format_option()
@output_option
def show(
    *,
    name: str,
    weights: WeightsChoice | None,
    preprocessing: PreprocessingOverrides,
    fmt: str,
    output_path: Path | None,
) -> None:
    """Print the full spec of model NAME (any model reference: alexnet, timm:..., onnx:...)."""
    from ilsvrc_bench.models import resolve

    spec = resolve(name, weights=weights, preprocessing=preprocessing)
    data = spec.to_dict()
    if spec.weights.is_random:
        data["note"] = "random weights: accuracy is meaningless"
    if fmt.lower() == "json":
        output.write_text(output.to_json(data), output_path)
        return
    output.emit(
        _flatten(data),
        fmt=fmt.lower(),
        columns=("field", "value"),
        output=output_path,
        title=spec.name,
    )
