"""Reading tar archives safely: member checks, streaming index with hashes, safe extraction.

The val tar is uncompressed, so each image can be read in place at a known byte offset; one
streaming pass computes the archive's MD5 and every member's SHA-256 together.
"""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from ilsvrc_bench.errors import DataError

CHUNK = 1 << 20
# The devkit's meta.mat and ground truth are under 1 MB; its whole archive inflates to ~10 MB.
MAX_SMALL_MEMBER = 16 << 20
MAX_SMALL_ARCHIVE = 256 << 20
# What a damaged archive raises from tarfile, gzip or zlib.
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


def check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Refuse members that could escape an extraction target: links, absolute or ``..`` paths."""
    name = member.name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        problem = "an absolute path"
    elif ".." in parts:
        problem = "a '..' path"
    elif member.issym() or member.islnk():
        problem = f"a link to {member.linkname!r}"
    elif not (member.isfile() or member.isdir()):
        problem = "a special file"
    else:
        return
    raise DataError(f"{archive}: unsafe member {name!r} ({problem}); refusing the archive")


def damaged(archive: Path, exc: BaseException) -> DataError:
    """The error for a truncated or corrupt archive, naming the file."""
    # tarfile's "could not be opened" lists every method it tried, one per line
    lines = str(exc).strip().splitlines()
    detail = lines[0].rstrip(":") if lines else type(exc).__name__
    return DataError(f"{archive}: truncated or corrupt archive ({detail})")


class _HashingReader:
    """A read-only file wrapper that feeds every byte it returns to an MD5."""

    def __init__(self, raw: IO[bytes], progress: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.progress = progress
        self.unreported = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.md5.update(data)
        # tarfile reads 10 KB at a time; report progress per MiB, not per read.
        self.unreported += len(data)
        if self.progress is not None and (self.unreported >= CHUNK or not data):
            self.progress(self.unreported)
            self.unreported = 0
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


@dataclass(frozen=True)
class TarEntry:
    """One regular file in a tar: its name, where its bytes start, its size and SHA-256."""

    name: str
    offset: int
    size: int
    sha256: str
    head: bytes  # the first bytes, to spot files that are not JPEG without reading them again


@dataclass(frozen=True)
class TarIndex:
    entries: tuple[TarEntry, ...]
    md5: str
    size: int


def index_tar(archive: Path, *, progress: Callable[[int], None] | None = None) -> TarIndex:
    """Stream an uncompressed tar once: the MD5 of the whole file and each member's offset/hash."""
    entries: list[TarEntry] = []
    try:
        with archive.open("rb") as raw:
            reader = _HashingReader(raw, progress)
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    check_member(archive, member)
                    if not member.isfile():
                        continue
                    fobj = tar.extractfile(member)
                    assert fobj is not None
                    sha = hashlib.sha256()
                    head = b""
                    while chunk := fobj.read(CHUNK):
                        head = head or chunk[:16]
                        sha.update(chunk)
                    got = fobj.tell()
                    if got != member.size:
                        raise EOFError(f"member {member.name!r} has {got} of {member.size} bytes")
                    digest = sha.hexdigest()
                    entries.append(
                        TarEntry(member.name, member.offset_data, member.size, digest, head)
                    )
            reader.drain()
            size = raw.tell()
    except DataError:
        raise
    except ARCHIVE_ERRORS as exc:
        raise damaged(archive, exc) from exc
    return TarIndex(tuple(entries), reader.md5.hexdigest(), size)


def read_members(
    archive: Path,
    wanted: Callable[[str], bool],
    *,
    max_member: int = MAX_SMALL_MEMBER,
    max_total: int = MAX_SMALL_ARCHIVE,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, bytes)`` for the members ``wanted`` accepts; every member is checked.

    Meant for small archives (the devkit): a wanted member over ``max_member`` bytes, or
    members adding up to more than ``max_total`` once inflated, are refused from the tar
    headers, before their bytes are read, so a compression bomb never reaches memory.
    """
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            total = 0
            for member in tar:
                check_member(archive, member)
                total += member.size
                if total > max_total:
                    raise DataError(
                        f"{archive}: inflates to more than {max_total >> 20} MB (at member "
                        f"{member.name!r}); a devkit is a few MB, refusing the archive"
                    )
                if not (member.isfile() and wanted(member.name)):
                    continue
                if member.size > max_member:
                    raise DataError(
                        f"{archive}: member {member.name!r} inflates to {member.size:,} bytes; "
                        f"it can be at most {max_member:,}, refusing the archive"
                    )
                fobj = tar.extractfile(member)
                assert fobj is not None
                yield member.name, fobj.read()
    except DataError:
        raise
    except ARCHIVE_ERRORS as exc:
        raise damaged(archive, exc) from exc


def safe_extract(archive: Path, target: Path) -> list[Path]:
    """Extract ``archive`` into ``target`` after checking every member; returns the files."""
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            members = tar.getmembers()
            for member in members:
                check_member(archive, member)
            # The data filter is a second guard on Pythons that have it.
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, members=members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(target, members=members)
            written = [target / m.name for m in members if m.isfile()]
    except DataError:
        raise
    except tarfile.FilterError as exc:
        raise DataError(f"{archive}: unsafe member ({exc}); refusing the archive") from exc
    except ARCHIVE_ERRORS as exc:
        raise damaged(archive, exc) from exc
    return written


def file_md5(path: Path, *, progress: Callable[[int], None] | None = None) -> str:
    """The MD5 of a file, read in 1 MiB chunks."""
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as fobj:
            while chunk := fobj.read(CHUNK):
                md5.update(chunk)
                if progress is not None:
                    progress(len(chunk))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    return md5.hexdigest()


def file_sha256(path: Path) -> tuple[int, str, bytes]:
    """``(size, sha256, first bytes)`` of a file."""
    sha = hashlib.sha256()
    head = b""
    size = 0
    try:
        with path.open("rb") as fobj:
            while chunk := fobj.read(CHUNK):
                head = head or chunk[:16]
                size += len(chunk)
                sha.update(chunk)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    return size, sha.hexdigest(), head
