"""``ilsvrc-bench report``: the challenge's history with models placed in it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.options import (
    format_option,
    output_option,
    root_option,
    runs_dir_option,
    writable_file,
)

if TYPE_CHECKING:
    import pandas as pd

    from ilsvrc_bench.reports.document import RunsReport

REPORT_TITLE = "ILSVRC classification: the challenge's history with models placed in it"


def _real_labels(value: str | None) -> list[list[int]] | None:
    """``--real-labels``: a real.json path, or ``timm`` for the copy timm ships."""
    if value is None:
        return None
    from ilsvrc_bench.errors import DataError
    from ilsvrc_bench.reports import rescore

    if value == "timm":
        path = rescore.default_real_labels()
        if path is None:
            raise DataError("--real-labels timm: timm is not installed; give the real.json path")
    else:
        path = Path(value).expanduser()
    return rescore.load_real_labels(path)


def _hierarchies(frame: pd.DataFrame, root: Path | None) -> dict[str, Mapping[str, str]]:
    """Each run's devkit hierarchy (wnid -> parent), from its dataset or the data root."""
    from ilsvrc_bench import runs
    from ilsvrc_bench.data import devkit

    found: dict[str, Mapping[str, str]] = {}
    for r in frame.to_dict("records"):
        data_path = runs.read_record(Path(r["run_dir"])).data.path
        kit = (devkit.load_devkit(Path(data_path)) if data_path else None) or devkit.seen_devkit(
            root
        )
        if kit is None or not kit.parent_of:
            output.warn(f"{r['run_id']}: no devkit hierarchy seen for its data; no WordNet view")
            continue
        found[str(r["run_id"])] = dict(kit.parent_of)
    return found


def _png_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """``--plot``: a writable file named ``.png`` (the only format drawn; a PNG in ``x.jpg``
    would be a file its own name lies about)."""
    if value is not None and value.suffix.lower() != ".png" and not str(value).startswith("/dev/"):
        raise click.BadParameter(f"{value}: the plot is a PNG; name the file .png", ctx, param)
    return writable_file(ctx, param, value)


@click.command()
@click.argument("run_refs", nargs=-1, metavar="[RUN]...")
@format_option("html")
@output_option
@runs_dir_option
@root_option
@click.option("--model", "model_filter", metavar="PATTERN", help="Only runs of models matching.")
@click.option("--data", "data_filter", metavar="PATTERN", help="Only runs on data matching.")
@click.option("--protocol", "protocol_filter", metavar="NAME", help="Only runs with this protocol.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path),
    default=None,
    callback=_png_file,
    metavar="FILE.png",
    help="Also draw the challenge's top-5 error by year with the models in it (PNG).",
)
@click.option(
    "--exclude-blacklist",
    is_flag=True,
    help="Re-score runs without the devkit's blacklisted val images.",
)
@click.option(
    "--real-labels",
    metavar="FILE|timm",
    default=None,
    help="Re-score runs with the ReaL labels (real.json; 'timm' uses the copy timm ships).",
)
@click.option(
    "--per-class",
    type=click.IntRange(min=1),
    is_flag=False,
    flag_value=10,
    default=None,
    metavar="[N]",
    help="Each run's N worst and best classes (default 10); csv/json: every class.",
)
@click.option(
    "--wordnet",
    is_flag=True,
    help="Each run's top-1 mistakes by distance in the devkit's WordNet hierarchy.",
)
@click.option(
    "--robustness",
    is_flag=True,
    help="Val top-1 beside each shift set (ImageNetV2/-R/-A/-Sketch) with effective "
    "robustness; --plot draws shift-set against val accuracy.",
)
@click.option(
    "--wide",
    is_flag=True,
    help="Tables with every column at their full width (default: the columns that read well "
    "in 80, long text wrapped).",
)
@click.option(
    "--include-outside-data",
    is_flag=True,
    help="Rank against every challenge entry, also those trained with outside data "
    "(default: only entries that used the provided data, as the challenge ranked them).",
)
def report(  # noqa: PLR0917 (one parameter per click option)
    run_refs: tuple[str, ...],
    fmt: str,
    output_path: Path | None,
    runs_dir: Path | None,
    root: Path | None,
    model_filter: str | None,
    data_filter: str | None,
    protocol_filter: str | None,
    plot_path: Path | None,
    exclude_blacklist: bool,
    real_labels: str | None,
    per_class: int | None,
    wordnet: bool,
    robustness: bool,
    wide: bool,
    include_outside_data: bool,
) -> None:
    """The ILSVRC classification results 2010-2017, with models and your runs placed in them.

    Works offline with no dataset: the registered reference models (AlexNet, VGG16, ...)
    appear with their published val accuracy. Measured runs (RUN ids, default every run in
    the runs directory) are added with 95% intervals, a runs table, and optional re-scoring
    from their stored predictions. json and csv hold every history record and run.
    Placements rank against entries that used only the provided training data, as the
    challenge did; --include-outside-data ranks against every entry.

    \b
    Examples:
      ilsvrc-bench report
      ilsvrc-bench report --format markdown -o history.md
      ilsvrc-bench report --format json
      ilsvrc-bench report --model 'resnet*' --format html -o report.html --plot top5.png
      ilsvrc-bench report RUN_ID --real-labels timm --per-class 5
      ilsvrc-bench report --robustness --format markdown --plot robustness.png
    """
    from ilsvrc_bench import paths
    from ilsvrc_bench.errors import UsageError
    from ilsvrc_bench.reports import challenge, document, runs_table

    if per_class is not None and wordnet and fmt in {"json", "csv"}:
        raise UsageError("--per-class and --wordnet each make their own csv/json table; pick one")
    frame = runs_table.select_runs(
        run_refs,
        runs_dir=paths.runs_dir(runs_dir, root=root),
        model=model_filter,
        data=data_filter,
        protocol=protocol_filter,
        on_skip=output.warn,
    )
    if robustness:
        from ilsvrc_bench.cli.robustness_view import emit_robustness

        emit_robustness(frame, fmt=fmt, output_path=output_path, plot_path=plot_path)
        return
    if frame.empty and (run_refs or model_filter or data_filter or protocol_filter):
        output.warn("no complete run matches; showing the history and reference models only")
    built = document.build(
        frame,
        model_rows=challenge.reference_rows(),
        exclude_blacklist=exclude_blacklist,
        real_labels=_real_labels(real_labels),
        per_class_n=per_class,
        hierarchies=_hierarchies(frame, root) if wordnet else None,
        include_outside_data=include_outside_data,
    )
    if exclude_blacklist:
        _warn_without_blacklist(built.runs)
    png = None
    if plot_path is not None:
        from ilsvrc_bench.reports.plot import MAX_MODELS, write_plot

        drawn = built.plot_models()
        if len(drawn) > MAX_MODELS:
            output.warn(f"--plot draws the first {MAX_MODELS} of {len(drawn)} models; filter runs")
        png = write_plot(plot_path, drawn, include_outside_data=include_outside_data)
    _emit(
        built,
        fmt=fmt,
        output_path=output_path,
        png=png,
        per_class=per_class,
        wordnet=wordnet,
        wide=wide,
    )


