"""Downloads against a real HTTP server on 127.0.0.1 with Range support and dropped connections."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ilsvrc_bench.data.download import RetryPolicy, download, fetch
from ilsvrc_bench.errors import DataError
from tests.recorded_progress import RecordedProgress

FAST = RetryPolicy(retries=3, backoff_s=0.0, timeout_s=5)


class Server:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.log: list[dict[str, str | None]] = []
        self.drop_after: dict[str, int] = {}  # path -> bytes sent before dropping (once)
        self.status: int | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                range_header = self.headers.get("Range")
                server.log.append(
                    {"path": self.path, "range": range_header, "cookie": self.headers.get("Cookie")}
                )
                if server.status:
                    self.send_error(server.status)
                    return
                name = self.path.rsplit("/", 1)[-1]
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                start = 0
                if range_header:
                    start = int(range_header.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                cut = server.drop_after.pop(name, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        return Handler


@pytest.fixture
def server() -> Iterator[tuple[Server, str]]:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), state.handler())
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/ILSVRC/2012/"
    httpd.shutdown()
    httpd.server_close()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_dropped_connection_resumes_with_range(server, tmp_path: Path) -> None:
    state, base = server
    data = bytes(range(256)) * 4000  # ~1 MB
    state.files["f.bin"] = data
    state.drop_after["f.bin"] = 300_000
    progress = RecordedProgress()
    dest = fetch(
        base + "f.bin",
        tmp_path / "f.bin",
        md5=md5(data),
        policy=FAST,
        sleep=lambda s: None,
        progress=progress,
    )
    assert dest.read_bytes() == data
    assert not (tmp_path / "f.bin.part").exists()
    assert [e["range"] for e in state.log] == [None, "bytes=300000-"]
    # the retry restarted the stage at the bytes on disk: every byte counted once
    assert progress.stages == ["download f.bin"] * 2 and progress.open is None
    assert progress.done["download f.bin"] == progress.totals["download f.bin"] == len(data)


def test_interrupted_run_resumes_from_part_file(server, tmp_path: Path) -> None:
    state, base = server
    data = b"abc" * 100_000
    state.files["f.bin"] = data
    (tmp_path / "f.bin.part").write_bytes(data[:12345])
    fetch(base + "f.bin", tmp_path / "f.bin", md5=md5(data), policy=FAST)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert state.log[0]["range"] == "bytes=12345-"


def test_wrong_md5_keeps_part_and_never_renames(server, tmp_path: Path) -> None:
    state, base = server
    state.files["f.bin"] = b"x" * 1000
    with pytest.raises(DataError, match=r"f\.bin\.part: MD5"):
        fetch(base + "f.bin", tmp_path / "f.bin", md5="0" * 32, policy=FAST)
    assert not (tmp_path / "f.bin").exists()
    assert (tmp_path / "f.bin.part").stat().st_size == 1000


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_explains_account_and_hides_header(server, tmp_path: Path, status) -> None:
    state, base = server
    state.status = status
    with pytest.raises(DataError) as exc:
        fetch(base + "f.bin", tmp_path / "f.bin", md5=None, headers={"Cookie": "secret=42"})
    assert "account" in str(exc.value) and "data prepare" in str(exc.value)
    assert "secret" not in str(exc.value)
    assert state.log[0]["cookie"] == "secret=42"


def test_gives_up_after_retries(server, tmp_path: Path) -> None:
    state, base = server
    state.status = 503
    delays: list[float] = []
    with pytest.raises(DataError, match="after 3 retries"):
        fetch(
            base + "f.bin",
            tmp_path / "f.bin",
            md5=None,
            policy=RetryPolicy(3, 0.5),
            sleep=delays.append,
        )
    assert delays == [0.5, 1.0, 2.0]


def test_disk_full_keeps_part(server, tmp_path: Path, monkeypatch) -> None:
    import errno

    state, base = server
    state.files["f.bin"] = b"y" * 5000
    real_open = Path.open

    class FullDisk:
        """A part file on a disk that fills up after 2000 bytes."""

        def __init__(self, handle) -> None:
            self.handle = handle

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def seek(self, offset: int) -> None:
            self.handle.seek(offset)

        def truncate(self) -> None:
            self.handle.truncate()

        def write(self, data: bytes) -> int:
            room = 2000 - self.handle.tell()
            if room < len(data):
                self.handle.write(data[: max(room, 0)])
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(data)

    def fake_open(self: Path, mode: str = "r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        return FullDisk(handle) if self.name.endswith(".part") and "b" in mode else handle

    monkeypatch.setattr(Path, "open", fake_open)
    with pytest.raises(DataError, match=r"disk full.*resume"):
        fetch(base + "f.bin", tmp_path / "f.bin", md5=None, policy=FAST)
    monkeypatch.undo()
    assert not (tmp_path / "f.bin").exists()
    assert (tmp_path / "f.bin.part").stat().st_size == 2000
    fetch(base + "f.bin", tmp_path / "f.bin", md5=md5(b"y" * 5000), policy=FAST)
    assert (tmp_path / "f.bin").read_bytes() == b"y" * 5000
    assert state.log[-1]["range"] == "bytes=2000-"


def test_download_then_prepare(server, sample_archives, tmp_path: Path) -> None:
    state, base = server
    val, devkit = sample_archives
    state.files = {val.name: val.read_bytes(), devkit.name: devkit.read_bytes()}
    state.drop_after[val.name] = 10_000
    sums = {val.name: md5(val.read_bytes()), devkit.name: md5(devkit.read_bytes())}
    ds = download(root=tmp_path / "r", base_url=base, md5=sums, policy=FAST)
    assert ds.n_images == 20
    assert (tmp_path / "r" / "downloads" / val.name).read_bytes() == val.read_bytes()
    assert any(e["range"] == "bytes=10000-" for e in state.log)


def test_download_cli_with_mirror_header_and_md5(server, sample_archives, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ilsvrc_bench.cli import main

    state, base = server
    val, devkit = sample_archives
    state.files = {val.name: val.read_bytes(), devkit.name: devkit.read_bytes()}
    args = ["data", "download", "--mirror", base, "--root", str(tmp_path / "r"),
            "--header", "Cookie: token=s3cret", "--retries", "1",
            "--md5", f"{val.name}={md5(val.read_bytes())}",
            "--md5", f"{devkit.name}={md5(devkit.read_bytes())}"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert {e["cookie"] for e in state.log} == {"token=s3cret"}
    state.status = 403
    (tmp_path / "r" / "downloads" / devkit.name).unlink()
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3
    assert "account" in result.output and "s3cret" not in result.output
