"""``ilsvrc-bench ensemble``: average the stored probabilities of runs into a new run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.options import format_option, output_option, root_option, runs_dir_option

COLUMNS = ("model", "role", "protocol", "n_images", "top1_acc", "top1_ci", "top5_acc", "run_id")
JSON_COLUMNS = (
    "model",
    "role",
    "protocol",
    "n_images",
    "top1_correct",
    "top1_acc",
    "ci_level",
    "top1_ci_lo",
    "top1_ci_hi",
    "top5_acc",
    "run_id",
    "mcnemar_p_vs_best",
)
HEADERS = {
    "top1_acc": "top-1 %",
    "top1_ci": "top-1 95% CI",
    "top5_acc": "top-5 %",
    "n_images": "images",
}


def _row(record: Any, role: str) -> dict[str, Any]:
    """The run record's row, with its role and the interval as text for tables."""
    row: dict[str, Any] = record.row()
    return {**row, "role": role, "top1_ci": output.interval(row["top1_ci_lo"], row["top1_ci_hi"])}


@click.command("ensemble")
@click.argument("run_refs", nargs=-1, required=True, metavar="RUN RUN [RUN]...")
@click.option("--name", default=None, help="Model name of the ensemble (default: ensemble(a+b)).")
@runs_dir_option
@root_option
@format_option()
@output_option
def ensemble(  # noqa: PLR0917 - one parameter per click option
    run_refs: tuple[str, ...],
    name: str | None,
    runs_dir: Path | None,
    root: Path | None,
    fmt: str,
    output_path: Path | None,
) -> None:
    """Average the softmax probabilities stored by runs (eval --save-logits) into a new run.

    The runs must be on the same data (exit 3 otherwise) with the same protocol (exit 4). The
    ensemble is written as a run like any other, so `report` places it in the history; it is
    shown here beside its members, with an exact McNemar test against the best member.

    \b
    Examples:
      ilsvrc-bench eval -m resnet50 -m densenet121 --save-logits
      ilsvrc-bench ensemble RUN_A RUN_B
      ilsvrc-bench ensemble RUN_A RUN_B RUN_C --name trio --format json
    """
    from ilsvrc_bench import paths, runs
    from ilsvrc_bench.engine.ensemble import build_ensemble

    base = paths.runs_dir(runs_dir, root=root)
    dirs = [runs.find_run(ref, runs_dir=base) for ref in run_refs]
    result = build_ensemble(dirs, runs_dir=base, name=name)
    rows = [_row(r, "member") for r in result.members] + [_row(result.record, "ensemble")]
    caption = (
        f"ensemble vs best member {result.best_member}: exact McNemar p = "
        f"{result.mcnemar_vs_best:.3g} on top-1"
        f"{' (a real difference at 5%)' if result.mcnemar_vs_best < 0.05 else ''}"
    )
    output.info(f"wrote {result.run_dir}")
    if fmt in ("json", "csv"):
        for row in rows:
            row["mcnemar_p_vs_best"] = result.mcnemar_vs_best if row["role"] == "ensemble" else None
        output.emit(rows, fmt=fmt, columns=JSON_COLUMNS, output=output_path)
        return
    output.emit(
        rows,
        fmt=fmt,
        columns=COLUMNS,
        output=output_path,
        title="Ensemble and its members",
        headers=HEADERS,
        caption=caption,
    )
