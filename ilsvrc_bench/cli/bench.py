"""``ilsvrc-bench bench``: loader, model and end-to-end speed of one model on one dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.options import (
    data_option,
    execution_options,
    format_option,
    output_option,
    preprocessing_options,
    root_option,
    weights_option,
)

if TYPE_CHECKING:
    from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice

STAGES = (
    ("loader", "loader only (no model)"),
    ("model_only", "model only (batches on the device)"),
    ("end_to_end", "end to end from JPEG"),
    ("end_to_end_cache", "end to end from the cache"),
)
COLUMNS = ("stage", "images_per_second", "overall_images_per_second", "wall_s", "n_images")
HEADERS = {
    "images_per_second": "steady images/s",
    "overall_images_per_second": "overall images/s",
    "wall_s": "wall s",
    "n_images": "images",
}


@click.command("bench")
@click.option("-m", "--model", "model", required=True, metavar="MODEL", help="Model reference.")
@weights_option
@data_option
@root_option
@execution_options
@preprocessing_options
@format_option()
@output_option
def bench_command(  # noqa: PLR0917 - one parameter per click option
    model: str,
    weights: WeightsChoice | None,
    data: str | None,
    root: Path | None,
    device: str,
    precision: str,
    batch_size: int,
    workers: int | None,
    channels_last: bool | None,
    compile_: bool,
    limit: int | None,
    protocol: str,
    decode: str,
    preprocessing: PreprocessingOverrides,
    fmt: str,
    output_path: Path | None,
) -> None:
    """Measure where an evaluation's time goes: loader, model, end to end (and from the cache).

    Prints steady-state images/s (after the first batch) and total wall time (with start-up,
    warm-up and compilation) for each stage, which stage bounds the run and by how much, and
    the machine. --format json gives every figure (keys documented in docs/performance.md).

    \b
    Examples:
      ilsvrc-bench bench -m alexnet --data sample --device cpu
      ilsvrc-bench bench -m resnet50 --device cuda --precision bf16 --channels-last -b 256
    """
    from ilsvrc_bench.cli.eval import _default_workers
    from ilsvrc_bench.data import open_dataset
    from ilsvrc_bench.engine.bench import run_bench
    from ilsvrc_bench.engine.options import EvalOptions
    from ilsvrc_bench.models import load, resolve

    options = EvalOptions(
        device=device,
        precision=precision,  # type: ignore[arg-type]
        batch_size=batch_size,
        workers=_default_workers() if workers is None else workers,
        channels_last=channels_last,
        compile=compile_,
        limit=limit,
        protocol=protocol,  # type: ignore[arg-type]
        decode=decode,  # type: ignore[arg-type]
    )
    spec = resolve(model, weights=weights, preprocessing=preprocessing)
    dataset = open_dataset(data, root=root)
    output.info(f"measuring {spec.name} on {dataset.name}: loader, model, end to end ...")
    result = run_bench(spec, model, dataset, options=options, load=load)
    for note in result["notes"]:
        output.warn(note)
    if fmt == "json":
        output.write_text(output.to_json(result) + "\n", output_path)
        return
    output.emit(
        _rows(result),
        fmt=fmt,
        columns=COLUMNS,
        output=output_path,
        title=f"{spec.name} on {result['data']} ({result['n_images']} images)",
        headers=HEADERS,
        caption=_caption(result),
    )


def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, label in STAGES:
        stage = result[key]
        missing = " (no cache: see `data cache`)" if stage is None else ""
        rows.append({"stage": label + missing, **(stage or {})})
    return rows


def _caption(result: dict[str, Any]) -> str:
    machine = result["machine"]
    versions = machine["versions"]
    bound = (
        f"bound by the {result['bound']} ({result['bound_ratio']}x slower than the other)"
        if result["bound"]
        else "bound: not measurable (too few images)"
    )
    gpu = machine["gpu"]["name"] if machine["gpu"] else "no GPU"
    threads = result["intra_op_threads"]
    return (
        f"{bound}\n"
        f"device {result['device']['name']}, {result['precision']}, batch {result['batch_size']}, "
        f"{result['workers']} workers, {threads} intra-op threads, "
        f"channels_last {result['channels_last']}, decode {result['decode']}\n"
        f"machine: {machine['cpu']} ({machine['usable_cpus']} cores usable), {gpu}, "
        f"load {machine['load_average']}; torch {versions['torch']}, "
        f"torchvision {versions['torchvision']}, pillow {versions['pillow']}"
    )
