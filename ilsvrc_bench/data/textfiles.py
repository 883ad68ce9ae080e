"""Small text files from the wild (label lists, checksum lists): encodings, rows, size bounds.

Label files come as UTF-8 with or without a byte-order mark, as UTF-16 (Windows tools), with a
header row, separated by spaces, tabs or commas. Anything else is refused naming the file, the
line and what was expected, never guessed.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from ilsvrc_bench.errors import DataError

# The largest label file in use (Kaggle's LOC_val_solution.csv) is about 3 MB.
MAX_TEXT_BYTES = 64 << 20
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Row:
    """One non-empty line of a text file, split into fields; ``line`` is 1-based."""

    line: int
    fields: tuple[str, ...]
    text: str


def _encoding(path: Path, raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding
    if b"\x00" in raw[:4096]:
        # UTF-16 without a byte-order mark: ASCII text has every other byte zero, the rest not.
        head = raw[: 4096 - 4096 % 2]
        even, odd = head[0::2], head[1::2]
        if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd):
            return "utf-16-be"
        raise DataError(f"{path}: holds binary data (NUL bytes); expected a text file")
    return "utf-8"


def read_text(path: Path, *, what: str = "label file") -> str:
    """The text of ``path``: UTF-8 (BOM or not) or UTF-16; DataError naming the file otherwise."""
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise DataError(
                f"{path}: is {size:,} bytes; a {what} is at most a few MB (is this the right file?)"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    encoding = _encoding(path, raw)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line} is not {encoding.upper().replace('-SIG', '')} text "
            f"(byte {raw[exc.start]:#04x}); expected a UTF-8 or UTF-16 {what}"
        ) from None


def rows(path: Path, text: str) -> list[Row]:
    """Non-empty, non-comment lines split on commas (when the line has one) or whitespace."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip().lstrip("\ufeff")
        if not stripped or stripped.startswith("#"):
            continue
        if "," in stripped:
            fields = tuple(f.strip() for f in stripped.split(","))
        elif "\t" in stripped:
            fields = tuple(f.strip() for f in stripped.split("\t"))
        else:
            fields = tuple(stripped.split())
        while len(fields) > 1 and not fields[-1]:  # a trailing comma
            fields = fields[:-1]
        out.append(Row(number, fields, stripped))
    return out
