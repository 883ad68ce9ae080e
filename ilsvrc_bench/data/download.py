"""``data download``: fetch the official archives with HTTP Range resume, retries and MD5 checks.

Bytes go to ``<name>.part``; a dropped connection or an interrupted run resumes from the part's
size with ``Range: bytes=N-``. The file is renamed to its real name only once its MD5 matches, so
a partial or damaged file is never mistaken for a complete one. Request headers (cookies,
tokens) are sent but never appear in messages.
"""

from __future__ import annotations

import errno
import http.client
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ilsvrc_bench import paths, serialize
from ilsvrc_bench.data.archives import CHUNK, file_md5
from ilsvrc_bench.data.dataset import Dataset
from ilsvrc_bench.data.scan import DEVKIT_TGZ, OFFICIAL_MD5, VAL_TAR
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.progress import NullProgress, Progress

DEFAULT_BASE_URL = "https://image-net.org/data/ILSVRC/2012/"
DOWNLOADS_DIR = "downloads"
AUTH_HELP = (
    "image-net.org serves ILSVRC2012 only to signed-in accounts: register at "
    "https://image-net.org/, then pass your session with --header 'Cookie: ...', use --mirror, "
    "or download the files by hand and run `ilsvrc-bench data prepare FILES`"
)
TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    """How many consecutive failures without progress to tolerate, and the back-off between."""

    retries: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    timeout_s: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))


def _request(url: str, headers: Mapping[str, str], offset: int) -> urllib.request.Request:
    request = urllib.request.Request(url, headers={"User-Agent": "ilsvrc-bench", **headers})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return request


def _total_from(response: http.client.HTTPResponse, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _write_error(part: Path, exc: OSError) -> DataError:
    what = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return DataError(f"{part}: cannot write ({what}); the partial file is kept, rerun to resume")


def _stream(
    url: str, part: Path, headers: Mapping[str, str], policy: RetryPolicy, tick: Callable[..., None]
) -> bool:
    """One request: append to ``part`` from its current size. True when the file is complete."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = urllib.request.urlopen(_request(url, headers, offset), timeout=policy.timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part already holds every byte
            content_range = exc.headers.get("Content-Range", "") if exc.headers else ""
            whole = content_range.rsplit("/", 1)[-1]
            tick(offset, int(whole) if whole.isdigit() else None, reset=True)
            return True
        if exc.code in (401, 403):
            raise DataError(f"{url}: HTTP {exc.code}; {AUTH_HELP}") from None
        if exc.code == 404:
            raise DataError(
                f"{url}: HTTP 404, no such file on this server (check --mirror)"
            ) from None
        raise
    with response:
        if offset and response.status != 206:  # the server ignored Range: start over
            offset = 0
        total = _total_from(response, offset)
        tick(offset, total, reset=True)
        try:
            with part.open("r+b" if offset else "wb") as out:
                out.seek(offset)
                out.truncate()
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    tick(len(chunk), total)
        except OSError as exc:
            if isinstance(exc, TRANSIENT):
                raise
            raise _write_error(part, exc) from exc
    size = part.stat().st_size
    if total is not None and size < total:
        raise ConnectionError(f"connection closed at {size} of {total} bytes")
    return True


def fetch(
    url: str,
    dest: Path,
    *,
    md5: str | None,
    headers: Mapping[str, str] | None = None,
    policy: RetryPolicy | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part``; rename only when ``md5`` matches.

    ``md5=None`` skips the check. A transient failure is retried with back-off; the failure
    count resets whenever a try made progress.
    """
    policy = policy or RetryPolicy()
    part = dest.with_name(dest.name + ".part")
    if dest.exists() and (md5 is None or file_md5(dest) == md5):
        return dest
    serialize.make_folder(dest.parent, error=DataError)
    report = progress or NullProgress()
    state = {"total": -1}

    def tick(advance: int, total: int | None, reset: bool = False) -> None:
        if reset:  # a new request: the count restarts at the bytes already on disk
            state["total"] = -1 if total is None else total
            report.start(f"download {dest.name}", total, advance, unit="bytes")
        else:
            report.advance(advance)

    failures = 0
    try:
        while True:
            before = part.stat().st_size if part.exists() else 0
            try:
                if _stream(url, part, headers or {}, policy, tick):
                    break
            except (*TRANSIENT, OSError) as exc:
                after = part.stat().st_size if part.exists() else 0
                failures = 1 if after > before else failures + 1
                if failures > policy.retries:
                    raise DataError(
                        f"{url}: download failed after {policy.retries} retries ({exc}); "
                        f"{part.name} is kept, rerun to resume"
                    ) from exc
                sleep(policy.delay(failures))
    finally:
        report.stop()
    if md5 is None:
        _check_length(url, part, dest, state["total"])
    else:
        actual = file_md5(part)
        if actual != md5:
            raise DataError(
                f"{part}: MD5 {actual} does not match {md5}; the download is damaged, "
                "delete the .part file to start over"
            )
    part.replace(dest)
    return dest


def _check_length(url: str, part: Path, dest: Path, total: int) -> None:
    """Without an MD5, only the length the server declared says the file is complete."""
    size = part.stat().st_size
    if total < 0:
        raise DataError(
            f"{url}: the server sent no length and no MD5 is checked (--no-verify), so "
            f"{dest.name} cannot be known complete; kept as {part.name} (give --md5 "
            f"{dest.name}=HEX, or drop --no-verify)"
        )
    if size != total:
        raise DataError(
            f"{part}: has {size:,} of the {total:,} bytes the server announced; kept as "
            f"{part.name}, rerun to resume"
        )


def download(
    *,
    root: str | os.PathLike[str] | None = None,
    base_url: str = DEFAULT_BASE_URL,
    headers: Mapping[str, str] | None = None,
    md5: Mapping[str, str] | None = None,
    verify: bool = True,
    name: str | None = None,
    policy: RetryPolicy | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Download the val tar and devkit into ``<root>/downloads`` and prepare them."""
    from ilsvrc_bench.data.prepare import prepare, root_lock

    target = paths.data_root(root) / DOWNLOADS_DIR
    expected = {**OFFICIAL_MD5, **(md5 or {})}
    files = []
    # Two downloads appending to the same .part file would corrupt it: hold the root's lock.
    with root_lock(paths.data_root(root)):
        for filename in (DEVKIT_TGZ, VAL_TAR):
            url = base_url.rstrip("/") + "/" + filename
            files.append(
                fetch(
                    url,
                    target / filename,
                    md5=expected[filename] if verify else None,
                    headers=headers,
                    policy=policy,
                    progress=progress,
                )
            )
    # prepare's single indexing pass checks the MD5 again at no extra read.
    return prepare(files, root=root, name=name, md5=expected, verify=verify, progress=progress)
