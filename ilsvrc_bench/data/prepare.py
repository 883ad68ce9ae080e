"""``prepare``: turn any supported source into a prepared dataset under the data root.

The dataset is built in a work folder and renamed into place only when complete, under a lock
on the root, so an interrupted or concurrent prepare never leaves a half-written dataset.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ilsvrc_bench import paths, serialize
from ilsvrc_bench.data.dataset import (
    DEFAULT_NAME,
    Dataset,
    ImageRecord,
    Storage,
    datasets_dir,
    open_dataset,
    write_dataset,
)
from ilsvrc_bench.data.devkit import save_devkit, seen_devkit
from ilsvrc_bench.data.labelorder import check_scan
from ilsvrc_bench.data.scan import Context, Scan, image_problem, val_number
from ilsvrc_bench.errors import DataError, UsageError
from ilsvrc_bench.progress import Progress
from ilsvrc_bench.synsets import index_of

LOCK_NAME = ".prepare.lock"
FULL_VAL = 50_000
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@contextmanager
def root_lock(root: Path) -> Iterator[None]:
    """Hold the data root's prepare lock; DataError at once if another process holds it."""
    from filelock import FileLock, Timeout

    serialize.make_folder(root, error=DataError)
    lock = FileLock(root / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise DataError(
            f"{root / LOCK_NAME}: another `ilsvrc-bench data prepare` or `data download` is "
            "running in this root; wait for it to finish"
        ) from None
    except OSError as exc:  # after Timeout, which is one
        raise DataError(f"cannot write {root / LOCK_NAME}: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        lock.release()


def _records(scan: Scan) -> tuple[list[ImageRecord], Storage, list[dict[str, str]]]:
    entries = sorted(scan.entries, key=lambda e: e.path)
    seen: set[str] = set()
    devkit_ids = scan.devkit.devkit_id_of() if scan.devkit is not None else {}
    records: list[ImageRecord] = []
    problems: list[dict[str, str]] = []
    for i, e in enumerate(entries):
        if e.path in seen:
            raise DataError(f"{scan.storage.location}: image {e.path!r} appears twice")
        seen.add(e.path)
        devkit_id = e.devkit_id if e.devkit_id is not None else devkit_ids.get(e.wnid)
        class_index = index_of(e.wnid)
        records.append(
            ImageRecord(i, e.path, class_index, e.wnid, devkit_id, e.blacklisted, e.size, e.sha256)
        )
        problem = image_problem(e)
        if problem:
            problems.append({"path": e.path, "problem": problem})
    storage = scan.storage
    if storage.kind == "tar":
        offsets = tuple(e.offset for e in entries if e.offset is not None)
        if len(offsets) != len(entries):  # pragma: no cover - a reader bug
            raise DataError(f"{storage.location}: missing member offsets")
        storage = Storage("tar", storage.location, offsets, storage.archive_size)
    return records, storage, problems


def _install(work: Path, final: Path) -> None:
    """Replace ``final`` with ``work`` (the old dataset is removed only after the rename)."""
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        final.rename(old)
    work.rename(final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def prepare(
    sources: Sequence[str | os.PathLike[str]],
    *,
    root: str | os.PathLike[str] | None = None,
    name: str | None = None,
    fmt: str | None = None,
    md5: Mapping[str, str] | None = None,
    verify: bool = True,
    label_offset: int = 0,
    progress: Progress | None = None,
) -> Dataset:
    """Prepare a dataset from ``sources`` (archives, folders, label files; see ``docs/data.md``).

    ``fmt`` forces the source format (detected otherwise); ``md5`` maps archive file names to
    expected MD5s; ``verify=False`` skips MD5 checks and records that in ``dataset.json``;
    ``label_offset`` is added to integer labels in label lists (-1 for 1-based files).
    """
    paths_in = _check_inputs(sources, name)
    root_dir = paths.data_root(root)
    base = datasets_dir(root_dir)
    with root_lock(root_dir):
        serialize.make_folder(base, error=DataError)
        _remove_stale(base)
        work = base / f".prepare-{os.getpid()}"
        work.mkdir()
        try:
            ctx = Context(work, dict(md5 or {}), verify, progress, seen_devkit(root_dir))
            ctx.label_offset = label_offset
            scan = _read(paths_in, fmt, ctx)
            dataset_name = _name_for(scan, name)
            try:
                _write(work, scan, name=dataset_name, sources=paths_in, verify=verify)
                if scan.devkit is not None and len(scan.devkit.ground_truth) == FULL_VAL:
                    save_devkit(scan.devkit, root_dir)  # the real devkit, not a sample's
                _install(work, base / dataset_name)
            except OSError as exc:
                where = exc.filename or work
                raise DataError(
                    f"{where}: cannot write the prepared dataset ({exc.strerror})"
                ) from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return open_dataset(base / dataset_name)


def _remove_stale(base: Path) -> None:
    """Work folders a killed prepare left behind; safe, as the caller holds the root's lock."""
    for stale in base.glob(".prepare-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in base.glob(".old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def is_complete(scan: Scan) -> bool:
    """Whether ``scan`` holds every ILSVRC2012 val image, 1..50,000, each once."""
    if scan.split != "val" or len(scan.entries) != FULL_VAL:
        return False
    numbers = {val_number(e.path) for e in scan.entries}
    return numbers == set(range(1, FULL_VAL + 1))


def _name_for(scan: Scan, name: str | None) -> str:
    """The dataset's name; only the complete val may be called ``ilsvrc2012-val``."""
    complete = is_complete(scan)
    if name == DEFAULT_NAME and not complete:
        raise UsageError(
            f"--name {DEFAULT_NAME} is kept for the complete ILSVRC2012 val (50,000 images); "
            f"this source has {len(scan.entries):,}: choose another name"
        )
    if name is not None:
        return name
    if scan.default_name == DEFAULT_NAME and not complete:
        return f"{DEFAULT_NAME}-subset-{len(scan.entries)}"
    return scan.default_name


def _subset_fields(scan: Scan) -> dict[str, object]:
    """What ``dataset.json`` says about completeness (see docs/data.md, 'Subsets')."""
    complete = is_complete(scan)
    notes = list(scan.notes)
    present = len(scan.entries)
    if scan.n_listed is not None and scan.n_listed > present:
        notes.append(
            f"label file lists {scan.n_listed:,} images; {present:,} present: prepared a subset"
        )
    return {
        "complete": complete,
        "is_subset": scan.split == "val" and not complete,
        "n_listed": scan.n_listed,
        "notes": notes,
    }


def _check_inputs(sources: Sequence[str | os.PathLike[str]], name: str | None) -> list[Path]:
    paths_in = [Path(s).expanduser() for s in sources]
    if not paths_in:
        raise DataError("no source given: name the val tar and devkit, or a folder of images")
    for p in paths_in:
        if not p.exists():
            raise DataError(f"{p}: no such file or folder")
    if name is not None and not NAME_RE.match(name):
        raise UsageError(f"{name!r}: a dataset name is letters, digits, '.', '_' and '-'")
    return paths_in


def _read(paths_in: list[Path], fmt: str | None, ctx: Context) -> Scan:
    from ilsvrc_bench.data.sources import read_sources

    try:
        scan = read_sources(paths_in, fmt=fmt, ctx=ctx)
    except OSError as exc:
        raise DataError(
            f"{exc.filename or paths_in[0]}: cannot read ({exc.strerror or exc})"
        ) from exc
    if not scan.entries:
        raise DataError(f"{paths_in[0]}: no images found")
    return scan


def _write(work: Path, scan: Scan, *, name: str, sources: list[Path], verify: bool) -> None:
    """Manifest, identity and devkit record of ``scan`` into the work folder."""
    records, storage, problems = _records(scan)
    label_order = check_scan(scan, records)
    write_dataset(
        work,
        name=name,
        source=scan.source,
        split=scan.split,
        records=records,
        storage=storage,
        extra={
            "sources": [str(p.resolve()) for p in sources],
            "md5_checks": scan.checks,
            "verify_skipped": not verify,
            "problems": problems,
            "label_order": label_order,
            **({"class_subset": list(scan.class_subset)} if scan.class_subset else {}),
            **_subset_fields(scan),
        },
    )
    if scan.devkit is not None:
        save_devkit(scan.devkit, work)
