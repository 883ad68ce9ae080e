"""The only module that makes rich Consoles and turns records into text.

Results go to stdout; progress, warnings and errors go to stderr. Machine-readable formats
(``json``, ``csv``) put nothing else on stdout. A report of several tables is a list of
:class:`Section`; :func:`render_sections` and :func:`emit_sections` draw it in every format
(terminal tables, Markdown, CSV, JSON, one self-contained HTML file). Messages, cells and titles
are always text: brackets in a path or a model name are never read as rich markup.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
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
        _consoles["out"] = Console(no_color=not _settings.color, highlight=False, soft_wrap=False)
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


class _Amount(ProgressColumn):
    """``done/total``: a count, or sizes when the task counts bytes."""

    def render(self, task: Task) -> Text:
        done, total = int(task.completed), task.total
        if task.fields.get("unit") == "bytes":
            return Text(f"{decimal(done)}/{decimal(int(total)) if total else '?'}")
        return Text(f"{done:,}/{int(total):,}" if total else f"{done:,}")


class _Rate(ProgressColumn):
    """Items per second over the work done here (resumed work is not counted)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        unit = task.fields.get("unit") or ""
        if unit == "bytes":
            return Text(f"{decimal(int(speed))}/s")
        return Text(f"{speed:.1f} {unit}/s".replace("  ", " "))


class ProgressBars:
    """The one progress renderer: rich bars on stderr (nothing with ``--quiet``).

    It takes both progress callbacks of the library: the engine's ``Progress`` (``start``,
    ``advance``, ``note``, ``stop``: one pass at a time, counted in images) and the data layer's
    stage callback ``bars(stage, advance, total)`` (one bar per stage; stages starting with one
    of ``byte_stages`` count bytes). Descriptions are printed as text, never as markup.
    """

    def __init__(self, *, unit: str = "img", byte_stages: Sequence[str] = ()) -> None:
        self._unit = unit
        self._byte_stages = tuple(byte_stages)
        self._bars = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            _Amount(),
            _Rate(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err(),
            transient=False,
            disable=is_quiet(),
        )
        self._task: Any = None
        self._stages: dict[str, Any] = {}

    def __enter__(self) -> ProgressBars:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def start(self, description: str, total: int, completed: int = 0) -> None:
        self._bars.start()
        self._task = self._bars.add_task(
            description, total=total, completed=completed, unit=self._unit
        )

    def advance(self, n: int) -> None:
        self._bars.update(self._task, advance=n)

    def note(self, message: str) -> None:
        warn(message)

    def stop(self) -> None:
        self._bars.stop()

    def __call__(self, stage: str, advance: int, total: int | None) -> None:
        if stage not in self._stages:
            unit = "bytes" if stage.startswith(self._byte_stages) else ""
            self._stages[stage] = self._bars.add_task(stage, total=total, unit=unit)
        self._bars.update(self._stages[stage], advance=advance, total=total)


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
    Console(width=WIDE_WIDTH, no_color=not _settings.color, highlight=False).print(table)


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


# ---- one self-contained HTML file ------------------------------------------------------------

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
