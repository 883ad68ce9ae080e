"""The remembered SHA-256 of a weights file: used while the file is the same, never after."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from ilsvrc_bench.models import weights as wts


def _weights(tmp_path: Path, body: bytes) -> Path:
    path = tmp_path / "model.pth"
    path.write_bytes(body)
    return path


def _plant(path: Path, sha: str) -> None:
    """Put ``sha`` in the cache entry of ``path``, keeping its stamp: a hit returns it."""
    cache = wts._sha256_cache_file(path.resolve())
    entry = json.loads(cache.read_text(encoding="utf-8"))
    cache.write_text(json.dumps({**entry, "sha256": sha}), encoding="utf-8")


def test_second_hash_of_an_unchanged_file_comes_from_the_cache(tmp_path: Path) -> None:
    path = _weights(tmp_path, b"a" * 4096)
    assert wts.sha256_file(path) == hashlib.sha256(b"a" * 4096).hexdigest()
    _plant(path, "0" * 64)
    assert wts.sha256_file(path) == "0" * 64


def test_rewritten_in_place_with_same_size_and_mtime_is_hashed_again(tmp_path: Path) -> None:
    path = _weights(tmp_path, b"a" * 4096)
    wts.sha256_file(path)
    _plant(path, "0" * 64)
    before = path.stat()
    time.sleep(0.05)  # past the file system's timestamp granularity
    path.write_bytes(b"b" * 4096)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # what cp -p / rsync -a keep
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert path.stat().st_size == before.st_size
    assert wts.sha256_file(path) == hashlib.sha256(b"b" * 4096).hexdigest()


def test_replaced_by_another_file_with_same_size_and_mtime_is_hashed_again(
    tmp_path: Path,
) -> None:
    path = _weights(tmp_path, b"a" * 4096)
    wts.sha256_file(path)
    _plant(path, "0" * 64)
    before = path.stat()
    other = tmp_path / "other.pth"
    other.write_bytes(b"c" * 4096)
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    other.replace(path)  # a new inode under the same name
    assert wts.sha256_file(path) == hashlib.sha256(b"c" * 4096).hexdigest()


def test_entry_of_an_older_format_is_not_trusted(tmp_path: Path) -> None:
    # An entry written before inode and ctime were part of the stamp is recomputed.
    path = _weights(tmp_path, b"d" * 4096)
    wts.sha256_file(path)
    cache = wts._sha256_cache_file(path.resolve())
    stat = path.stat()
    old = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    cache.write_text(json.dumps({**old, "sha256": "0" * 64}), encoding="utf-8")
    assert wts.sha256_file(path) == hashlib.sha256(b"d" * 4096).hexdigest()
