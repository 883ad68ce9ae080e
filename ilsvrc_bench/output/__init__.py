"""The only package that makes rich Consoles and turns records into text.

Results go to stdout; progress, warnings and errors go to stderr. Machine-readable formats
(``json``, ``csv``) put nothing else on stdout. A report of several tables is a list of
:class:`Section`; :func:`render_sections` and :func:`emit_sections` draw it in every format
(terminal tables, Markdown, CSV, JSON; :func:`render_html`, in ``output/html.py``, for one
self-contained HTML file). :class:`ProgressBars` (``output/progress.py``) is the one progress
bar. Messages, cells and titles are always text: brackets in a path or a model name are never
read as rich markup.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ilsvrc_bench import serialize

FORMATS = ("table", "markdown", "csv", "json")


@dataclass(frozen=True)
class Section:
    """One table of a report, rendered the same way in every format."""

    title: str
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str]
    headers: Mapping[str, str] = field(default_factory=dict)
    caption: str | None = None
    whole: Sequence[str] = ()  # columns whose values never break in a terminal table (ids)


@dataclass
class _Settings:
    color: bool = True
    quiet: bool = False
    verbose: int = 0


_settings = _Settings()
_consoles: dict[str, Console] = {}
SHORT_CELL = 16  # words up to this long are never broken in a table fitted to a width
WIDE_WIDTH = 400  # --wide: wide enough for any table's natural width


class _ResultConsole(Console):
    """The stdout console: a closed pipe is an error the CLI reports (exit 5), not rich's
    silent exit 1, which ``check`` keeps for "regression found"."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def configure(*, color: bool = True, quiet: bool = False, verbose: int = 0) -> None:
    """Set how the consoles behave; called once by the CLI root."""
    _settings.color, _settings.quiet, _settings.verbose = color, quiet, verbose
    _consoles.clear()


def verbosity() -> int:
    return _settings.verbose


def is_quiet() -> bool:
    return _settings.quiet


def out() -> Console:
    """The console for results (stdout)."""
    if "out" not in _consoles:
        _consoles["out"] = _ResultConsole(
            no_color=not _settings.color, highlight=False, soft_wrap=False
        )
    return _consoles["out"]


def err() -> Console:
    """The console for progress, warnings and errors (stderr)."""
    if "err" not in _consoles:
        _consoles["err"] = Console(
            stderr=True, no_color=not _settings.color, highlight=False, quiet=_settings.quiet
        )
    return _consoles["err"]


def _line(prefix: str, style: str, message: str) -> Text:
    """``prefix: message`` with only the prefix styled; the message is never read as markup."""
    return Text.assemble((f"{prefix}:", style), " ", message) if prefix else Text(message)


def info(message: str) -> None:
    """A progress or status line on stderr (hidden by ``--quiet``), printed verbatim."""
    err().print(Text(message), soft_wrap=True)


def warn(message: str) -> None:
    """A warning on stderr; shown even with ``--quiet``. Printed verbatim, never wrapped."""
    Console(stderr=True, no_color=not _settings.color, highlight=False).print(
        _line("warning", "yellow", message), soft_wrap=True
    )


