"""``ilsvrc-bench check``: the CI regression gate (0 pass, 1 regression, 3/4 not comparable)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import click

from ilsvrc_bench.cli.options import runs_dir_option
from ilsvrc_bench.errors import ExitCode, IlsvrcBenchError


def _class_names() -> dict[int, str] | None:
    try:
        from ilsvrc_bench import synsets

        return {s.class_index: s.name for s in synsets.all_synsets()}
    except Exception:  # names are a nicety; the verdict never depends on them
        return None


def _junit_error(exc: IlsvrcBenchError, baseline: str, candidate: str) -> str:
    root = ET.Element("testsuites", {"tests": "1", "failures": "0", "errors": "1"})
    suite = ET.SubElement(
        root, "testsuite", {"name": "ilsvrc-bench check", "tests": "1", "errors": "1"}
    )
    case = ET.SubElement(
        suite, "testcase", {"classname": "ilsvrc_bench.check", "name": f"{candidate} vs {baseline}"}
    )
    error = ET.SubElement(case, "error", {"message": str(exc), "type": type(exc).__name__})
    error.text = str(exc)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


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
    "--summary",
    "summary_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Append a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write the verdict as JUnit XML to FILE.",
)
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
    summary_file: Path | None,
    junit_file: Path | None,
) -> None:
    """Compare a candidate with a baseline; exit 1 if it regressed by more than --max-drop.

    A regression is a drop larger than --max-drop that is also statistically real: McNemar's
    exact test on per-image predictions when both are runs on the same images, else the 95%
    confidence intervals. Different data exits 3; a different protocol or preprocessing exits 4.

    \b
    Examples:
      ilsvrc-bench check --baseline 20250101-alexnet --candidate runs/new --max-drop 0.5
      ilsvrc-bench check --baseline reference --candidate new-run --metric top5
    """
    from ilsvrc_bench import output
    from ilsvrc_bench.reports.check import compare
    from ilsvrc_bench.reports.junit import verdict_junit
    from ilsvrc_bench.reports.sides import REFERENCE, reference_side, resolve_side
    from ilsvrc_bench.reports.summary import verdict_markdown

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
        )
    except IlsvrcBenchError as exc:
        if junit_file is not None:
            output.write_text(_junit_error(exc, baseline, candidate), junit_file)
        raise
    output.write_text(verdict.line() + "\n", None)
    if summary_file is not None:
        summary_file.parent.mkdir(parents=True, exist_ok=True)
        with summary_file.open("a", encoding="utf-8") as fh:
            fh.write(verdict_markdown(verdict, class_names=_class_names()) + "\n")
    if junit_file is not None:
        output.write_text(verdict_junit(verdict, time_s=time.perf_counter() - started), junit_file)
    for note in verdict.notes:
        output.info(f"note: {note}")
    if verdict.regression:
        ctx.exit(int(ExitCode.REGRESSION))
