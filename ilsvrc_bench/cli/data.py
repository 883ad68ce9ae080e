"""``ilsvrc-bench data``: prepare, info, verify, sample; download and cache live beside it."""

from __future__ import annotations

from pathlib import Path

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.cache import cache_command
from ilsvrc_bench.cli.canary_view import canary_options
from ilsvrc_bench.cli.data_view import progress_bars, report_problems, show
from ilsvrc_bench.cli.download import download_command
from ilsvrc_bench.cli.options import (
    NAME,
    data_option,
    format_option,
    md5_options,
    output_option,
    root_option,
)

SOURCE_FORMATS = (
    "official",
    "flat",
    "kaggle",
    "hf",
    "imagefolder",
    "imagenetv2",
    "imagenet-r",
    "imagenet-a",
    "imagenet-sketch",
)


@click.group()
def data() -> None:
    """Download, prepare, inspect and verify ILSVRC2012 val (and other) datasets."""


@data.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "source_format",
    type=click.Choice(SOURCE_FORMATS),
    default=None,
    help="Source layout (detected when omitted).",
)
@click.option(
    "--name",
    type=NAME,
    default=None,
    help="Dataset name (default: from the source; ilsvrc2012-val only for the complete val).",
)
@click.option(
    "--label-offset",
    type=click.IntRange(-1, 1),
    default=0,
    show_default=True,
    help="Add this to integer labels in a label list: -1 for 1-based files (the 1001-class "
    "convention with 0 = background, or 1..1000).",
)
@md5_options
@root_option
def prepare(  # noqa: PLR0917 - one parameter per click option
    sources: tuple[Path, ...],
    source_format: str | None,
    name: str | None,
    label_offset: int,
    md5: tuple[tuple[str, str], ...],
    no_verify: bool,
    root: Path | None,
) -> None:
    """Prepare a dataset from SOURCES: the official val tar + devkit, a flat folder with a label
    file, the Kaggle tree, Hugging Face parquet shards, an ImageFolder or ImageNetV2 folders.

    \b
    ilsvrc-bench data prepare ILSVRC2012_img_val.tar ILSVRC2012_devkit_t12.tar.gz
    ilsvrc-bench data prepare ./val LOC_val_solution.csv
    ilsvrc-bench data prepare imagenetv2-matched-frequency-format-val
    """
    from ilsvrc_bench.data import prepare as prepare_dataset

    with progress_bars() as progress:
        ds = prepare_dataset(
            sources,
            root=root,
            name=name,
            fmt=source_format,
            md5=dict(md5),
            verify=not no_verify,
            label_offset=label_offset,
            progress=progress,
        )
    output.info(f"prepared {ds.name}: {ds.n_images:,} images, {ds.n_classes} classes")
    report_problems(ds)
    show(ds)


@data.command()
@root_option
@data_option
@format_option()
@output_option
def info(root: Path | None, data: str | None, fmt: str, output_path: Path | None) -> None:
    """Show a prepared dataset: counts, classes, source, size and manifest hash."""
    from ilsvrc_bench.data import open_dataset

    show(open_dataset(data, root=root), fmt=fmt, out=output_path)


@data.command()
@click.option("--decode", is_flag=True, help="Also decode every image (CMYK, grayscale, non-JPEG).")
@canary_options
@root_option
@data_option
@format_option()
@output_option
def verify(  # noqa: PLR0917 - one parameter per click option
    root: Path | None,
    data: str | None,
    decode: bool,
    canary: str | None,
    canary_images: int,
    canary_expect: float | None,
    canary_weights: str | None,
    device: str,
    fmt: str,
    output_path: Path | None,
) -> None:
    """Check every image against the manifest (size, SHA-256); exit 3 if any fails.

    With --canary [MODEL], a model of known accuracy then scores a class-stratified subset;
    exit 3 if the data scores significantly below the published accuracy, with the usual
    suspect (label order, shift by one, channel order, resize rule) that explains it best.

    \b
    ilsvrc-bench data verify --canary
    ilsvrc-bench data verify --canary model.onnx --canary-expect 68.3 --canary-images 2000
    """
    from ilsvrc_bench.data import open_dataset
    from ilsvrc_bench.data.verify import verify as verify_dataset
    from ilsvrc_bench.errors import DataError

    ds = open_dataset(data, root=root)
    with progress_bars() as progress:
        report = verify_dataset(ds, decode=decode, progress=progress)
    rows = [{"path": f.path, "kind": f.kind, "detail": f.detail} for f in report.findings]
    if rows or (fmt in ("json", "csv") and canary is None):
        output.emit(rows, fmt=fmt, columns=["path", "kind", "detail"], output=output_path)
    notes = len(report.findings) - len(report.errors)
    output.info(
        f"checked {report.n_checked:,} images of {ds.name}: {len(report.errors)} failed, "
        f"{notes} notes{' (decoded)' if decode else ''}"
    )
    if not report.ok:
        raise DataError(
            f"{ds.path}: {len(report.errors)} of {report.n_checked} images failed verification "
            f"(first: {report.errors[0].path}, {report.errors[0].kind})"
        )
    if canary is not None:
        from ilsvrc_bench.cli.canary_view import run_and_show

        verdict = run_and_show(
            ds,
            model=canary,
            n_images=canary_images,
            expect=canary_expect,
            weights=canary_weights,
            device=device,
            fmt=fmt,
            output_path=output_path,
        )
        if not verdict.ok:
            best = verdict.best
            why = (
                f"best explanation: {best.name} ({best.detail}: {best.top1:.2f}%)"
                if best is not None
                else "none of the usual suspects explains it"
            )
            given = verdict.expected_source == "--canary-expect"
            raise DataError(
                f"{ds.path}: the canary {verdict.model} scores {verdict.top1:.2f}% top-1 "
                f"(95% CI {verdict.ci[0]:.2f}-{verdict.ci[1]:.2f}), below the "
                f"{'--canary-expect' if given else 'published'} {verdict.expected_top1:.3f}%; {why}"
            )


@data.command()
@click.argument("out_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--classes",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Number of classes (spread out).",
)
@click.option(
    "--per-class",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Images per class.",
)
@click.option("--seed", default=0, show_default=True, help="Seed for images and order.")
@click.option(
    "--name", type=NAME, default="sample", show_default=True, help="Name of the prepared dataset."
)
@click.option("--no-prepare", is_flag=True, help="Only write the archives.")
@root_option
def sample(  # noqa: PLR0917 - one parameter per click option
    out_dir: Path | None,
    classes: int,
    per_class: int,
    seed: int,
    name: str,
    no_prepare: bool,
    root: Path | None,
) -> None:
    """Write a small generated val tar + devkit in the official layout and prepare it.

    The archives go to OUT_DIR (default: <root>/sample-archives); the dataset is named
    `sample`, so `--data sample` selects it and the real ILSVRC2012 val is never shadowed.
    """
    from ilsvrc_bench import paths
    from ilsvrc_bench.data import prepare as prepare_dataset
    from ilsvrc_bench.data import write_sample

    target = out_dir or paths.data_root(root) / "sample-archives"
    val_tar, devkit = write_sample(target, classes=classes, per_class=per_class, seed=seed)
    output.info(f"wrote {val_tar} and {devkit}")
    if no_prepare:
        return
    ds = prepare_dataset([val_tar, devkit], root=root, name=name)
    show(ds)


data.add_command(download_command)
data.add_command(cache_command)
