"""``data download --from kaggle``: ILSVRC2012 val from the Kaggle competition, then prepared.

The competition ``imagenet-object-localization-challenge`` publishes its files one by one (and
as one 155 GB archive of everything, train included). Val is fetched file by file through the
``kaggle`` client (an optional extra): ``LOC_synset_mapping.txt`` and ``LOC_val_solution.csv``
first, then every ``ILSVRC/Data/CLS-LOC/val/<ImageId>.JPEG`` the solution names, concurrently,
into ``<root>/downloads/kaggle/`` under the competition's own paths. That folder is then
prepared as ``data prepare --format kaggle`` would.

A file gets its final name only once it is complete and checked (its size and, where the
storage announces one, its MD5 match what was announced; an image starts with the JPEG
marker): it is written to ``NAME.part``, flushed to disk and renamed. A killed run leaves at
most ``.part`` files, which are never read; a rerun fetches only the files without their final
name. Credentials are the ``kaggle`` client's own (``KAGGLE_API_TOKEN``, ``KAGGLE_USERNAME`` and
``KAGGLE_KEY``, ``~/.kaggle/kaggle.json``, ``kaggle auth login``); they are sent, never printed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import io
import os
import queue
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ilsvrc_bench import __version__, paths
from ilsvrc_bench.data.dataset import Dataset
from ilsvrc_bench.data.folders import KAGGLE_SOLUTION, KAGGLE_VAL
from ilsvrc_bench.data.scan import Progress
from ilsvrc_bench.data.textfiles import read_text, rows
from ilsvrc_bench.errors import DataError, UsageError
from ilsvrc_bench.synsets import all_synsets

COMPETITION = "imagenet-object-localization-challenge"
RULES_URL = f"https://www.kaggle.com/competitions/{COMPETITION}/rules"
KAGGLE_DIR = "kaggle"
SYNSET_MAPPING = "LOC_synset_mapping.txt"
DEFAULT_JOBS = 16
PART = ".part"
IMAGE_ID_RE = re.compile(r"^ILSVRC2012_val_\d{8}$")
STAGE = "fetch val images from Kaggle"
INSTALL_HELP = "pip install 'ilsvrc-bench[kaggle]'"
CREDENTIALS_HELP = (
    "create an API token at https://www.kaggle.com/settings/api and set KAGGLE_API_TOKEN (or "
    "save it to ~/.kaggle/access_token), or set KAGGLE_USERNAME and KAGGLE_KEY, or put "
    "kaggle.json in ~/.kaggle/"
)
RULES_HELP = f"accept the rules at {RULES_URL} while signed in with the account of your credentials"
# Retries of one file's transfer inside the client (exponential back-off: 2, 4, 8 s).
CLIENT_RETRIES = 3


@dataclass(frozen=True)
class Announced:
    """What the server said about a file before sending it."""

    size: int | None
    md5: bytes | None  # from Google Cloud Storage's ``x-goog-hash: md5=...``


class Damaged(DataError):
    """A downloaded file that does not match what was announced (it has been deleted)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}; the file was deleted, rerun to fetch it again")
        self.path, self.problem = path, problem


# -- the client -------------------------------------------------------------------------------


def _client_module() -> Any:
    """``kaggle.api.kaggle_api_extended``; importing ``kaggle`` signs in and prints on failure."""
    try:
        # by module name: the package rebinds ``kaggle.api`` to a KaggleApi instance
        with contextlib.redirect_stdout(io.StringIO()):
            extended = importlib.import_module("kaggle.api.kaggle_api_extended")
    except ImportError as exc:
        needs = "" if sys.version_info >= (3, 11) else " (the kaggle client needs Python 3.11+)"
        raise DataError(
            f"--from kaggle needs the kaggle client ({exc.msg}): {INSTALL_HELP}{needs}"
        ) from None
    except OSError as exc:  # it makes its config folder when imported
        raise DataError(
            f"{exc.filename}: the kaggle client cannot start ({exc.strerror}); set "
            "KAGGLE_CONFIG_DIR to a folder you can write"
        ) from None
    return extended


def authenticate() -> Any:
    """A signed-in ``KaggleApi``; DataError saying how to get credentials when there are none."""
    api = _client_module().KaggleApi()
    try:
        # the client prints its own help and calls exit(1) when it finds no credentials
        with contextlib.redirect_stdout(io.StringIO()):
            api.authenticate()
    except SystemExit:
        raise DataError(
            f"no Kaggle credentials found (or the token was refused): {CREDENTIALS_HELP}"
        ) from None
    except Exception as exc:  # the client raises many kinds; all become one line
        raise _kaggle_error(exc, "the credentials") from None
    return api


def _endpoint() -> str:
    from kagglesdk.kaggle_env import get_endpoint, get_env

    try:
        return str(get_endpoint(get_env()))
    except Exception:  # kagglesdk raises a bare Exception for an unknown environment
        raise UsageError(
            f"KAGGLE_API_ENVIRONMENT={os.environ.get('KAGGLE_API_ENVIRONMENT')!r} is not an "
            "environment the kaggle client knows; unset it to use kaggle.com"
        ) from None