def _warn_without_blacklist(scored: pd.DataFrame) -> None:
    """``--exclude-blacklist`` on data that has no blacklisted image excludes nothing: say so."""
    if scored.empty:
        output.warn("--exclude-blacklist: no run to re-score; 0 images excluded")
        return
    for r in scored.to_dict("records"):
        if not r.get("n_excluded"):
            output.warn(
                f"--exclude-blacklist: {r['run_id']} has no blacklisted image in its data "
                f"({r['data']}: no devkit blacklist was seen when it was prepared, or none of "
                "its images is on it); 0 images excluded"
            )


def _emit(
    built: RunsReport,
    *,
    fmt: str,
    output_path: Path | None,
    png: bytes | None,
    per_class: int | None,
    wordnet: bool,
    wide: bool,
) -> None:
    from ilsvrc_bench import history
    from ilsvrc_bench.reports import challenge, document

    if fmt in {"json", "csv"}:
        rows: list[dict[str, Any]]
        if per_class is not None:
            rows = document.per_class_rows(built)
            columns: tuple[str, ...] = ("run_id", *document.PER_CLASS_HEADERS)
        elif wordnet:
            rows = document.wordnet_rows(built)
            columns = ("run_id", *document.KINDS_HEADERS)
        elif built.runs.empty:
            rows = challenge.report_rows(
                built.model_rows, include_outside_data=built.include_outside_data
            )
            columns = challenge.COLUMNS
        else:
            rows, columns = built.rows(), built.columns()
        output.emit(rows, fmt=fmt, columns=columns, output=output_path)
        return
    if fmt == "html":
        from ilsvrc_bench.reports.plot import challenge_plot_png

        outside = built.include_outside_data
        image = png
        if image is None:
            image = challenge_plot_png(built.plot_models(), include_outside_data=outside)
        note = history.HISTORY_NOTE_OUTSIDE if outside else history.HISTORY_NOTE
        text = output.render_html(
            built.sections(), title=REPORT_TITLE, notes=[note], image_png=image
        )
        output.write_text(text, output_path)
        return
    sections = built.sections(terminal=fmt == "table" and not wide)
    output.emit_sections(sections, fmt=fmt, output=output_path, wide=wide)
