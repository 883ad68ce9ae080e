"""``ilsvrc-bench data cache``: write the preprocessed cache of a dataset for a model's recipe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.options import (
    data_option,
    format_option,
    output_option,
    preprocessing_options,
    root_option,
    weights_option,
)

if TYPE_CHECKING:
    from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice

COLUMNS = ("dataset", "protocol", "resize", "crop", "interpolation", "images", "size_gib", "status")


@click.command("cache")
@click.option(
    "-m",
    "--model",
    "model",
    required=True,
    metavar="MODEL",
    help="The model whose preprocessing the cache stores (any model with the same resize, "
    "crop and interpolation reads it).",
)
@weights_option
@data_option
@root_option
@click.option(
    "--protocol",
    type=click.Choice(["center", "10crop", "full"]),
    default="center",
    show_default=True,
    help="The views to store (10crop stores ten per image).",
)
@preprocessing_options
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Decoding worker processes (default: CPU cores - 1, at most 16).",
)
@click.option("--dry-run", is_flag=True, help="Only say where the cache goes and its size.")
@format_option()
@output_option
def cache_command(  # noqa: PLR0917 - one parameter per click option
    model: str,
    weights: WeightsChoice | None,
    data: str | None,
    root: Path | None,
    protocol: str,
    preprocessing: PreprocessingOverrides,
    workers: int | None,
    dry_run: bool,
    fmt: str,
    output_path: Path | None,
) -> None:
    """Decode a dataset once into a memory-mapped file of uint8 crops in the data root.

    Later `eval` and `bench` runs with the same data, resize, crop, interpolation and protocol
    read it instead of decoding (results are bit-identical). Interrupted, it resumes.

    \b
    Examples:
      ilsvrc-bench data cache -m resnet50
      ilsvrc-bench data cache --data sample -m alexnet --dry-run
    """
    from ilsvrc_bench.cli.eval import _default_workers
    from ilsvrc_bench.data import open_dataset
    from ilsvrc_bench.engine import cache as caches
    from ilsvrc_bench.models import resolve

    spec = resolve(model, weights=weights, preprocessing=preprocessing)
    dataset = open_dataset(data, root=root)
    target = caches.plan(dataset, spec.preprocessing, protocol)
    complete, have = caches.status(target)
    size = f"{target.size_bytes / 2**30:.2f} GiB"
    workers = _default_workers() if workers is None else workers
    if complete and not dry_run:  # checked: a damaged cache is repaired, its damaged chunks redone
        redone = caches.build(dataset, spec.preprocessing, target, workers=workers)
        status = f"repaired ({redone} images decoded again)" if redone else "complete"
    elif complete:
        status = "complete"
    elif dry_run:
        status = f"partial ({have} of {target.n_images})" if have else "not written"
    else:
        output.info(f"cache for {dataset.name}: {size} at {target.directory}")
        with _bar(target.n_images, have) as advance:
            caches.build(
                dataset,
                spec.preprocessing,
                target,
                workers=workers,
                on_chunk=advance,
            )
        status = "written" if have == 0 else f"resumed ({have} images were already written)"
    prep = spec.preprocessing
    row = {
        "dataset": dataset.name,
        "protocol": protocol,
        "resize": prep.resize_size,
        "crop": prep.crop_size,
        "interpolation": prep.interpolation,
        "images": target.n_images,
        "size_gib": round(target.size_bytes / 2**30, 3),
        "status": status,
        "size_bytes": target.size_bytes,
        "path": str(target.directory),
    }
    columns = (*COLUMNS, "size_bytes", "path") if fmt in ("json", "csv") else COLUMNS
    output.emit([row], fmt=fmt, columns=columns, output=output_path)


@contextmanager
def _bar(total: int, done: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for the images written (none with --quiet)."""
    bars = output.ProgressBars()
    bars.start("caching", total, done)
    try:
        yield bars.advance
    finally:
        bars.stop()
