"""``data verify --canary``: run the canary and render its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ilsvrc_bench import output

if TYPE_CHECKING:
    from ilsvrc_bench.data import Dataset
    from ilsvrc_bench.engine.canary import CanaryReport

COLUMNS = ("check", "detail", "top1_acc", "mcnemar_p", "verdict")
HEADERS = {"top1_acc": "top-1 %", "mcnemar_p": "McNemar p vs measured"}


def canary_options(fn: Any) -> Any:
    """``--canary [MODEL]`` and the options that go with it."""
    options = [
        click.option(
            "--canary",
            "canary",
            is_flag=False,
            flag_value="resnet18",
            default=None,
            metavar="[MODEL]",
            help="Score a stratified subset with a model of known accuracy (default resnet18) "
            "and say whether data, labels and preprocessing reproduce it.",
        ),
        click.option(
            "--canary-images",
            type=click.IntRange(min=1),
            default=5000,
            show_default=True,
            help="Images the canary scores (class-stratified).",
        ),
        click.option(
            "--canary-expect",
            type=float,
            default=None,
            metavar="TOP1",
            help="The top-1 % the canary model should reach (default: its published figure).",
        ),
        click.option(
            "--canary-weights", default=None, metavar="NAME|PATH", help="Weights of the canary."
        ),
        click.option("--device", default="auto", show_default=True, help="Where the canary runs."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def rows(report: CanaryReport) -> list[dict[str, Any]]:
    measured = {
        "check": "measured",
        "detail": f"{report.model} on {report.n_images} images, 95% CI "
        f"[{report.ci[0]:.2f}, {report.ci[1]:.2f}]; expected {report.expected_top1:.3f} "
        f"({report.expected_source})",
        "top1_acc": round(report.top1, 3),
        "mcnemar_p": None,
        "verdict": report.verdict,
    }
    out = [measured]
    for s in report.suspects:
        best = report.best is not None and s == report.best
        out.append(
            {
                "check": s.name,
                "detail": s.detail,
                "top1_acc": round(s.top1, 3),
                "mcnemar_p": s.p_value,
                "verdict": "best explanation" if best else "",
            }
        )
    return out


def run_and_show(
    ds: Dataset,
    *,
    model: str,
    n_images: int,
    expect: float | None,
    weights: str | None,
    device: str,
    fmt: str,
    output_path: Path | None,
) -> CanaryReport:
    from ilsvrc_bench.cli.eval import _default_workers
    from ilsvrc_bench.engine import EvalOptions
    from ilsvrc_bench.engine.canary import run_canary

    report = run_canary(
        dataset=ds,
        model=model,
        weights=weights,
        expect_top1=expect,
        n_images=n_images,
        options=EvalOptions(device=device, workers=_default_workers()),
        progress=output.ProgressBars(),
    )
    output.emit(
        rows(report),
        fmt=fmt,
        columns=COLUMNS,
        output=output_path,
        title=f"Canary: {report.model} on {ds.name}" if fmt in ("table", "markdown") else None,
        headers=HEADERS if fmt in ("table", "markdown") else None,
    )
    if report.verdict == "reproduces":
        output.info(
            f"canary: {report.top1:.2f}% top-1, the published {report.expected_top1:.3f}% is "
            "inside the 95% interval: data, labels and preprocessing reproduce it"
        )
    elif report.verdict == "higher":
        output.warn(
            f"canary: {report.top1:.2f}% top-1 is above the published {report.expected_top1:.3f}%"
            " beyond the interval: these are probably not ILSVRC2012 val images (training "
            "images, or an easy subset)"
        )
    return report
