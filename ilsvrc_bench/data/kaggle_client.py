"""The ``kaggle`` client (an optional extra) for ``data download --from kaggle``: signing in,
one competition file fetched through a checked ``.part``, and its errors as one line each.

A file gets its final name only once it is complete and checked (its size and, where the
storage announces one, its MD5 match what was announced; an image starts with the JPEG marker):
it is written to ``NAME.part``, flushed to disk and renamed. Credentials are the client's own
(``KAGGLE_API_TOKEN``, ``KAGGLE_USERNAME`` and ``KAGGLE_KEY``, ``~/.kaggle/kaggle.json``, ``kaggle
auth login``); they are sent, never printed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import io
import os
import re
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ilsvrc_bench import __version__
from ilsvrc_bench.errors import DataError, UsageError

COMPETITION = "imagenet-object-localization-challenge"
RULES_URL = f"https://www.kaggle.com/competitions/{COMPETITION}/rules"
PART = ".part"
INSTALL_HELP = "pip install 'ilsvrc-bench[kaggle]'"
MIN_KAGGLE = (2, 2, 5)
CREDENTIALS_HELP = (
    "create an API token at https://www.kaggle.com/settings/api and set KAGGLE_API_TOKEN (or "
    "save it to ~/.kaggle/access_token), or set KAGGLE_USERNAME and KAGGLE_KEY, or put "
    "kaggle.json in ~/.kaggle/"
)
RULES_HELP = f"accept the rules at {RULES_URL} while signed in with the account of your credentials"
# Retries of one file's transfer inside the client (exponential back-off: 2, 4, 8 s).
CLIENT_RETRIES = 3
# Seconds to connect, and to wait for the next bytes of an answer, before a retry.
TIMEOUT = (30.0, 120.0)
# Pauses before each retry of an API call that met a busy server or a lost connection; a
# Retry-After the server sends is honoured, up to MAX_WAIT.
BACKOFF = (2.0, 4.0, 8.0, 16.0)
MAX_WAIT = 60.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
        _check_version()
        # by module name: the package rebinds ``kaggle.api`` to a KaggleApi instance
        with contextlib.redirect_stdout(io.StringIO()):
            extended = importlib.import_module("kaggle.api.kaggle_api_extended")
            importlib.import_module("kagglesdk")
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


def _check_version() -> None:
    """The download calls and retries used here are those of kaggle 2.2.5 and later."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("kaggle")
    except PackageNotFoundError:
        return  # not installed: the import says so
    numbers = tuple(int(n) for n in re.findall(r"\d+", installed)[:3])
    if numbers < MIN_KAGGLE:
        raise DataError(
            f"--from kaggle needs kaggle {'.'.join(map(str, MIN_KAGGLE))} or newer, not "
            f"{installed}: {INSTALL_HELP} (or pip install -U kaggle)"
        )


def authenticate() -> Any:
    """A signed-in ``KaggleApi``; DataError saying how to get credentials when there are none."""
    api = _client_module().KaggleApi()
    # KaggleApi's own clients always talk to kaggle.com; checking an access token (a call to
    # Kaggle) then goes where the downloads go, $KAGGLE_API_ENVIRONMENT honoured, with a timeout
    api.build_kaggle_client = lambda: new_client(api)
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


def new_client(api: Any) -> Any:
    """A kagglesdk client with ``api``'s credentials; it honours ``$KAGGLE_API_ENVIRONMENT``."""
    from kagglesdk import KaggleClient

    _endpoint()  # an unknown environment is a usage error, not a traceback
    config = api.config_values
    client = KaggleClient(
        username=config.get(api.CONFIG_NAME_USER),
        password=config.get(api.CONFIG_NAME_KEY),
        api_token=config.get(api.CONFIG_NAME_TOKEN),
        user_agent=f"ilsvrc-bench/{__version__}",
    )
    client.__enter__()  # opens its HTTP session
    # The client sends its calls without a timeout: a server that stops answering would hang
    # the download for ever. Every request of this session gets one unless it names its own.
    for prefix in ("http://", "https://"):
        client.http_client()._session.mount(prefix, _timeout_adapter())
    return client


def _timeout_adapter() -> Any:
    from requests import PreparedRequest, Response
    from requests.adapters import HTTPAdapter

    class Adapter(HTTPAdapter):
        def send(  # noqa: PLR0917 - the signature of HTTPAdapter.send
            self,
            request: PreparedRequest,
            stream: bool = False,
            timeout: float | tuple[float | None, float | None] | None = None,
            verify: bool | str = True,
            cert: str | tuple[str, str] | None = None,
            proxies: dict[str, str] | None = None,
        ) -> Response:
            timeout = TIMEOUT if timeout is None else timeout
            return super().send(request, stream, timeout, verify, cert, proxies)

    return Adapter()


