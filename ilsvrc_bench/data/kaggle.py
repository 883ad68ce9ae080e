"""``data download --from kaggle``: ILSVRC2012 val from the Kaggle competition, then prepared.

The competition ``imagenet-object-localization-challenge`` publishes its files one by one (and
as one 155 GB archive of everything, train included). Val is fetched file by file through the
``kaggle`` client (``data/kaggle_client.py``): ``LOC_synset_mapping.txt`` and
``LOC_val_solution.csv`` first, then every ``ILSVRC/Data/CLS-LOC/val/<ImageId>.JPEG`` the
solution names, concurrently, into ``<root>/downloads/kaggle/`` under the competition's own
paths. That folder is then prepared as ``data prepare --format kaggle`` would.

A killed run leaves at most ``.part`` files, which are never read; a rerun fetches only the
files without their final name, and signs in only if one is missing.
"""

from __future__ import annotations

import os
import queue
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from ilsvrc_bench import paths
from ilsvrc_bench.data.dataset import Dataset
from ilsvrc_bench.data.folders import KAGGLE_SOLUTION, KAGGLE_VAL
from ilsvrc_bench.data.kaggle_client import PART, Damaged, authenticate, fetch_file, new_client
from ilsvrc_bench.data.textfiles import read_text, rows
from ilsvrc_bench.errors import DataError, UsageError
from ilsvrc_bench.progress import Progress, stage
from ilsvrc_bench.serialize import make_folder
from ilsvrc_bench.synsets import all_synsets

KAGGLE_DIR = "kaggle"
SYNSET_MAPPING = "LOC_synset_mapping.txt"
DEFAULT_JOBS = 16
IMAGE_ID_RE = re.compile(r"^ILSVRC2012_val_\d{8}$")
STAGE = "fetch val images from Kaggle"


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
    with (
        stage(progress, STAGE, len(names)) as advance,
        ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="kaggle") as pool,
    ):
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
                    advance(1)
        finally:
            for future in pending:
                future.cancel()
    return damaged


def _writable(folder: Path) -> None:
    make_folder(folder, error=DataError)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"{folder}: cannot write the download folder (permission denied)")


def _remove_parts(folder: Path) -> None:
    """``.part`` files a killed run left, and the client's resume markers beside them
    (``.part.kaggle-partial``); never read, removed before fetching again."""
    if folder.is_dir():
        for part in [*folder.glob(f"*{PART}"), *folder.glob(f"*{PART}.kaggle-partial")]:
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
            self._made = [new_client(self._api) for _ in range(self.jobs)]
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
    ids = image_ids(target / KAGGLE_SOLUTION)
    missing = _missing(target, ids)
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
    still = _missing(target, ids)  # the set must be complete before it is prepared
    if still:
        raise DataError(
            f"{target / still[0]}: missing after the download ({len(still)} of the {len(ids)} "
            f"images {KAGGLE_SOLUTION} lists); rerun to fetch them"
        )


def _missing(target: Path, ids: Sequence[str]) -> list[str]:
    """The competition paths of the val images in ``ids`` not yet under ``target``."""
    names = [f"{KAGGLE_VAL.as_posix()}/{i}.JPEG" for i in ids]
    return [name for name in names if not (target / name).is_file()]


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
