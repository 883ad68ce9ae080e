"""A stand-in for the Hugging Face Hub on 127.0.0.1: the tree API and ``resolve`` downloads.

It serves one gated dataset repository. Requests must carry ``Authorization: Bearer
<token>``; without it the answer is 401 ``RepoNotFound``, with an account that has not accepted
the terms 403 ``GatedRepo``, as the Hub does. ``GET`` honours ``Range``; ``cut_after`` drops the
connection after that many bytes of a body once (to test resume).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

REPO = "ILSVRC/imagenet-1k"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Hub:
    files: dict[str, bytes]  # path in repo -> bytes
    token: str = "good-token"
    gated_tokens: set[str] = field(default_factory=set)
    lie_about: set[str] = field(default_factory=set)  # paths listed with a wrong sha256
    cut_after: int | None = None
    missing_once: set[str] = field(default_factory=set)  # answered 404 once, then served
    log: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Range

    def listing(self) -> list[dict[str, Any]]:
        out = []
        for path, data in sorted(self.files.items()):
            sha = hashlib.sha256(data).hexdigest()
            if path in self.lie_about:
                sha = "0" * 64
            out.append(
                {
                    "type": "file",
                    "path": path,
                    "size": len(data),
                    "oid": hashlib.sha1(data).hexdigest(),
                    "lfs": {"oid": sha, "size": len(data), "pointerSize": 134},
                }
            )
        return out


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _deny(self) -> bool:
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip() if auth else None
            if token in hub.gated_tokens:
                self._error(403, "GatedRepo", "Access to this dataset is restricted")
                return True
            if token != hub.token:
                self._error(401, "RepoNotFound", "Repository not found")
                return True
            return False

        def _error(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _route(self) -> tuple[str, str] | None:
            path = unquote(urlsplit(self.path).path)
            tree = f"/api/datasets/{REPO}/tree/main/data"
            resolve = f"/datasets/{REPO}/resolve/main/"
            if path.rstrip("/") == tree:
                return "tree", ""
            if path.startswith(resolve):
                return "file", path[len(resolve) :]
            return None

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            hub.log.append((self.command, self.path, self.headers.get("Range")))
            route = self._route()
            if route is None:
                self._error(404, "EntryNotFound", "not found")
                return
            if self._deny():
                return
            kind, name = route
            if kind == "tree":
                data = json.dumps(hub.listing()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if name in hub.missing_once:
                hub.missing_once.discard(name)
                self._error(404, "EntryNotFound", "Entry not found")
                return
            if name not in hub.files:
                self._error(404, "EntryNotFound", "Entry not found")
                return
            self._file(hub.files[name], body=body)

        def _file(self, data: bytes, *, body: bool) -> None:
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
            chunk = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Length", str(len(chunk)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if not body:
                return
            if hub.cut_after is not None and len(chunk) > hub.cut_after:
                self.wfile.write(chunk[: hub.cut_after])
                self.wfile.flush()
                hub.cut_after = None
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(chunk)

    return Handler


@contextmanager
def serve(hub: Hub) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