def _from_storage(exc: Any) -> bool:
    """Whether an HTTP error came from the signed storage URL rather than Kaggle's API."""
    return not str(exc.response.url or "").startswith(_endpoint())


def _kaggle_error(exc: BaseException, what: str, path: Path | None = None) -> DataError:
    """One line for what users meet: refused credentials, rules not accepted, no connection,
    a full disk (naming ``path``, the file being written)."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 401:
            return DataError(f"Kaggle refused the credentials (HTTP 401): {CREDENTIALS_HELP}")
        if status == 403 and _from_storage(exc):
            return DataError(
                f"Kaggle's storage refused the signed download URL of {what} (HTTP 403; it may "
                "have expired); rerun to resume"
            )
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


def _reject(path: Path, final: Path, problem: str | None) -> None:
    if problem is not None:
        path.unlink(missing_ok=True)
        raise Damaged(final, problem)


def _unwrap(zipped: Path, part: Path, final: Path) -> None:
    """Kaggle serves a large file as ``NAME.zip`` holding it: ``part`` gets the one member."""
    import shutil
    import zipfile

    try:
        with zipfile.ZipFile(zipped) as archive:
            members = archive.infolist()
            if len(members) != 1:
                _reject(zipped, final, f"the .zip Kaggle sent holds {len(members)} files, not 1")
            with archive.open(members[0]) as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        part.unlink(missing_ok=True)
        _reject(zipped, final, f"the .zip Kaggle sent cannot be read ({exc})")
    zipped.unlink()


def _finish(part: Path, final: Path, announced: Announced, *, image: bool) -> None:
    """Check ``part`` and give it its final name; a damaged file is deleted (Damaged)."""
    _reject(part, final, _problem(part, announced, image=image))
    with part.open("rb+") as fh:  # the name says "complete" only once the bytes are on disk
        os.fsync(fh.fileno())
    part.replace(final)


def _retry_after(exc: BaseException, attempt: int) -> float | None:
    """Seconds to wait before trying a call again, or None when retrying cannot help."""
    import requests

    if attempt >= len(BACKOFF):
        return None
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status not in RETRY_STATUSES and not (status == 403 and _from_storage(exc)):
            return None
        after = exc.response.headers.get("Retry-After", "")
        if after.isdigit():
            return min(float(after), MAX_WAIT)
    elif not isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return None
    return BACKOFF[attempt]


def _retried(call: Callable[[], Any], what: str) -> Any:
    """``call()``, again after a pause on rate limiting, a 5xx or a lost connection (the
    client does not retry its API calls, and 16 files at a time may meet Kaggle's limits)."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            wait = _retry_after(exc, attempt)
            if wait is None:
                raise _kaggle_error(exc, what) from None
        time.sleep(wait)
        attempt += 1


def _download(api: Any, client: Any, file_name: str, part: Path, final: Path) -> tuple[Any, bool]:
    """Fetch ``file_name`` into ``part``: what was announced, and whether it came zipped."""
    from kagglesdk.competitions.types.competition_api_service import ApiDownloadDataFileRequest

    request = ApiDownloadDataFileRequest()
    request.competition_name = COMPETITION
    request.file_name = file_name
    # answered with a redirect to a signed storage URL, which the client follows
    response = _retried(
        lambda: client.competitions.competition_api_client.download_data_file(request), file_name
    )
    zipped = response.url.split("?")[0].rsplit("/", 1)[-1] == f"{final.name}.zip"
    path = part.with_name(f"{final.name}.zip{PART}") if zipped else part
    try:
        api.download_file(
            response,
            str(path),
            client.http_client(),
            quiet=True,
            max_retries=CLIENT_RETRIES,
            timeout=TIMEOUT,
        )
    except ValueError as exc:  # the client's own size check (a JSON error is a RequestException)
        if isinstance(exc, OSError):
            raise _kaggle_error(exc, file_name, path) from None
        _reject(path, final, str(exc))
    except Exception as exc:
        raise _kaggle_error(exc, file_name, path) from None
    finally:
        response.close()
    return _announced(response.headers), zipped


def fetch_file(api: Any, client: Any, file_name: str, target: Path) -> Path:
    """Download one competition file to ``target/file_name`` through a checked ``.part``."""
    final = target / file_name
    part = final.with_name(final.name + PART)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _kaggle_error(exc, file_name, final.parent) from None
    announced, zipped = _download(api, client, file_name, part, final)
    image = file_name.endswith(".JPEG")
    try:
        if zipped:
            zipped_part = part.with_name(f"{final.name}.zip{PART}")
            _reject(zipped_part, final, _problem(zipped_part, announced, image=False))
            _unwrap(zipped_part, part, final)
            announced = Announced(None, None)  # size and MD5 were the archive's
        _finish(part, final, announced, image=image)
    except OSError as exc:
        raise _kaggle_error(exc, file_name, final) from None
    return final
