"""``ilsvrc-bench eval``: evaluate models on a prepared dataset and write one run record each."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
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
    runs_dir_option,
    weights_option,
)

if TYPE_CHECKING:
    from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice

COLUMNS = (
    "model",
    "weights",
    "data",
    "protocol",
    "n_images",
    "top1_acc",
    "top5_acc",
    "top1_err",
    "top5_err",
    "top1_ci",
    "images_per_second",
    "reused_images",
    "run_id",
)
HEADERS = {
    "top1_acc": "top-1 %",
    "top5_acc": "top-5 %",
    "top1_err": "top-1 err %",
    "top5_err": "top-5 err %",
    "top1_ci": "top-1 95% CI",
    "images_per_second": "images/s",
    "reused_images": "reused",
    "n_images": "images",
}


MAX_LISTED = 20


def _default_workers() -> int:
    return max(1, min(16, (os.cpu_count() or 2) - 1))


class _EvalCommand(click.Command):
    """Keeps the arguments as typed, for the run record's ``command`` and for ``--nproc``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGV] = list(args)
        return super().parse_args(ctx, args)


_ARGV = "ilsvrc_bench.eval.argv"


def _typed_command(ctx: click.Context) -> list[str]:
    """What the user typed: from ``--nproc``'s launcher if this is one of its ranks."""
    from ilsvrc_bench.engine.launch import COMMAND_ENV

    inherited = os.environ.get(COMMAND_ENV)
    if inherited:
        try:
            value = json.loads(inherited)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["ilsvrc-bench", ctx.info_name or "eval", *ctx.meta.get(_ARGV, [])]


