"""Which reader a source needs: detection by layout, or the format the user named."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ilsvrc_bench.data.folders import looks_like, scan_flat, scan_imagefolder, scan_imagenetv2
from ilsvrc_bench.data.hf import scan_hf
from ilsvrc_bench.data.official import scan_official, split_official
from ilsvrc_bench.data.scan import Context, Scan
from ilsvrc_bench.data.shifts import SHIFT_SETS, detect_shift, scan_shift
from ilsvrc_bench.errors import DataError, UsageError


def detect(sources: Sequence[Path]) -> str:
    """The format of ``sources`` from its layout; DataError when nothing fits."""
    if split_official(sources) is not None:
        return "official"
    folders = [p for p in sources if p.is_dir()]
    if len(folders) == 1 and (found := looks_like(folders[0])):
        if found == "imagefolder":
            return detect_shift(folders[0]) or found
        return found
    if sources and all(p.suffix == ".parquet" for p in sources):
        return "hf"
    names = ", ".join(str(p) for p in sources)
    raise DataError(f"{names}: not a recognised ImageNet source (name one with --format)")


def _official(sources: Sequence[Path], ctx: Context) -> Scan:
    pair = split_official(sources)
    if pair is None:
        raise DataError(f"{sources[0]}: the official format needs the val .tar and devkit .tar.gz")
    return scan_official(*pair, ctx)


READERS: dict[str, Callable[[Sequence[Path], Context], Scan]] = {
    "official": _official,
    "flat": scan_flat,
    "kaggle": lambda s, c: scan_flat(s, c, source="kaggle"),
    "hf": scan_hf,
    "imagefolder": scan_imagefolder,
    "imagenetv2": scan_imagenetv2,
    **{
        kind: (lambda s, c, kind=kind: scan_shift(s, c, kind=kind))  # type: ignore[misc]
        for kind in SHIFT_SETS
    },
}
FORMATS = tuple(READERS)


def read_sources(sources: Sequence[Path], *, fmt: str | None, ctx: Context) -> Scan:
    """Read ``sources`` with the reader for ``fmt`` (detected when None)."""
    fmt = fmt or detect(sources)
    if fmt not in READERS:
        raise UsageError(f"unknown source format {fmt!r}; choose from {', '.join(READERS)}")
    return READERS[fmt](sources, ctx)
