"""A stand-in for Kaggle's API on port 7777, where the kaggle client's test environment points.

``KAGGLE_API_ENVIRONMENT=TEST`` sends the client to ``http://localhost:7777``; requests are
``POST /api/v1/{service}/{method}`` with a JSON body. ``DownloadDataFile`` is answered as
Kaggle does: a 302 redirect to a signed storage URL (here ``/storage/<path>?sig=...`` on
127.0.0.1), which the client then GETs; that answer carries the size, an ETag and Google Cloud
Storage's ``x-goog-hash`` MD5, and honours ``Range``. Credentials are HTTP Basic
``username:key`` or an access token (``Bearer``, checked by ``IntrospectToken``); a wrong key
gets 401, a user who has not accepted the rules 403 with Kaggle's
JSON error body, a missing file 404.

The port is fixed, so one server runs at a time on this machine: ``serve`` holds a file lock
across processes (pytest-xdist workers) and skips when something else holds the port.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import io
import json
import socket
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from ilsvrc_bench.synsets import all_synsets

PORT = 7777
COMPETITION = "imagenet-object-localization-challenge"
DOWNLOAD = "/api/v1/competitions.CompetitionApiService/DownloadDataFile"
INTROSPECT = "/api/v1/security.OAuthService/IntrospectToken"
SECRET = b"storage-signing-key"
LOCK = Path(tempfile.gettempdir()) / "ilsvrc-bench-fake-kaggle-7777.lock"
VAL = "ILSVRC/Data/CLS-LOC/val"
WNIDS = [s.wnid for s in all_synsets()]


@dataclass
class Kaggle:
    files: dict[str, bytes]  # competition path -> bytes
    users: dict[str, str] = field(default_factory=lambda: {"alice": "alice-key"})
    tokens: dict[str, str] = field(default_factory=lambda: {"alice-token": "alice"})
    rules_not_accepted: set[str] = field(default_factory=set)  # usernames
    fail_once: set[str] = field(default_factory=set)  # DownloadDataFile answers 500 once
    busy_once: set[str] = field(default_factory=set)  # ... 429 with Retry-After once
    expired_once: set[str] = field(default_factory=set)  # the signed URL answers 403 once
    corrupt: set[str] = field(default_factory=set)  # served with a flipped byte, true MD5
    short: set[str] = field(default_factory=set)  # chunked, no Content-Length, a byte short
    cut_once: set[str] = field(default_factory=set)  # connection dropped midway once
    stall: set[str] = field(default_factory=set)  # half sent, then the server waits
    zipped: set[str] = field(default_factory=set)  # served as NAME.zip holding the file
    latency: float = 0.0  # seconds before each answer (a network's round trip)
    log: list[tuple[str, str]] = field(default_factory=list)  # (POST|GET, competition path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fetched(self, method: str = "GET") -> list[str]:
        with self.lock:
            return [path for m, path in self.log if m == method]

    def record(self, method: str, path: str) -> None:
        with self.lock:
            self.log.append((method, path))


def competition(images: list[tuple[bytes, str]]) -> dict[str, bytes]:
    """The competition's files for ``images`` ((JPEG bytes, wnid) each, val numbers 1..n)."""
    files = {"LOC_synset_mapping.txt": "".join(f"{w} class {w}\n" for w in WNIDS).encode()}
    lines = ["ImageId,PredictionString"]
    for i, (data, wnid) in enumerate(images, start=1):
        image_id = f"ILSVRC2012_val_{i:08d}"
        lines.append(f"{image_id},{wnid} 10 12 40 38 {wnid} 1 2 30 30 ")
        files[f"{VAL}/{image_id}.JPEG"] = data
    files["LOC_val_solution.csv"] = ("\n".join(lines) + "\n").encode()
    files["LOC_train_solution.csv"] = b"not fetched"
    return files


def _zip(name: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name.rsplit("/", 1)[-1], files[name])
    return buf.getvalue()


def _sign(path: str) -> str:
    return hmac.new(SECRET, path.encode(), hashlib.sha256).hexdigest()


