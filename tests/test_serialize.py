"""serialize: the one atomic writer; a reader never sees half a file, errors name the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ilsvrc_bench import serialize
from ilsvrc_bench.errors import DataError, ModelError, RunError


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_streamed_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    with serialize.atomic_writer(target) as fh:
        for i in range(4):
            fh.write(bytes([i]) * 1000)
            assert not target.exists()  # nothing under the real name until the block ends
    assert target.read_bytes() == b"".join(bytes([i]) * 1000 for i in range(4))
    with pytest.raises(ValueError, match="half-way"), serialize.atomic_writer(target) as fh:
        fh.write(b"new")
        raise ValueError("half-way")
    assert target.read_bytes()[:1000] == b"\0" * 1000  # the old file, untouched
    assert _entries(tmp_path) == ["big.bin"]  # no temp file left


def test_an_os_error_becomes_the_error_class_asked_for_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(RunError, match=r"^cannot write .*/dir\.json: "):
        serialize.atomic_write_text(tmp_path / "dir.json", "{}", error=RunError)
    with (
        pytest.raises(DataError, match=r"cannot write .*/x\.bin: disk on fire"),
        serialize.atomic_writer(tmp_path / "x.bin", error=DataError),
    ):
        raise OSError(28, "disk on fire")
    assert _entries(tmp_path) == ["dir.json"]


def test_append_keeps_what_the_file_held(tmp_path: Path) -> None:
    target = tmp_path / "log.txt"
    serialize.atomic_write_text(target, "a\n", append=True)
    serialize.atomic_write_text(target, "b\n", append=True)
    assert target.read_text() == "a\nb\n"


def test_the_weights_hash_is_still_given_when_its_cache_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ilsvrc_bench.models import weights

    blocker = tmp_path / "torch"
    blocker.write_text("a file where $TORCH_HOME's folder must be")
    monkeypatch.setenv("TORCH_HOME", str(blocker))
    file = tmp_path / "w.pt"
    file.write_bytes(b"weights")
    assert weights.sha256_file(file) == hashlib.sha256(b"weights").hexdigest()
    with pytest.raises(ModelError, match="cannot read weights file"):
        weights.sha256_file(tmp_path / "missing.pt")
    assert blocker.is_file()  # left as it was
