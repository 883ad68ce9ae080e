"""``report --robustness``: render the robustness view (tables, JSON/CSV, HTML, the plot)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ilsvrc_bench import output

if TYPE_CHECKING:
    import pandas as pd

TITLE = "Robustness: val accuracy against each shift set"


def emit_robustness(
    frame: pd.DataFrame, *, fmt: str, output_path: Path | None, plot_path: Path | None
) -> None:
    from ilsvrc_bench.reports import robustness

    view = robustness.build(frame)
    rows = view.rows()
    if view.val_data is None:
        output.warn("no run on val data; the robustness view pairs val runs with shift-set runs")
    elif not view.shifts:
        output.warn(
            "no run on a shift set (ImageNetV2, ImageNet-R, ImageNet-A, ImageNet-Sketch); "
            "prepare one with `ilsvrc-bench data prepare` and evaluate on it"
        )
    for label in view.unpaired():
        output.warn(
            f"{label}: left out, it has shift-set runs but no run on {view.val_data} "
            "(evaluate it there with the same weights and protocol)"
        )
    png = None
    if plot_path is not None or fmt == "html":
        png = robustness.plot_png(view)
    if plot_path is not None and png is not None:
        robustness.write_plot_file(plot_path, png)
    if fmt in {"json", "csv"}:
        output.emit(rows, fmt=fmt, columns=robustness.COLUMNS, output=output_path)
        return
    caption = "; ".join(
        f"{shift}: logit(shift) = {fit.slope:.3f} logit(val) "
        f"{'-' if fit.intercept < 0 else '+'} {abs(fit.intercept):.3f} over "
        f"{fit.n_models} models"
        if fit is not None
        else f"{shift}: no line (needs two models with different val top-1)"
        for shift, fit in view.fits.items()
    )
    section = output.Section(
        TITLE, rows, robustness.COLUMNS, dict(robustness.HEADERS), caption or None
    )
    if fmt == "html":
        output.write_text(
            output.render_html([section], title=TITLE, image_png=png, image_alt=TITLE),
            output_path,
        )
        return
    output.emit_sections([section], fmt=fmt, output=output_path)
