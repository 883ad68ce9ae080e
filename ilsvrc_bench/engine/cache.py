"""The preprocessed cache: a dataset's uint8 protocol views, decoded once, memory-mapped.

A cache holds exactly the uint8 views the decoding path makes (``loader.ImageViews``), so scoring
from it gives bit-identical results. It lives in the dataset's folder, one directory per key
(manifest SHA-256 + the preprocessing that shapes pixels + protocol + decoder)::

    <dataset>/cache/<digest[:16]>/
      plan.json     the key, shape and chunk size, written first
      views.u8      uint8 [N, V, 3, crop, crop] in manifest order, space reserved up front
      sha256.bin    32 bytes per image: SHA-256 of its views, checked on every read
      chunks.jsonl  one line per chunk made durable (data and hashes fsynced before the line)
      cache.json    written last, atomically: only a cache that has it is ever read

A writer killed at any point leaves ``cache.json`` absent, so the cache is not used; building
again resumes from the chunks listed in ``chunks.jsonl`` (a torn last line is ignored).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from ilsvrc_bench.engine import protocols
from ilsvrc_bench.engine.loader import DatasetLike, ImageViews, collate
from ilsvrc_bench.errors import DataError, RunError
from ilsvrc_bench.models.spec import Preprocessing

FORMAT_VERSION = 1
CHUNK_IMAGES = 64
CACHE_DIR = "cache"
PLAN, VIEWS, HASHES, CHUNKS, DONE = (
    "plan.json",
    "views.u8",
    "sha256.bin",
    "chunks.jsonl",
    "cache.json",
)
DIGEST_BYTES = 32


# Applied on the device after the cache, so models differing only here share one cache.
AFTER_CACHE = frozenset({"mean", "std", "color_order"})


@dataclass(frozen=True)
class CacheKey:
    """What the cached pixels depend on: the data, the protocol, the decoder and every
    preprocessing field that shapes pixels (all of them but mean, std and channel order)."""

    manifest_sha256: str
    protocol: str
    pixels: tuple[tuple[str, Any], ...]
    decoder: str = "cpu"

    @classmethod
    def of(
        cls, dataset: DatasetLike, prep: Preprocessing, protocol: str, decoder: str = "cpu"
    ) -> CacheKey:
        pixels = tuple((k, v) for k, v in asdict(prep).items() if k not in AFTER_CACHE)
        return cls(dataset.manifest_sha256, protocol, pixels, decoder)

    @property
    def crop_size(self) -> int:
        return int(dict(self.pixels)["crop_size"])

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "manifest_sha256": self.manifest_sha256,
            "protocol": self.protocol,
            "preprocessing": dict(self.pixels),
            "decoder": self.decoder,
        }

    @property
    def digest(self) -> str:
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CachePlan:
    """Where a cache for ``key`` goes and how big it is (known before anything is written)."""

    directory: Path
    key: CacheKey
    n_images: int
    n_views: int
    chunk_images: int = CHUNK_IMAGES

    @property
    def image_bytes(self) -> int:
        return self.n_views * 3 * self.key.crop_size * self.key.crop_size

    @property
    def size_bytes(self) -> int:
        return self.n_images * (self.image_bytes + DIGEST_BYTES)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_images // self.chunk_images)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key.to_json(),
            "digest": self.key.digest,
            "n_images": self.n_images,
            "n_views": self.n_views,
            "chunk_images": self.chunk_images,
            "size_bytes": self.size_bytes,
        }


def plan(
    dataset: DatasetLike,
    prep: Preprocessing,
    protocol: str,
    *,
    decoder: str = "cpu",
    chunk_images: int = CHUNK_IMAGES,
) -> CachePlan:
    key = CacheKey.of(dataset, prep, protocol, decoder)
    directory = Path(dataset.path) / CACHE_DIR / key.digest[:16]
    return CachePlan(directory, key, dataset.n_images, protocols.n_views(protocol), chunk_images)


def status(p: CachePlan) -> tuple[bool, int]:
    """(complete, images already written) for the cache ``p`` describes."""
    if _read_done(p) is not None:
        return True, p.n_images
    done = _done_chunks(p) if _same_plan(p) else {}
    return False, sum(_chunk_len(p, c) for c in done)


# Writing ------------------------------------------------------------------------------------


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

    if _read_done(p) is not None:
        return 0
    p.directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(p.directory / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunError(f"{p.directory}: another process is writing this cache") from None
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
    if not _same_plan(p):
        for name in (VIEWS, HASHES, CHUNKS, DONE):
            (p.directory / name).unlink(missing_ok=True)
        _atomic_write(p.directory / PLAN, p.to_json())
    done = _done_chunks(p)
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
    from torch.utils.data import DataLoader

    from ilsvrc_bench.engine.loader import worker_init

    sampler = [
        list(range(c * p.chunk_images, min((c + 1) * p.chunk_images, p.n_images))) for c in pending
    ]
    loader = DataLoader(
        ImageViews(dataset, records, prep, p.key.protocol),
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=worker_init if workers > 0 else None,
        prefetch_factor=2 if workers > 0 else None,
    )
    yield from zip(pending, loader, strict=True)


def _reserve(p: CachePlan, free_bytes: Callable[[Path], int]) -> None:
    """Make both files full size; refuse first when the disk cannot hold what is still needed."""
    have = sum(_size(p.directory / n) for n in (VIEWS, HASHES))
    need = p.size_bytes - have
    free = free_bytes(p.directory)
    if need > free:
        raise DataError(
            f"{p.directory}: the cache needs {_gib(need)} more and the disk has {_gib(free)} free; "
            "free some space or put the data root on a larger disk (--root)"
        )
    for name, size in ((VIEWS, p.n_images * p.image_bytes), (HASHES, p.n_images * DIGEST_BYTES)):
        path = p.directory / name
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
    done = _done_chunks(p)
    missing = [c for c in range(p.n_chunks) if c not in done]
    if missing:
        raise RunError(f"{p.directory}: chunks {missing[:5]} were not written")
    unreadable: dict[str, str] = {}
    for chunk_bad in done.values():
        unreadable.update(chunk_bad)
    _atomic_write(p.directory / DONE, {**p.to_json(), "unreadable": unreadable})


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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _atomic_write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _same_plan(p: CachePlan, *, any_chunking: bool = False) -> bool:
    """``plan.json`` describes ``p`` (``any_chunking``: whatever chunk size it was made with)."""
    found = _read_json(p.directory / PLAN)
    if found is None:
        return False
    if any_chunking:
        found = {**found, "chunk_images": p.chunk_images}
    return found == p.to_json()


def _done_chunks(p: CachePlan) -> dict[int, dict[str, str]]:
    """Chunks whose line reached ``chunks.jsonl``; a torn or foreign line is ignored."""
    done: dict[int, dict[str, str]] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in (p.directory / CHUNKS).read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                chunk, bad = int(row["chunk"]), dict(row["unreadable"])
            except (ValueError, KeyError, TypeError):
                continue
            if 0 <= chunk < p.n_chunks:
                done[chunk] = {str(k): str(v) for k, v in bad.items()}
    return done


def _chunk_len(p: CachePlan, chunk: int) -> int:
    return min(p.chunk_images, p.n_images - chunk * p.chunk_images)


def _read_done(p: CachePlan) -> dict[str, Any] | None:
    data = _read_json(p.directory / DONE)
    if data is None or data.get("digest") != p.key.digest or not _same_plan(p, any_chunking=True):
        return None
    return data


# Reading ------------------------------------------------------------------------------------


def open_complete(p: CachePlan) -> CachedViews | None:
    """The complete cache ``p`` describes, or None (absent, partial or for another key).

    A complete cache whose files have the wrong size was damaged after it was written:
    ``DataError`` (silently decoding instead would hide it).
    """
    done = _read_done(p)
    if done is None:
        return None
    for name, size in ((VIEWS, p.n_images * p.image_bytes), (HASHES, p.n_images * DIGEST_BYTES)):
        if _size(p.directory / name) != size:
            raise DataError(
                f"{p.directory / name}: cache file has the wrong size (damaged); delete "
                f"{p.directory} or build it again with `ilsvrc-bench data cache`"
            )
    return CachedViews(p, {int(k): str(v) for k, v in done.get("unreadable", {}).items()})


class CachedViews(TorchDataset[tuple[int, torch.Tensor, bool, str]]):
    """Views read from a complete cache, each checked against its SHA-256 as it is read.

    ``records`` is set by ``for_records``; the memory maps are opened lazily in each process.
    """

    def __init__(self, p: CachePlan, unreadable: dict[int, str]) -> None:
        self.plan = p
        self.unreadable = unreadable
        self.records: list[Any] = []
        self._views: np.memmap[Any, Any] | None = None
        self._hashes: np.memmap[Any, Any] | None = None

    def for_records(self, records: Sequence[Any]) -> CachedViews:
        out = CachedViews(self.plan, self.unreadable)
        out.records = list(records)
        return out

    def __len__(self) -> int:
        return len(self.records)

    def __getstate__(self) -> dict[str, Any]:
        # Workers map the files themselves.
        return {**self.__dict__, "_views": None, "_hashes": None}

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor, bool, str]:
        p = self.plan
        if self._views is None or self._hashes is None:
            c = p.key.crop_size
            shape = (p.n_images, p.n_views, 3, c, c)
            self._views = np.memmap(p.directory / VIEWS, np.uint8, "r", shape=shape)
            self._hashes = np.memmap(
                p.directory / HASHES, np.uint8, "r", shape=(p.n_images, DIGEST_BYTES)
            )
        index = int(self.records[i].index)
        views = np.array(self._views[index])
        if hashlib.sha256(views.tobytes()).digest() != self._hashes[index].tobytes():
            raise DataError(
                f"{p.directory / VIEWS}: image {index} does not match its SHA-256 (the cache is "
                f"damaged); delete {p.directory} or run `ilsvrc-bench data cache` again"
            )
        error = self.unreadable.get(index, "")
        return index, torch.from_numpy(views), not error, error
