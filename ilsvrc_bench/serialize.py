"""Files as ilsvrc-bench writes them: JSON of plain types (NaN as null), written atomically.

:func:`atomic_writer` is the one writer of every file the tool produces (run records,
predictions, datasets' manifests, caches' plans, ``-o``, ``--junit``, ``--summary``), mostly
through :func:`atomic_write_bytes` and :func:`atomic_write_text`: a reader never sees half a
file, and an operating-system error becomes one of the tool's errors naming the file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from ilsvrc_bench.errors import IlsvrcBenchError, OutputError


def to_plain(value: Any) -> Any:
    """``value`` as JSON would give it back: tuples become lists, NaN becomes None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    """Stable, indented JSON text ending in a newline."""
    return json.dumps(to_plain(value), indent=2, default=_default) + "\n"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def make_folder(
    folder: Path, *, error: type[IlsvrcBenchError] = OutputError, writing: Path | None = None
) -> None:
    """Make ``folder`` and its missing parents. If that fails, ``error`` says ``cannot write
    <writing>`` (default: the folder) and why, naming a file that stands where a folder must."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        chain = [*reversed(folder.parents), folder]
        blocker = next((p for p in chain if p.exists() and not p.is_dir()), None)
        why = f"{blocker} is not a directory" if blocker else _reason(exc)
        raise error(f"cannot write {writing or folder}: {why}") from exc


def _in_place(path: Path) -> bool:
    """Whether ``path`` is a device or pipe (``/dev/null``, ``/dev/full``, ``/dev/stdout``, a
    FIFO) that a rename would replace instead of writing into."""
    if path.is_symlink() and str(path).startswith("/dev/"):  # /dev/stdout -> /proc/self/fd/1
        return True
    return path.exists() and not path.is_file()


@contextlib.contextmanager
def atomic_writer(
    path: Path,
    *,
    make_parents: bool = True,
    error: type[IlsvrcBenchError] = OutputError,
) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` only when the ``with`` block ends without an error.

    For files written in pieces (a table, an array) that need not be held in memory twice. The
    data goes to a temp file beside ``path``, which is fsynced, renamed over ``path``, and its
    directory fsynced. Missing parent folders are made when ``make_parents``. Any
    :class:`OSError` (disk full, permission, a folder in the way) raises ``error`` naming the
    file and the reason; on any failure the temp file is removed and ``path`` is untouched.
    """
    path = Path(path)
    if _in_place(path):
        try:
            with path.open("ab") as fh:  # a device or pipe: written into, never replaced
                yield fh
                fh.flush()
        except OSError as exc:
            raise error(f"cannot write {path}: {_reason(exc)}") from exc
        return
    if path.is_symlink():  # a link to a file: the file it names is written, the link kept
        path = path.resolve()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if make_parents:
            make_folder(path.parent, error=error, writing=path)
        with tmp.open("wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise error(f"cannot write {path}: {_reason(exc)}") from exc
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(
    path: Path,
    data: bytes,
    *,
    append: bool = False,
    make_parents: bool = True,
    error: type[IlsvrcBenchError] = OutputError,
) -> None:
    """Write ``data`` to ``path`` durably with :func:`atomic_writer` (same errors).

    ``append`` keeps what ``path`` already holds and adds ``data`` after it.
    """
    path = Path(path)
    with atomic_writer(path, make_parents=make_parents, error=error) as fh:
        if append and path.is_file() and not _in_place(path):
            fh.write(path.read_bytes())
        fh.write(data)


def atomic_write_text(
    path: Path,
    text: str,
    *,
    append: bool = False,
    make_parents: bool = True,
    error: type[IlsvrcBenchError] = OutputError,
) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(
        path, text.encode("utf-8"), append=append, make_parents=make_parents, error=error
    )


def check_writable(path: Path, *, error: type[IlsvrcBenchError] = OutputError) -> None:
    """Raise ``error`` naming ``path`` and the reason if a file could not be written there.

    Called before long work starts, so an unwritable ``-o`` fails in a second, not after an
    hour. Nothing is left behind: a probe file is made and removed in the target folder.
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"cannot write {path}: it is a directory")
    parent = path.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise error(f"cannot write {path}: {existing} is not a directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise error(f"cannot write {path}: permission denied")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise error(f"cannot write {path}: {existing} is not writable (permission denied)")
