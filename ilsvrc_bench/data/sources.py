"""Which reader a source needs: detection by layout, or the format the user named."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ilsvrc_bench.data.official import scan_official, split_official
from ilsvrc_bench.data.scan import Context, Scan
from ilsvrc_bench.errors import DataError, UsageError

FORMATS = ("official",)


def detect(sources: Sequence[Path]) -> str:
    """The format of ``sources`` from its layout; DataError when nothing fits."""
    if split_official(sources) is not None:
        return "official"
    names = ", ".join(str(p) for p in sources)
    raise DataError(
        f"{names}: not a recognised ImageNet source (give --format; see `data prepare --help`)"
    )


def _official(sources: Sequence[Path], ctx: Context) -> Scan:
    pair = split_official(sources)
    if pair is None:
        raise DataError(
            f"{sources[0]}: the official format needs the val .tar and the devkit .tar.gz"
        )
    return scan_official(*pair, ctx)


READERS: dict[str, Callable[[Sequence[Path], Context], Scan]] = {"official": _official}


def read_sources(sources: Sequence[Path], *, fmt: str | None, ctx: Context) -> Scan:
    """Read ``sources`` with the reader for ``fmt`` (detected when None)."""
    fmt = fmt or detect(sources)
    if fmt not in READERS:
        raise UsageError(f"unknown source format {fmt!r}; choose from {', '.join(READERS)}")
    return READERS[fmt](sources, ctx)
