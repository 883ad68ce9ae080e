"""Building a cache: reserve the space, decode the pending chunks, make each durable, then
write ``cache.json`` last. A killed writer resumes from the chunks already listed."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ilsvrc_bench import serialize
from ilsvrc_bench.engine.cache.layout import (
    CHUNKS,
    DIGEST_BYTES,
    DONE,
    HASHES,
    PLAN,
    VIEWS,
    CachePlan,
    done_chunks,
    file_size,
    read_done,
    same_plan,
)
from ilsvrc_bench.engine.loader import DatasetLike, ImageViews, collate
from ilsvrc_bench.errors import DataError, RunError
from ilsvrc_bench.models.spec import Preprocessing


def build(
    dataset: DatasetLike,
    prep: Preprocessing,
    p: CachePlan,
    *,
    workers: int = 0,
    on_chunk: Callable[[int], None] = lambda n: None,
    free_bytes: Callable[[Path], int] | None = None,
) -> int:
    """Write the cache ``p`` describes, resuming a partial one; returns images decoded now.

    Refuses (``DataError``) before writing when the disk has less free space than the cache
    still needs. ``on_chunk(n)`` is called after each chunk of ``n`` images is durable.
    """
    from filelock import FileLock, Timeout

    if read_done(p) is not None and _damaged_chunks(p) == set():
        return 0
    serialize.make_folder(p.directory, error=DataError)
    lock = FileLock(str(p.directory / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunError(f"{p.directory}: another process is writing this cache") from None
    except OSError as exc:  # after Timeout, which is one
        raise DataError(f"cannot write {lock.lock_file}: {exc.strerror or exc}") from exc
    try:
        return _build_locked(
            dataset,
            prep,
            p,
            workers=workers,
            on_chunk=on_chunk,
            free_bytes=free_bytes or _free_bytes,
        )
    finally:
        lock.release()


def _build_locked(
    dataset: DatasetLike,
    prep: Preprocessing,
    p: CachePlan,
    *,
    workers: int,
    on_chunk: Callable[[int], None],
    free_bytes: Callable[[Path], int],
) -> int:
    if not same_plan(p):
        for name in (VIEWS, HASHES, CHUNKS, DONE):
            (p.directory / name).unlink(missing_ok=True)
        _write_json(p.directory / PLAN, p.to_json())
    if (p.directory / DONE).exists():  # complete once, since damaged: redo what no longer matches
        _forget_damaged(p)
    done = done_chunks(p)
    _drop_torn_line(p.directory / CHUNKS)
    _reserve(p, free_bytes)
    pending = [c for c in range(p.n_chunks) if c not in done]
    records = sorted(dataset.records, key=lambda r: r.index)
    if [r.index for r in records] != list(range(p.n_images)):
        raise DataError(f"{dataset.path}: manifest indices are not 0..{p.n_images - 1}")
    views_fd = os.open(p.directory / VIEWS, os.O_RDWR)
    hashes_fd = os.open(p.directory / HASHES, os.O_RDWR)
    written = 0
    try:
        with (p.directory / CHUNKS).open("a", encoding="utf-8") as log:
            for chunk, batch in _decode_chunks(
                dataset, records, prep, p, pending=pending, workers=workers
            ):
                images = batch.images.numpy()
                digests = b"".join(hashlib.sha256(v.tobytes()).digest() for v in images)
                first = int(batch.index[0])
                _pwrite(views_fd, images.tobytes(), first * p.image_bytes, p)
                _pwrite(hashes_fd, digests, first * DIGEST_BYTES, p)
                os.fsync(views_fd)
                os.fsync(hashes_fd)
                bad = {
                    str(int(i)): e
                    for i, e, ok in zip(batch.index, batch.errors, batch.readable, strict=True)
                    if not ok
                }
                log.write(json.dumps({"chunk": chunk, "unreadable": bad}) + "\n")
                log.flush()
                os.fsync(log.fileno())
                written += len(batch)
                on_chunk(len(batch))
    finally:
        os.close(views_fd)
        os.close(hashes_fd)
    _finish(p)
    return written


def _decode_chunks(
    dataset: DatasetLike,
    records: Sequence[Any],
    prep: Preprocessing,
    p: CachePlan,
    *,
    pending: Sequence[int],
    workers: int,
) -> Iterator[tuple[int, Any]]:
    from ilsvrc_bench.engine.loader import worker_loader

    sampler = [
        list(range(c * p.chunk_images, min((c + 1) * p.chunk_images, p.n_images))) for c in pending
    ]
    loader = worker_loader(
        ImageViews(dataset, records, prep, p.key.protocol),
        workers=workers,
        prefetch=2,
        batch_sampler=sampler,
        collate_fn=collate,
    )
    yield from zip(pending, loader, strict=True)


def _reserve(p: CachePlan, free_bytes: Callable[[Path], int]) -> None:
    """Make both files full size; refuse first when the disk cannot hold what is still needed."""
    have = sum(file_size(path) for path, _ in p.file_sizes)
    need = p.size_bytes - have
    free = free_bytes(p.directory)
    if need > free:
        raise DataError(
            f"{p.directory}: the cache needs {_gib(need)} more and the disk has {_gib(free)} free; "
            "free some space or put the data root on a larger disk (--root)"
        )
    for path, size in p.file_sizes:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, size)
            else:  # pragma: no cover - macOS/Windows
                os.ftruncate(fd, size)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DataError(f"{path}: no space left on the disk for the cache") from exc
            raise DataError(f"{path}: cannot reserve the cache file ({exc.strerror})") from exc
        finally:
            os.close(fd)


def _pwrite(fd: int, data: bytes, offset: int, p: CachePlan) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.pwrite(fd, view, offset)
        except OSError as exc:
            raise DataError(f"{p.directory}: cannot write the cache ({exc.strerror})") from exc
        view, offset = view[n:], offset + n


def _finish(p: CachePlan) -> None:
    done = done_chunks(p)
    missing = [c for c in range(p.n_chunks) if c not in done]
    if missing:
        raise RunError(f"{p.directory}: chunks {missing[:5]} were not written")
    unreadable: dict[str, str] = {}
    for chunk_bad in done.values():
        unreadable.update(chunk_bad)
    _write_json(p.directory / DONE, {**p.to_json(), "unreadable": unreadable})


def _damaged_chunks(p: CachePlan) -> set[int] | None:
    """Chunks holding an image whose views no longer match their SHA-256; None when a file has
    the wrong size (all of it is suspect). Reads the whole cache once."""
    if any(file_size(path) != size for path, size in p.file_sizes):
        return None
    damaged: set[int] = set()
    with (p.directory / VIEWS).open("rb") as views, (p.directory / HASHES).open("rb") as hashes:
        for i in range(p.n_images):
            if hashlib.sha256(views.read(p.image_bytes)).digest() != hashes.read(DIGEST_BYTES):
                damaged.add(i // p.chunk_images)
    return damaged


def _forget_damaged(p: CachePlan) -> None:
    """Un-finish a damaged cache: drop ``cache.json`` and the damaged chunks' log lines (every
    file when the sizes are wrong), so the build below decodes those chunks again."""
    damaged = _damaged_chunks(p)
    (p.directory / DONE).unlink()
    if damaged is None:
        for name in (VIEWS, HASHES, CHUNKS):
            (p.directory / name).unlink(missing_ok=True)
        return
    kept = [
        json.dumps({"chunk": c, "unreadable": bad}) + "\n"
        for c, bad in sorted(done_chunks(p).items())
        if c not in damaged
    ]
    serialize.atomic_write_text(p.directory / CHUNKS, "".join(kept), error=DataError)


def _drop_torn_line(log: Path) -> None:
    """Cut a last line left unfinished by a killed writer, so the next line starts clean."""
    with contextlib.suppress(FileNotFoundError), log.open("r+b") as fh:
        text = fh.read()
        if text and not text.endswith(b"\n"):
            fh.truncate(text.rfind(b"\n") + 1)


def _free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    serialize.atomic_write_text(path, serialize.dumps(data), error=DataError)
