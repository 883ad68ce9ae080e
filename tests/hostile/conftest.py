"""Session fixtures for the hostile-input table: sample archives and a real HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hostile_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 classes x 2 images in the official layout (read-only)."""
    from ilsvrc_bench.data import write_sample

    folder = tmp_path_factory.mktemp("hostile-sample")
    write_sample(folder, classes=10, per_class=2, seed=0)
    return folder


def _handler(files: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """``/ok/F`` serves F with its length; ``/nolen/F`` without a length, cut at half;
        ``/status/N/F`` answers HTTP N."""

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if parts[0] == "status":
                self.send_error(int(parts[1]))
                return
            target = files / parts[-1]
            if not target.is_file():
                self.send_error(404)
                return
            data = target.read_bytes()
            self.send_response(200)
            if parts[0] == "ok":
                self.send_header("Content-Length", str(len(data)))
            else:
                data = data[: len(data) // 2]
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

    return Handler


@pytest.fixture(scope="session")
def hostile_server(hostile_sample: Path) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hostile_sample))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
