"""``ilsvrc-bench sweep``: one model over a grid of preprocessing settings, one run per point."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.options import (
    data_option,
    format_option,
    output_option,
    root_option,
    runs_dir_option,
    weights_option,
)

COLUMNS = (
    "point",
    "resize_size",
    "crop_size",
    "interpolation",
    "antialias",
    "n_images",
    "top1_acc",
    "top1_ci",
    "top5_acc",
    "top5_ci",
    "delta_top1",
    "mcnemar_p",
    "verdict",
    "run_id",
)
HEADERS = {
    "resize_size": "resize",
    "crop_size": "crop",
    "n_images": "images",
    "top1_acc": "top-1 %",
    "top1_ci": "top-1 95% CI",
    "top5_acc": "top-5 %",
    "top5_ci": "top-5 95% CI",
    "delta_top1": "Δ top-1 vs recipe",
    "mcnemar_p": "McNemar p",
}


def _row(point: Any, recipe_top1: float) -> dict[str, Any]:
    rec = point.result.record
    flat, prep = rec.row(), rec.preprocessing
    if point.is_recipe:
        verdict = "model's recipe"
    else:
        verdict = "real difference" if point.holm_real else "within noise"
    return {
        "point": "recipe" if point.is_recipe else "grid",
        "resize_size": prep["resize_size"],
        "crop_size": prep["crop_size"],
        "interpolation": prep["interpolation"],
        "antialias": prep["antialias"],
        "n_images": flat["n_images"],
        "top1_acc": flat["top1_acc"],
        "top1_ci": [flat["top1_ci_lo"], flat["top1_ci_hi"]],
        "top5_acc": flat["top5_acc"],
        "top5_ci": [flat["top5_ci_lo"], flat["top5_ci_hi"]],
        "delta_top1": None if point.is_recipe else flat["top1_acc"] - recipe_top1,
        "mcnemar_p": point.mcnemar_p,
        "verdict": verdict,
        "run_id": rec.run_id,
    }


@click.command("sweep")
@click.option("-m", "--model", required=True, metavar="MODEL", help="Model reference.")
@click.option(
    "--sweep",
    "axes",
    multiple=True,
    required=True,
    metavar="KEY=V1,V2",
    help="A grid axis: resize, crop, interpolation (nearest/bilinear/bicubic) or antialias "
    "(on/off); repeatable, the grid is every combination.",
)
@weights_option
@data_option
@root_option
@runs_dir_option
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda|cuda:N|mps")
@click.option("-b", "--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("-j", "--workers", type=click.IntRange(min=0), default=None, help="Decoding workers.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="A deterministic class-stratified subset of N images (the same at every point).",
)
@click.option(
    "--protocol",
    type=click.Choice(["center", "10crop", "full"]),
    default="center",
    show_default=True,
)
@click.option("--resume/--no-resume", default=True, show_default=True)
@format_option()
@output_option
def sweep_command(  # noqa: PLR0917 - one parameter per click option
    model: str,
    axes: tuple[str, ...],
    weights: str | None,
    data: str | None,
    root: Path | None,
    runs_dir: Path | None,
    device: str,
    batch_size: int,
    workers: int | None,
    limit: int | None,
    protocol: str,
    resume: bool,
    fmt: str,
    output_path: Path | None,
) -> None:
    """Evaluate MODEL at every point of a preprocessing grid and compare with its own recipe.

    One run per point (resumable, like eval). The model's recipe is always evaluated; each
    point's top-1 is compared with the recipe's on the same images (exact McNemar, Holm's
    correction over the points at 5%): "real difference" or "within noise".

    \b
    Examples:
      ilsvrc-bench sweep -m resnet50 --sweep resize=224,232,256
      ilsvrc-bench sweep -m resnet50 --sweep resize=232,256 --sweep interpolation=bilinear,bicubic
      ilsvrc-bench sweep -m resnet50 --sweep antialias=on,off --limit 10000 --format json
    """
    from ilsvrc_bench.cli.eval import _default_workers
    from ilsvrc_bench.engine import EvalOptions
    from ilsvrc_bench.engine.sweep import parse_axes, sweep
    from ilsvrc_bench.errors import UsageError

    grid_axes = parse_axes(axes)
    if protocol == "full" and "resize_size" in grid_axes:
        raise UsageError(
            "--sweep resize with --protocol full: full resizes the whole image to the crop "
            "size, so every resize would be the same point; sweep crop instead"
        )
    options = EvalOptions(
        device=device,
        batch_size=batch_size,
        workers=_default_workers() if workers is None else workers,
        limit=limit,
        protocol=protocol,  # type: ignore[arg-type]
        resume=resume,
        command=tuple(["ilsvrc-bench", *sys.argv[1:]]),
    )
    points = sweep(
        model,
        grid_axes,
        data=data,
        root=root,
        runs_dir=runs_dir,
        weights=weights,
        options=options,
        progress=output.ProgressBars(),
    )
    recipe_top1 = points[0].result.record.final_metrics.top1_acc
    rows = [_row(p, recipe_top1) for p in points]
    output.emit(
        rows,
        fmt=fmt,
        columns=COLUMNS,
        output=output_path,
        title=f"Preprocessing sweep: {model}" if fmt in ("table", "markdown") else None,
        headers=HEADERS if fmt in ("table", "markdown") else None,
        caption="McNemar: exact, on top-1, each point against the recipe on the same images; "
        "'real difference' survives Holm's correction over the points at 5%",
    )
