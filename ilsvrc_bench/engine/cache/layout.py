"""Where a cache lives and what it holds: the key, the plan, the file names, and the state on disk
(complete, which chunks are durable) as a reader or a resuming writer sees it."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ilsvrc_bench.engine import protocols
from ilsvrc_bench.engine.loader import DatasetLike
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
    def file_sizes(self) -> tuple[tuple[Path, int], ...]:
        """The two data files and the size each has once reserved: views, then hashes."""
        return (
            (self.directory / VIEWS, self.n_images * self.image_bytes),
            (self.directory / HASHES, self.n_images * DIGEST_BYTES),
        )

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
    if read_done(p) is not None:
        return True, p.n_images
    done = done_chunks(p) if same_plan(p) else {}
    return False, sum(chunk_len(p, c) for c in done)


# The state on disk ---------------------------------------------------------------------------


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def same_plan(p: CachePlan, *, any_chunking: bool = False) -> bool:
    """``plan.json`` describes ``p`` (``any_chunking``: whatever chunk size it was made with)."""
    found = read_json(p.directory / PLAN)
    if found is None:
        return False
    if any_chunking:
        found = {**found, "chunk_images": p.chunk_images}
    return found == p.to_json()


def done_chunks(p: CachePlan) -> dict[int, dict[str, str]]:
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


def chunk_len(p: CachePlan, chunk: int) -> int:
    return min(p.chunk_images, p.n_images - chunk * p.chunk_images)


def read_done(p: CachePlan) -> dict[str, Any] | None:
    data = read_json(p.directory / DONE)
    if data is None or data.get("digest") != p.key.digest or not same_plan(p, any_chunking=True):
        return None
    return data
