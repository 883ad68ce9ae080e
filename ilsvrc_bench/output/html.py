"""A report as one self-contained HTML file: inline CSS, tables, a plot as a data URI."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from typing import Any

from ilsvrc_bench.output import Section

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1200px; color: #1b1f24; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f6f8fa; } tr:nth-child(even) td { background: #fbfcfd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.caption, p.note { color: #57606a; font-size: 0.85rem; }
img { max-width: 100%; border: 1px solid #d0d7de; }
"""


def _html_cell(value: Any) -> tuple[str, bool]:
    """Text of a cell, and whether it is a number (right-aligned)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip("."), True
    if isinstance(value, int):
        return str(value), True
    return str(value), False


def _html_table(section: Section) -> str:
    head = "".join(f"<th>{html.escape(section.headers.get(c, c))}</th>" for c in section.columns)
    body = []
    for row in section.rows:
        cells = []
        for c in section.columns:
            text, numeric = _html_cell(row.get(c))
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = f'<p class="caption">{html.escape(section.caption)}</p>' if section.caption else ""
    return (
        f"<h2>{html.escape(section.title)}</h2>\n<table>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n" + "\n".join(body) + f"\n</tbody>\n</table>\n{caption}\n"
    )


def render_html(
    sections: Sequence[Section],
    *,
    title: str,
    notes: Sequence[str] = (),
    image_png: bytes | None = None,
    image_alt: str = "ILSVRC top-5 error by year, with the measured models",
    generator: str = "ilsvrc-bench",
) -> str:
    """A complete HTML document: nothing outside the file is referenced."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta name="generator" content="{html.escape(generator)}">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    if image_png is not None:
        data = base64.b64encode(image_png).decode("ascii")
        parts.append(f'<img alt="{html.escape(image_alt)}" src="data:image/png;base64,{data}">')
    parts += [_html_table(s) for s in sections]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
