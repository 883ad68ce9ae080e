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
    from ilsvrc_bench.reports.html import Section

    view = robustness.build(frame)
    rows = view.rows()
    if view.val_data is None:
        output.warn("no run on val data; the robustness view pairs val runs with shift-set runs")
    elif not view.shifts:
        output.warn(
            "no run on a shift set (ImageNetV2, ImageNet-R, ImageNet-A, ImageNet-Sketch); "
            "prepare one with `ilsvrc-bench data prepare` and evaluate on it"
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
        f"{shift}: logit(shift) = {fit.slope:.3f} logit(val) + {fit.intercept:.3f} over "
        f"{fit.n_models} models"
        if fit is not None
        else f"{shift}: no line (needs two models with different val top-1)"
        for shift, fit in view.fits.items()
    )
    section = Section(TITLE, rows, robustness.COLUMNS, dict(robustness.HEADERS), caption or None)
    if fmt == "html":
        from ilsvrc_bench.reports.html import render_html

        output.write_text(render_html([section], title=TITLE, image_png=png), output_path)
        return
    if output_path is None and fmt == "table":
        output.out().print(
            output.to_table(
                rows, section.columns, headers=section.headers, title=TITLE, caption=caption
            )
        )
        return
    text = output.render(
        rows,
        fmt=fmt,
        columns=section.columns,
        headers=section.headers,
        title=TITLE,
        caption=caption,
    )
    output.write_text(text, output_path)
