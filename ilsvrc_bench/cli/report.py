"""``ilsvrc-bench report``: the challenge's history with models placed in it."""

from __future__ import annotations

from pathlib import Path

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.options import format_option, output_option


@click.command()
@format_option()
@output_option
def report(fmt: str, output_path: Path | None) -> None:
    """The ILSVRC classification results 2010-2017, with models placed in that history.

    Works offline with no dataset: the registered reference models (AlexNet, VGG16, ...)
    appear with their published val accuracy. json and csv hold every history record.

    \b
    Examples:
      ilsvrc-bench report
      ilsvrc-bench report --format markdown -o history.md
      ilsvrc-bench report --format json
    """
    from ilsvrc_bench import history
    from ilsvrc_bench.reports import challenge

    model_rows = challenge.reference_rows()
    if fmt in {"json", "csv"}:
        rows = challenge.report_rows(model_rows)
        output.emit(rows, fmt=fmt, columns=challenge.COLUMNS, output=output_path)
        return
    sections = [
        (
            challenge.year_table(),
            challenge.YEAR_COLUMNS,
            challenge.YEAR_HEADERS,
            "ILSVRC classification, top-5 error on the test set",
            None,
        ),
        (
            challenge.model_table(model_rows),
            challenge.MODEL_COLUMNS_TERMINAL if fmt == "table" else challenge.MODEL_COLUMNS,
            challenge.MODEL_HEADERS,
            "Published results and models placed in that history",
            f"Note: {history.HISTORY_NOTE}",
        ),
    ]
    if output_path is None and fmt == "table":
        for rows, columns, headers, title, caption in sections:
            output.out().print(
                output.to_table(rows, columns, headers=headers, title=title, caption=caption)
            )
        return
    text = "\n".join(
        output.render(rows, fmt=fmt, columns=columns, headers=headers, title=title, caption=caption)
        for rows, columns, headers, title, caption in sections
    )
    output.write_text(text, output_path)