def _new_client(api: Any) -> Any:
    """A kagglesdk client with ``api``'s credentials; it honours ``$KAGGLE_API_ENVIRONMENT``."""
    from kagglesdk import KaggleClient

    _endpoint()  # an unknown environment is a usage error, not a traceback
    config = api.config_values
    return KaggleClient(
        username=config.get(api.CONFIG_NAME_USER),
        password=config.get(api.CONFIG_NAME_KEY),
        api_token=config.get(api.CONFIG_NAME_TOKEN),
        user_agent=f"ilsvrc-bench/{__version__}",
    )


def _kaggle_error(exc: BaseException, what: str, path: Path | None = None) -> DataError:
    """One line for what users meet: refused credentials, rules not accepted, no connection,
    a full disk (naming ``path``, the file being written)."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 401:
            return DataError(f"Kaggle refused the credentials (HTTP 401): {CREDENTIALS_HELP}")
        if status == 403:
            return DataError(f"{COMPETITION}: Kaggle refused {what} (HTTP 403): {RULES_HELP}")
        if status == 404:
            return DataError(f"{COMPETITION}: Kaggle has no {what} (HTTP 404)")
        return DataError(f"Kaggle answered HTTP {status} for {what}; rerun to resume")
    if isinstance(exc, OSError) and not isinstance(exc, requests.RequestException):
        return DataError(
            f"{exc.filename or path}: cannot write {what} ({exc.strerror or exc}); free space "
            "or choose another --root, then rerun to resume"
        )
    # no URL in the message: a signed download URL carries a signature
    return DataError(
        f"cannot reach Kaggle at {_endpoint()} for {what} ({type(exc).__name__}); check the "
        "connection and rerun to resume"
    )


# -- one file ---------------------------------------------------------------------------------


def _announced(headers: Any) -> Announced:
    size_text = headers.get("Content-Length") or headers.get("x-goog-stored-content-length")
    md5 = None
    for part in (headers.get("x-goog-hash") or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "md5":
            with contextlib.suppress(ValueError):
                md5 = base64.b64decode(value, validate=True)
    size = int(size_text) if size_text and size_text.isdigit() else None
    return Announced(size, md5)


def _problem(part: Path, announced: Announced, *, image: bool) -> str | None:
    """Why the file just written does not match what was announced, or None."""
    data = part.read_bytes()
    if announced.size is not None and len(data) != announced.size:
        return f"{len(data):,} bytes, but Kaggle announced {announced.size:,}"
    if announced.md5 is not None and hashlib.md5(data).digest() != announced.md5:
        return "its MD5 differs from the one Kaggle announced"
    if image and not data.startswith(b"\xff\xd8"):
        return "not a JPEG (no start-of-image marker)"
    return None


def _finish(part: Path, final: Path, announced: Announced, *, image: bool) -> None:
    """Check ``part`` and give it its final name; a damaged file is deleted (Damaged)."""
    problem = _problem(part, announced, image=image)
    if problem is not None:
        part.unlink(missing_ok=True)
        raise Damaged(final, problem)
    with part.open("rb+") as fh:  # the name says "complete" only once the bytes are on disk
        os.fsync(fh.fileno())
    part.replace(final)


def fetch_file(api: Any, client: Any, file_name: str, target: Path) -> Path:
    """Download one competition file to ``target/file_name`` through a checked ``.part``."""
    from kagglesdk.competitions.types.competition_api_service import ApiDownloadDataFileRequest

    final = target / file_name
    part = final.with_name(final.name + PART)
    request = ApiDownloadDataFileRequest()
    request.competition_name = COMPETITION
    request.file_name = file_name
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        # answered with a redirect to a signed storage URL, which the client follows
        response = client.competitions.competition_api_client.download_data_file(request)
        try:
            announced = _announced(response.headers)
            api.download_file(
                response, str(part), client.http_client(), quiet=True, max_retries=CLIENT_RETRIES
            )
        finally:
            response.close()
    except ValueError as exc:  # the client's own size check
        part.unlink(missing_ok=True)
        raise Damaged(final, str(exc)) from None
    except Exception as exc:
        raise _kaggle_error(exc, file_name, part) from None
    try:
        _finish(part, final, announced, image=file_name.endswith(".JPEG"))
    except OSError as exc:
        raise _kaggle_error(exc, file_name, final) from None
    return final


# -- the val set ------------------------------------------------------------------------------


def image_ids(solution: Path) -> list[str]:
    """The ImageIds ``LOC_val_solution.csv`` lists, checked (they become file names)."""
    found = rows(solution, read_text(solution, what="solution file"))
    if not found or found[0].fields[:2] != ("ImageId", "PredictionString"):
        raise DataError(f"{solution}: expected the header ImageId,PredictionString")
    ids = []
    for row in found[1:]:
        if not IMAGE_ID_RE.match(row.fields[0]):
            raise DataError(
                f"{solution}: line {row.line}: {row.fields[0][:60]!r} is not an ImageId "
                "(ILSVRC2012_val_ + 8 digits)"
            )
        ids.append(row.fields[0])
    if not ids:
        raise DataError(f"{solution}: lists no images")
    return sorted(set(ids))


def check_mapping(mapping: Path) -> None:
    """``LOC_synset_mapping.txt`` must list the 1000 wnids in sorted order (the class order)."""
    found = [row.text.split()[0] for row in rows(mapping, read_text(mapping, what="mapping"))]
    expected = [s.wnid for s in all_synsets()]
    if found != expected:
        first = next(
            (i for i, (a, b) in enumerate(zip(found, expected, strict=False)) if a != b),
            min(len(found), len(expected)),
        )
        raise DataError(
            f"{mapping}: does not list the 1000 ILSVRC2012 wnids in sorted order (line "
            f"{first + 1}); it is not this competition's file"
        )


def _fetch_all(
    fetch: Callable[[str], Path], names: Sequence[str], *, jobs: int, progress: Progress | None
) -> list[Damaged]:
    """Fetch ``names`` on ``jobs`` threads; the damaged are returned, the first other error
    stops the rest (what finished is kept)."""
    damaged: list[Damaged] = []
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="kaggle") as pool:
        pending: set[Future[Path]] = {pool.submit(fetch, name) for name in names}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    exc = future.exception()
                    if isinstance(exc, Damaged):
                        damaged.append(exc)
                    elif exc is not None:
                        raise exc
                    if progress is not None:
                        progress(STAGE, 1, len(names))
        finally:
            for future in pending:
                future.cancel()
    return damaged


def _writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: cannot create the download folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"{folder}: cannot write the download folder (permission denied)")


def _remove_parts(folder: Path) -> None:
    """``.part`` files a killed run left; never read, removed before fetching again."""
    if folder.is_dir():
        for part in folder.glob(f"*{PART}"):
            if part.is_file():  # anything else in the way fails its download, naming it
                part.unlink(missing_ok=True)


class Fetcher:
    """Fetches competition files into ``target`` on up to ``jobs`` threads (one client each).

    It signs in when first started, so a rerun with every file present needs no credentials.
    """

    def __init__(self, target: Path, jobs: int) -> None:
        self.target, self.jobs = target, jobs
        self._api: Any = None
        self._made: list[Any] = []
        self._idle: queue.Queue[Any] = queue.Queue()

    def start(self) -> None:
        if self._api is None:
            self._api = authenticate()
            self._made = [_new_client(self._api) for _ in range(self.jobs)]
            for client in self._made:
                self._idle.put(client)

    def __call__(self, file_name: str) -> Path:
        client = self._idle.get()
        try:
            return fetch_file(self._api, client, file_name, self.target)
        finally:
            self._idle.put(client)

    def close(self) -> None:
        for client in self._made:
            client.__exit__(None, None, None)


def _fetch_val(fetch: Fetcher, *, progress: Progress | None) -> None:
    """The two small files, then every val image the solution names that is not there yet."""
    target = fetch.target
    _remove_parts(target)
    _remove_parts(target / KAGGLE_VAL)
    for small in (SYNSET_MAPPING, KAGGLE_SOLUTION):
        if not (target / small).is_file():
            fetch.start()
            fetch(small)
    check_mapping(target / SYNSET_MAPPING)
    missing = [
        f"{KAGGLE_VAL.as_posix()}/{i}.JPEG"
        for i in image_ids(target / KAGGLE_SOLUTION)
        if not (target / KAGGLE_VAL / f"{i}.JPEG").is_file()
    ]
    if not missing:
        return
    fetch.start()
    damaged = _fetch_all(fetch, missing, jobs=fetch.jobs, progress=progress)
    if damaged:
        raise DataError(
            f"{len(damaged)} of {len(missing)} files did not match what Kaggle announced "
            f"and were deleted (first: {damaged[0].path}: {damaged[0].problem}); rerun to "
            "fetch them again"
        )


def download_kaggle(
    *,
    root: str | os.PathLike[str] | None = None,
    name: str | None = None,
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
) -> Dataset:
    """Download, check and prepare val from the Kaggle competition; the prepared dataset."""
    from ilsvrc_bench.data.prepare import prepare, root_lock

    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: give at least 1")
    root_dir = paths.data_root(root)
    target = root_dir / "downloads" / KAGGLE_DIR
    _writable(target)
    with root_lock(root_dir):
        fetch = Fetcher(target, jobs)
        try:
            _fetch_val(fetch, progress=progress)
        finally:
            fetch.close()
    return prepare([target], root=root, name=name, fmt="kaggle", progress=progress)