def _without_nproc(args: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


@click.command("eval", cls=_EvalCommand)
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    required=True,
    metavar="MODEL",
    help="Model reference (torchvision name, timm:NAME, file.onnx, file.tflite, module:factory); "
    "repeatable.",
)
@weights_option
@data_option
@root_option
@execution_options
@preprocessing_options
@runs_dir_option
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Continue an interrupted run with the same run key (model, weights, data, "
    "preprocessing, protocol, precision, limit).",
)
@click.option(
    "--strict", is_flag=True, help="An unreadable image is an error (exit 3), not a miss."
)
@click.option("--save-logits", is_flag=True, help="Also keep all logits (float16) in the run.")
@click.option(
    "--cache/--no-cache",
    default=None,
    help="--cache writes the preprocessed cache first if missing (see `data cache`); "
    "--no-cache never reads one (default: read a complete one with the same key).",
)
@click.option(
    "--flush-batches",
    type=click.IntRange(min=1),
    default=None,
    hidden=True,
    help="Write predictions durably after every N batches, however fast (for tests).",
)
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=None,
    help="Split the images over N local processes (torchrun's protocol; one per GPU, or "
    "CPU processes). For several nodes run torchrun yourself (docs/distributed.md).",
)
@format_option()
@output_option
def eval_command(  # noqa: PLR0917 - one parameter per click option
    models: tuple[str, ...],
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
    preprocessing: PreprocessingOverrides,
    runs_dir: Path | None,
    resume: bool,
    strict: bool,
    save_logits: bool,
    cache: bool | None,
    decode: str,
    flush_batches: int | None,
    nproc: int | None,
    fmt: str,
    output_path: Path | None,
) -> None:
    """Evaluate models on ILSVRC2012 val (or another prepared dataset); one run record each.

    Results go to stdout; progress to stderr. Interrupted runs resume from where they stopped.

    \b
    Examples:
      ilsvrc-bench eval -m resnet50
      ilsvrc-bench eval -m alexnet -m vgg16 --device cuda --precision bf16 --format json
      ilsvrc-bench eval -m model.onnx --limit 1000 --protocol 10crop
    """
    from ilsvrc_bench import runs
    from ilsvrc_bench.engine import EvalOptions, NullProgress, evaluate
    from ilsvrc_bench.engine.distributed import env_rank

    ctx = click.get_current_context()
    command = _typed_command(ctx)
    if nproc is not None:
        _launch(ctx, nproc, command)
        return
    options = EvalOptions(
        device=device,
        precision=precision,  # type: ignore[arg-type]
        batch_size=batch_size,
        workers=_default_workers() if workers is None else workers,
        channels_last=channels_last,
        compile=compile_,
        limit=limit,
        protocol=protocol,  # type: ignore[arg-type]
        resume=resume,
        strict=strict,
        save_logits=save_logits,
        cache=cache,
        decode=decode,  # type: ignore[arg-type]
        # --flush-batches (hidden, for tests) flushes after exactly that many batches.
        flush_batches=flush_batches or EvalOptions.flush_batches,
        flush_min_seconds=0.0 if flush_batches else EvalOptions.flush_min_seconds,
        command=tuple(command),
    )
    results = evaluate(
        list(models),
        data=data,
        root=root,
        runs_dir=runs_dir,
        weights=weights,
        preprocessing=preprocessing,
        options=options,
        progress=output.ProgressBars() if env_rank() == 0 else NullProgress(),
    )
    if env_rank() != 0:
        return  # under torchrun, rank 0 reports for everyone
    rows = []
    for result in results:
        for note in result.notes:
            output.info(f"{result.record.run_id}: {note}")
        for warning in result.warnings:
            output.warn(f"{result.record.run_id}: {warning}")
        unreadable = result.record.unreadable
        for bad in unreadable[:MAX_LISTED]:
            output.warn(f"unreadable image counted as a miss: {bad.path}: {bad.error}")
        if len(unreadable) > MAX_LISTED:
            output.warn(
                f"... and {len(unreadable) - MAX_LISTED} more unreadable images, all listed in "
                f"{result.run_dir / 'run.json'}"
            )
        nonfinite = result.record.nonfinite
        if nonfinite:
            output.warn(
                f"{result.record.run_id}: {len(nonfinite)} image(s) got NaN or inf model outputs "
                f"and count as misses (first: {nonfinite[0].path}); all listed in "
                f"{result.run_dir / 'run.json'}"
            )
        rows.append(result.summary())
    fmt = fmt.lower()
    if fmt in ("json", "csv"):
        output.emit(rows, fmt=fmt, columns=runs.ROW_COLUMNS, output=output_path)
        return
    from ilsvrc_bench.reports.labels import data_label

    rows = [
        {**r, "data": data_label(r), "top1_ci": output.interval(r["top1_ci_lo"], r["top1_ci_hi"])}
        for r in rows
    ]
    caption = None
    n_bad = sum(r["n_unreadable"] or 0 for r in rows)
    if n_bad:
        caption = f"{n_bad} unreadable image(s) counted as misses (listed in run.json)"
    if fmt == "table" and output_path is None and not _fits(rows):
        # A terminal narrower than the table (80 columns, a CI log): one two-column table per
        # run, so that no value (a run id to copy) is broken across lines.
        sections = [
            output.Section(
                title=f"ILSVRC evaluation: {r['model']}",
                rows=[{"field": HEADERS.get(c, c), "value": r.get(c)} for c in COLUMNS[1:]],
                columns=("field", "value"),
                caption=caption,
                whole=("value",),
            )
            for r in rows
        ]
    else:
        sections = [
            output.Section(
                title="ILSVRC evaluation",
                rows=rows,
                columns=COLUMNS,
                headers=HEADERS,
                caption=caption,
                whole=("run_id",),
            )
        ]
    output.emit_sections(sections, fmt=fmt, output=output_path)


def _fits(rows: list[dict[str, Any]]) -> bool:
    """Whether the one-row-per-run table fits the terminal without wrapping a cell."""
    console = output.out()
    table = output.to_table(rows, COLUMNS, headers=HEADERS)
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    return natural <= console.width


def _launch(ctx: click.Context, nproc: int, command: list[str]) -> None:
    from ilsvrc_bench.engine.launch import launch

    prefix = (["-q"] if output.is_quiet() else []) + ["-v"] * output.verbosity()
    args = [*prefix, "eval", *_without_nproc(ctx.meta.get(_ARGV, []))]
    outcome = launch(args, nproc=nproc, command=command)
    if outcome.message:
        from ilsvrc_bench.errors import RunError

        raise RunError(outcome.message)
    if outcome.exit_code:
        ctx.exit(outcome.exit_code)
