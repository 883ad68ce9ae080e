"""``ilsvrc-bench check``: the CI regression gate (0 pass, 1 regression, 3/4 not comparable)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ilsvrc_bench.cli.options import format_option, runs_dir_option, writable_file
from ilsvrc_bench.errors import ExitCode, IlsvrcBenchError

if TYPE_CHECKING:
    from ilsvrc_bench.reports.verdict import Verdict


def _class_names() -> dict[int, str] | None:
    try:
        from ilsvrc_bench import synsets

        return {s.class_index: s.name for s in synsets.all_synsets()}
    except Exception:  # names are a nicety; the verdict never depends on them
        return None


@click.command("check")
@click.option(
    "--baseline",
    required=True,
    metavar="RUN|DIR|FILE|reference",
    help="Run id, run directory, JSON/CSV results file, or 'reference' (the candidate model's "
    "published accuracy).",
)
@click.option(
    "--candidate",
    required=True,
    metavar="RUN|DIR|FILE",
    help="Run id, run directory, or JSON/CSV results file.",
)
@runs_dir_option
@click.option(
    "--metric",
    type=click.Choice(["top1", "top5"]),
    default="top1",
    show_default=True,
    help="Which accuracy to gate on.",
)
@click.option(
    "--max-drop",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="PTS",
    help="Drop in accuracy (absolute percentage points) that is still a pass.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level: a drop must also be statistically real to fail.",
)
@click.option(
    "--allow-preprocessing-change",
    is_flag=True,
    help="Compare even when the two sides preprocess images differently.",
)
@click.option(
    "--allow-protocol-change",
    is_flag=True,
    help="Compare runs of different protocols on purpose (e.g. center vs 10crop: is 10-crop "
    "worth it?).",
)
@click.option(
    "--summary",
    "summary_file",
    type=click.Path(path_type=Path),
    default=None,
    callback=writable_file,
    metavar="FILE",
    help="Append a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY), also when the two "
    "sides are not comparable.",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(path_type=Path),
    default=None,
    callback=writable_file,
    metavar="FILE",
    help="Write the verdict as JUnit XML to FILE.",
)
@format_option()
@click.pass_context
def check(  # noqa: PLR0917 (one parameter per click option)
    ctx: click.Context,
    baseline: str,
    candidate: str,
    runs_dir: Path | None,
    metric: str,
    max_drop: float,
    alpha: float,
    allow_preprocessing_change: bool,
    allow_protocol_change: bool,
    summary_file: Path | None,
    junit_file: Path | None,
    fmt: str,
) -> None:
    """Compare a candidate with a baseline; exit 1 if it regressed by more than --max-drop.

    A regression is a drop larger than --max-drop that is also statistically real: McNemar's
    exact test on per-image predictions when both are runs on the same images, else the 95%
    confidence intervals at level 1 - alpha, computed from hit counts. Different data exits 3;
    a different protocol or preprocessing exits 4 (--allow-protocol-change and
    --allow-preprocessing-change compare them on purpose); a corrupt run or predictions file
    exits 5.
    --format json prints the verdict as one JSON object.

    \b
    Examples:
      ilsvrc-bench check --baseline 20250101-alexnet --candidate runs/new --max-drop 0.5
      ilsvrc-bench check --baseline reference --candidate new-run --metric top5
      ilsvrc-bench check --baseline center-run --candidate tencrop-run --allow-protocol-change
    """
    from ilsvrc_bench import output, serialize
    from ilsvrc_bench.reports.check import compare
    from ilsvrc_bench.reports.junit import error_junit, verdict_junit
    from ilsvrc_bench.reports.sides import REFERENCE, reference_side, resolve_side
    from ilsvrc_bench.reports.summary import error_markdown, verdict_markdown

    started = time.perf_counter()
    try:
        cand = resolve_side(candidate, runs_dir=runs_dir)
        if baseline == REFERENCE:
            base = reference_side(cand)
        else:
            base = resolve_side(baseline, runs_dir=runs_dir)
        verdict = compare(
            base,
            cand,
            metric="top1" if metric == "top1" else "top5",
            max_drop=max_drop,
            alpha=alpha,
            allow_preprocessing=allow_preprocessing_change,
            allow_protocol=allow_protocol_change,
        )
    except IlsvrcBenchError as exc:
        # CI still gets its summary and test report, saying why there is no verdict
        names = {"baseline": baseline, "candidate": candidate}
        if summary_file is not None:
            serialize.atomic_write_text(
                summary_file, error_markdown(exc, **names) + "\n", append=True
            )
        if junit_file is not None:
            serialize.atomic_write_text(junit_file, error_junit(exc, **names))
        raise
    # Files first: a failure to write them must never follow a printed verdict.
    if summary_file is not None:
        markdown = verdict_markdown(verdict, class_names=_class_names())
        serialize.atomic_write_text(summary_file, markdown + "\n", append=True)
    if junit_file is not None:
        elapsed = time.perf_counter() - started
        serialize.atomic_write_text(junit_file, verdict_junit(verdict, time_s=elapsed))
    output.write_text(_render(verdict, fmt.lower()), None)
    for note in verdict.notes:
        output.info(f"note: {note}")
    if verdict.regression:
        ctx.exit(int(ExitCode.REGRESSION))


def _render(verdict: Verdict, fmt: str) -> str:
    """The verdict on stdout: one line (table), its Markdown, or one JSON/CSV record."""
    from ilsvrc_bench import output
    from ilsvrc_bench.reports.summary import verdict_markdown

    if fmt == "json":
        return output.to_json(verdict.as_dict(flips=True))
    if fmt == "csv":
        record = verdict.as_dict()
        return output.to_csv([record], [k for k, v in record.items() if not isinstance(v, list)])
    if fmt == "markdown":
        return verdict_markdown(verdict, class_names=_class_names()) + "\n"
    return verdict.line() + "\n"