def error(message: str) -> None:
    """An error line on stderr (shown even with ``--quiet``), printed verbatim."""
    Console(stderr=True, no_color=not _settings.color, highlight=False).print(
        _line("error", "bold red", message), soft_wrap=True
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def interval(lo: float | None, hi: float | None) -> str:
    """A confidence interval as table text, ``[lo, hi]`` to two decimals; empty if unknown."""
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return ""
    return f"[{lo:.2f}, {hi:.2f}]"


def to_json(data: Any) -> str:
    """Stable, indented JSON (NaN becomes null)."""
    return serialize.dumps(data)


def to_csv(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for rec in records:
        writer.writerow(
            [
                ""
                if rec.get(c) is None
                else json.dumps(rec[c])
                if isinstance(rec.get(c), (list, dict))
                else rec.get(c)
                for c in columns
            ]
        )
    return buf.getvalue()


def to_markdown(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    headers: Mapping[str, str] | None = None,
) -> str:
    headers = headers or {}

    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(esc(headers.get(c, c)) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(esc(_cell(rec.get(c))) for c in columns) + " |" for rec in records]
    return "\n".join(lines) + "\n"


def to_table(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    caption: str | None = None,
    whole: Sequence[str] = (),
    width: int | None = None,
) -> Table:
    """A rich table. Given the ``width`` to fit, long text wraps at spaces while words up to
    :data:`SHORT_CELL` characters (numbers, names, ranks) and the lines of the ``whole`` columns
    (run ids) never break, so the table stays readable in 80 columns."""
    headers = headers or {}
    table = Table(
        title=None if title is None else Text(title),
        caption=None if caption is None else Text(caption),
        caption_justify="left",
    )
    cells = [[_cell(rec.get(c)) for c in columns] for rec in records]
    titles = [headers.get(c, c) for c in columns]
    widths = None
    if width is not None:
        widths = _fit(
            [[titles[i], *(row[i] for row in cells)] for i in range(len(columns))],
            [c in whole for c in columns],
            width - 3 * len(columns) - 1,
        )
    for i, title_text in enumerate(titles):
        table.add_column(Text(title_text), overflow="fold", width=widths[i] if widths else None)
    for row in cells:
        # cells are data (paths, model names): Text, so "[onnx]" is never read as markup
        table.add_row(*(Text(cell) for cell in row))
    return table


def _fit(texts: Sequence[Sequence[str]], whole: Sequence[bool], room: int) -> list[int] | None:
    """Column widths that fit ``room`` characters: each column at least its longest word
    (capped at :data:`SHORT_CELL`, or its longest line when ``whole``), the rest shared out by
    how much more each column needs. None when every column fits as it is."""
    lines = [[line for text in col for line in text.splitlines()] for col in texts]
    most = [max((len(line) for line in col), default=1) for col in lines]
    if sum(most) <= room:
        return None
    least = []
    for col, keep in zip(lines, whole, strict=True):
        words = col if keep else [w for line in col for w in line.split()]
        longest = max((len(w) for w in words), default=1)
        least.append(longest if keep else min(longest, SHORT_CELL))
    spare = room - sum(least)
    need = [m - lo for m, lo in zip(most, least, strict=True)]
    if spare <= 0 or not sum(need):
        return least
    return [lo + spare * n // sum(need) for lo, n in zip(least, need, strict=True)]


def print_table(table: Table, *, wide: bool = False) -> None:
    """Print a table on stdout; ``wide`` gives it its natural width, however wide."""
    if not wide:
        out().print(table)
        return
    _ResultConsole(width=WIDE_WIDTH, no_color=not _settings.color, highlight=False).print(table)


def render(
    records: Sequence[Mapping[str, Any]],
    *,
    fmt: str,
    columns: Sequence[str],
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> str:
    """Records as text in ``fmt`` (``table`` renders plain text, as written to a file)."""
    if fmt == "json":
        return to_json([{c: rec.get(c) for c in columns} for rec in records])
    if fmt == "csv":
        return to_csv(records, columns)
    if fmt == "markdown":
        head = f"### {title}\n\n" if title else ""
        tail = f"\n{caption}\n" if caption else ""
        return head + to_markdown(records, columns, headers=headers) + tail
    console = Console(file=io.StringIO(), width=160, no_color=True, highlight=False)
    console.print(to_table(records, columns, title=title, headers=headers, caption=caption))
    buffer = console.file
    assert isinstance(buffer, io.StringIO)
    return buffer.getvalue()


def emit(
    records: Sequence[Mapping[str, Any]],
    *,
    fmt: str,
    columns: Sequence[str],
    output: Path | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> None:
    """Write records to ``output`` if given, else to stdout (a rich table on a terminal)."""
    if output is None and fmt == "table":
        out().print(to_table(records, columns, title=title, headers=headers, caption=caption))
        return
    text = render(records, fmt=fmt, columns=columns, title=title, headers=headers, caption=caption)
    write_text(text, output)


def write_text(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (atomically; :class:`OutputError` naming it if that fails)
    or to stdout unchanged."""
    if output is None:
        out().file.write(text)
        out().file.flush()
        return
    serialize.atomic_write_text(output, text)


def render_sections(sections: Sequence[Section], *, fmt: str) -> str:
    """Several tables as text in ``fmt``: one after the other (``json``: a list of
    ``{"title", "rows"}`` objects when there is more than one table)."""
    if fmt == "json" and len(sections) != 1:
        return to_json(
            [
                {"title": s.title, "rows": [{c: r.get(c) for c in s.columns} for r in s.rows]}
                for s in sections
            ]
        )
    return "\n".join(
        render(
            s.rows, fmt=fmt, columns=s.columns, headers=s.headers, title=s.title, caption=s.caption
        )
        for s in sections
    )


def emit_sections(
    sections: Sequence[Section], *, fmt: str, output: Path | None = None, wide: bool = False
) -> None:
    """Several tables to ``output`` if given, else to stdout: rich tables fitted to the
    terminal's width (``wide``: each at its natural width, however wide)."""
    if output is None and fmt == "table":
        for s in sections:
            table = to_table(
                s.rows,
                s.columns,
                headers=s.headers,
                title=s.title,
                caption=s.caption,
                whole=s.whole,
                width=None if wide else out().width,
            )
            print_table(table, wide=wide)
        return
    write_text(render_sections(sections, fmt=fmt), output)


# Defined beside the tables they use; imported last because they use Section and the consoles.
from ilsvrc_bench.output.html import render_html  # noqa: E402
from ilsvrc_bench.output.progress import ProgressBars  # noqa: E402

__all__ = ["ProgressBars", "render_html"]
