"""Nothing is written outside the data root, the runs directory and ``$TORCH_HOME``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_weights_hash_cache_stays_in_torch_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ilsvrc_bench.models import weights as wts

    xdg_data = tmp_path / "xdg-data"
    monkeypatch.delenv("ILSVRC_BENCH_ROOT")
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg_data))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"not really weights")
    wts.sha256_file(weights)
    assert not xdg_data.exists() and not (tmp_path / "home").exists()
    assert any(Path(os.environ["TORCH_HOME"]).rglob("*.json"))


def _cli(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ilsvrc_bench", "-q", *args],
        stderr=subprocess.PIPE,
        check=False,
        timeout=120,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_stdout_on_a_full_disk_is_one_error_line_exit_5(fmt: str) -> None:
    if not Path("/dev/full").is_char_device():
        pytest.skip("no /dev/full here")
    with Path("/dev/full").open("wb") as full:
        done = _cli(["report", "--format", fmt], stdout=full)
    assert done.returncode == 5, done.stderr
    assert done.stderr.decode().strip() == "error: cannot write to stdout: No space left on device"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_stdout_closed_by_its_reader_is_exit_5_not_1(fmt: str) -> None:
    """``| head`` closing the pipe: exit 1 would read as "regression found" in ``check``."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = _cli(["report", "--format", fmt], stdout=write)
    finally:
        os.close(write)
    assert done.returncode == 5, done.stderr
    assert done.stderr.decode().strip() == "error: cannot write to stdout: Broken pipe"


def test_output_onto_a_device_writes_into_it_and_never_replaces_it(tmp_path: Path) -> None:
    """``-o`` naming a device (through a link, so a regression cannot replace a real one) is
    written in place: a full disk is exit 5, and the link and the device stay as they were."""
    if not Path("/dev/full").is_char_device():
        pytest.skip("no /dev/full here")
    link = tmp_path / "out.json"
    link.symlink_to("/dev/full")
    done = _cli(["report", "--format", "json", "-o", str(link)], stdout=subprocess.DEVNULL)
    assert done.returncode == 5, done.stderr
    assert "No space left on device" in done.stderr.decode()
    assert link.is_symlink() and Path("/dev/full").is_char_device()


def test_output_through_a_link_to_a_file_writes_the_file_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    from ilsvrc_bench import serialize

    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target.name)
    serialize.atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
