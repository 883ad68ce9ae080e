"""The only module that makes rich Consoles and turns records into text.

Results go to stdout; progress, warnings and errors go to stderr. Machine-readable formats
(``json``, ``csv``) put nothing else on stdout.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ilsvrc_bench import serialize

FORMATS = ("table", "markdown", "csv", "json")


@dataclass
class _Settings:
    color: bool = True
    quiet: bool = False
    verbose: int = 0


_settings = _Settings()
_consoles: dict[str, Console] = {}


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
) -> Table:
    headers = headers or {}
    table = Table(
        title=None if title is None else Text(title),
        caption=None if caption is None else Text(caption),
        caption_justify="left",
    )
    for c in columns:
        table.add_column(Text(headers.get(c, c)), overflow="fold")
    for rec in records:
        # cells are data (paths, model names): Text, so "[onnx]" is never read as markup
        table.add_row(*(Text(_cell(rec.get(c))) for c in columns))
    return table


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