def _handler(kaggle: Kaggle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json_error(self, status: int, message: str) -> None:
            body = json.dumps({"code": status, "message": message}).encode()
            self._reply(status, body, {"Content-Type": "application/json"})

        def _user(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                return kaggle.tokens.get(auth[7:])
            if not auth.startswith("Basic "):
                return None
            user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
            return user if kaggle.users.get(user) == key else None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(kaggle.latency)
            if urlsplit(self.path).path == INTROSPECT:
                user = kaggle.tokens.get(json.loads(body or b"{}").get("token", ""))
                answer = {"active": True, "username": user} if user else {"active": False}
                self._reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
                return
            if urlsplit(self.path).path != DOWNLOAD:
                self._json_error(404, "Not found")
                return
            user = self._user()
            if user is None:
                self._json_error(401, "Unauthenticated")
                return
            request = json.loads(body or b"{}")
            name = request.get("fileName", "")
            kaggle.record("POST", name)
            if request.get("competitionName") != COMPETITION:
                self._json_error(404, "Competition not found")
            elif user in kaggle.rules_not_accepted:
                self._json_error(
                    403,
                    "You must accept this competition's rules before you'll be able to "
                    "download files.",
                )
            elif name in kaggle.fail_once:
                kaggle.fail_once.discard(name)
                self._json_error(500, "Internal error")
            elif name in kaggle.busy_once:
                kaggle.busy_once.discard(name)
                body = json.dumps({"code": 429, "message": "Too many requests"}).encode()
                self._reply(429, body, {"Content-Type": "application/json", "Retry-After": "7"})
            elif name not in kaggle.files:
                self._json_error(404, "Not found")
            else:
                stored = f"{name}.zip" if name in kaggle.zipped else name
                url = f"http://127.0.0.1:{PORT}/storage/{stored}?sig={_sign(stored)}"
                self._reply(302, b"", {"Location": url})

        def do_GET(self) -> None:
            time.sleep(kaggle.latency)
            parts = urlsplit(self.path)
            name = unquote(parts.path.removeprefix("/storage/"))
            sig = parse_qs(parts.query).get("sig", [""])[0]
            if not parts.path.startswith("/storage/") or not hmac.compare_digest(sig, _sign(name)):
                self._reply(403, b"<Error>SignatureDoesNotMatch</Error>")
                return
            kaggle.record("GET", name)
            if name in kaggle.expired_once:
                kaggle.expired_once.discard(name)
                self._reply(403, b"<Error><Code>ExpiredToken</Code></Error>")
                return
            if name.removesuffix(".zip") in kaggle.zipped:
                self._object(name, _zip(name.removesuffix(".zip"), kaggle.files))
            else:
                self._object(name, kaggle.files[name])

        def _object(self, name: str, data: bytes) -> None:
            md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
            headers = {
                "ETag": f'"{hashlib.md5(data).hexdigest()}"',
                "x-goog-hash": f"crc32c=AAAAAA==,md5={md5}",
                "x-goog-stored-content-length": str(len(data)),
                "Accept-Ranges": "bytes",
            }
            if name in kaggle.short:
                self._chunked(data[:-1], headers)
                return
            if name in kaggle.corrupt:
                data = bytes([data[0], data[1], data[2] ^ 0xFF]) + data[3:]
            start = 0
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            body = data[start:]
            self.send_response(206 if start else 200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if name in kaggle.cut_once or name in kaggle.stall:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                while name in kaggle.stall:
                    time.sleep(0.05)
                kaggle.cut_once.discard(name)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

        def _chunked(self, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")

    return Handler


def _bind(kaggle: Kaggle) -> list[ThreadingHTTPServer]:
    """Servers on 127.0.0.1:7777 and, where the machine has IPv6, [::1]:7777 ("localhost" may
    resolve to either first)."""

    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    servers = [ThreadingHTTPServer(("127.0.0.1", PORT), _handler(kaggle))]
    try:
        servers.append(Server6(("::1", PORT), _handler(kaggle)))
    except OSError as exc:  # no IPv6 here: the client can only reach 127.0.0.1
        if exc.errno == errno.EADDRINUSE:
            servers[0].server_close()
            raise
    return servers


@contextmanager
def serve(kaggle: Kaggle) -> Iterator[str]:
    """Run the stand-in on port 7777 (one at a time across processes); yields its URL."""
    from filelock import FileLock

    with FileLock(LOCK):
        try:
            servers = _bind(kaggle)
        except OSError as exc:
            pytest.skip(f"port {PORT} is held by another program ({exc.strerror})")
        threads = [
            threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in servers
        ]
        for thread in threads:
            thread.start()
        try:
            yield f"http://localhost:{PORT}"
        finally:
            kaggle.stall.clear()
            for server in servers:
                server.shutdown()
                server.server_close()
