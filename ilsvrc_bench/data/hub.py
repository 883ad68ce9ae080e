"""``data download --from hf``: ILSVRC2012 val from the Hugging Face Hub, then prepared.

The gated dataset ``ILSVRC/imagenet-1k`` holds val as parquet shards
``data/validation-NNNNN-of-MMMMM.parquet`` (image bytes + sorted-wnid ``label``). They are
fetched with ``huggingface_hub`` (a dependency of timm) into ``<root>/downloads/hf``; it resumes
an interrupted file from its ``.incomplete`` part. Each shard is then checked against the SHA-256
and size the Hub lists for it (a damaged file is deleted, never prepared), the shard set must be
complete (every ``NNNNN`` below ``MMMMM``), and the shards are prepared in one step.

The endpoint is ``$HF_ENDPOINT`` (read at call time), else the public Hub; the token is
``--token``, else ``$HF_TOKEN`` or the one ``hf auth login`` stored.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ilsvrc_bench import paths
from ilsvrc_bench.data.archives import file_sha256
from ilsvrc_bench.data.dataset import Dataset
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.progress import Progress, stage

HF_REPO = "ILSVRC/imagenet-1k"
HF_DIR = "hf"
SHARD_RE = re.compile(r"^data/validation-(\d{5})-of-(\d{5})\.parquet$")
TOKEN_HELP = (
    "set HF_TOKEN, run `hf auth login`, or pass --token (a read token from "
    "https://huggingface.co/settings/tokens)"
)
TERMS_HELP = (
    f"accept the dataset's terms at https://huggingface.co/datasets/{HF_REPO} while signed in "
    "with the account of your token"
)


@dataclass(frozen=True)
class Shard:
    path: str  # path in the repository
    size: int
    sha256: str | None  # of the file (LFS oid), when the Hub lists one


def _endpoint(endpoint: str | None) -> str | None:
    return endpoint or os.environ.get("HF_ENDPOINT") or None


def _hub_error(exc: Exception, *, token: str | None) -> DataError:
    """One line for the errors users meet: no token, terms not accepted, hub unreachable."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    if isinstance(exc, GatedRepoError):
        return DataError(f"{HF_REPO} is gated and this account has no access: {TERMS_HELP}")
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, RepositoryNotFoundError) or status in (401, 403):
        if token is None and not _stored_token():
            return DataError(f"{HF_REPO} needs a Hugging Face token: {TOKEN_HELP}")
        return DataError(
            f"{HF_REPO}: the Hub refused the token (HTTP {status}); check it is valid and "
            f"{TERMS_HELP}"
        )
    if isinstance(exc, HfHubHTTPError):
        return DataError(f"{HF_REPO}: the Hub answered HTTP {status}; try again later")
    return DataError(f"cannot reach the Hugging Face Hub for {HF_REPO} ({exc}); rerun to resume")


def _stored_token() -> bool:
    from huggingface_hub import get_token

    return get_token() is not None


def list_shards(*, token: str | None, endpoint: str | None, revision: str) -> list[Shard]:
    """The validation shards the Hub lists; DataError if none or the set is incomplete."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=_endpoint(endpoint), token=token)
    try:
        tree = list(
            api.list_repo_tree(HF_REPO, path_in_repo="data", repo_type="dataset", revision=revision)
        )
    except Exception as exc:  # the hub client raises many kinds; all become one line
        raise _hub_error(exc, token=token) from exc
    shards = [
        Shard(f.path, f.size, f.lfs.sha256 if f.lfs else None)
        for f in tree
        if isinstance(f, RepoFile) and SHARD_RE.match(f.path)
    ]
    if not shards:
        raise DataError(f"{HF_REPO}@{revision}: no data/validation-*.parquet shards listed")
    numbers = sorted(int(SHARD_RE.match(s.path).group(1)) for s in shards)  # type: ignore[union-attr]
    total = {int(SHARD_RE.match(s.path).group(2)) for s in shards}  # type: ignore[union-attr]
    if len(total) != 1 or numbers != list(range(next(iter(total)))):
        raise DataError(
            f"{HF_REPO}@{revision}: the validation shards listed are incomplete "
            f"({len(numbers)} of {max(total)})"
        )
    return sorted(shards, key=lambda s: s.path)


def _fetch(
    shard: Shard, target: Path, *, token: str | None, endpoint: str | None, revision: str
) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        local = hf_hub_download(
            HF_REPO,
            shard.path,
            repo_type="dataset",
            revision=revision,
            local_dir=target,
            token=token,
            endpoint=_endpoint(endpoint),
        )
    except OSError as exc:
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(exc, HfHubHTTPError):
            raise _hub_error(exc, token=token) from exc
        if getattr(exc, "errno", None) is not None:
            raise DataError(
                f"{target}: cannot write {shard.path} ({exc.strerror or exc}); free space and "
                "rerun to resume"
            ) from exc
        raise _hub_error(exc, token=token) from exc
    except Exception as exc:
        raise _hub_error(exc, token=token) from exc
    return Path(local)


def _check(shard: Shard, local: Path) -> None:
    size, sha, _ = file_sha256(local)
    if size != shard.size or (shard.sha256 is not None and sha != shard.sha256):
        local.unlink(missing_ok=True)
        raise DataError(
            f"{local}: {size:,} bytes, sha256 {sha[:12]}…, but the Hub lists {shard.size:,} bytes"
            f"{', sha256 ' + shard.sha256[:12] + '…' if shard.sha256 else ''}; the file was "
            "deleted, rerun to download it again"
        )


def download_hf(
    *,
    root: str | os.PathLike[str] | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    revision: str = "main",
    name: str | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Download, verify and prepare the Hub's validation shards; returns the prepared dataset."""
    from huggingface_hub.utils import disable_progress_bars  # type: ignore[attr-defined]

    from ilsvrc_bench.data.prepare import prepare, root_lock

    disable_progress_bars()  # progress goes through ``progress``, on our own bars
    # its retries are logged as raw lines ("Retrying in 1s [Retry 1/5]"), even under -q; the
    # outcome is reported once, as this module's error
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    root_dir = paths.data_root(root)
    target = root_dir / "downloads" / HF_DIR
    shards = list_shards(token=token, endpoint=endpoint, revision=revision)
    total = sum(s.size for s in shards)
    files: list[Path] = []
    with (
        root_lock(root_dir),
        stage(progress, "download hf shards", total, unit="bytes") as advance,
    ):
        for shard in shards:
            local = _fetch(shard, target, token=token, endpoint=endpoint, revision=revision)
            _check(shard, local)
            files.append(local)
            advance(shard.size)
    return prepare(files, root=root, name=name, fmt="hf", progress=progress)
