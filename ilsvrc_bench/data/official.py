"""The official val tar + devkit tar.gz, and labels given by devkit ground truth by image number.

The val tar is read in place: one streaming pass indexes it (offset, size, SHA-256 of each
member) and computes its MD5, so nothing is extracted or copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ilsvrc_bench.data.archives import index_tar
from ilsvrc_bench.data.dataset import DEFAULT_NAME, Storage
from ilsvrc_bench.data.devkit import Devkit, read_devkit
from ilsvrc_bench.data.scan import Context, Entry, Scan, check_numbers, val_number
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.progress import stage


def is_devkit(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz"))


def is_val_tar(path: Path) -> bool:
    return path.is_file() and path.name.endswith(".tar")


def split_official(sources: Sequence[Path]) -> tuple[Path, Path] | None:
    """``(val tar, devkit)`` when the sources are exactly those two (or a folder holding them)."""
    files = list(sources)
    if len(files) == 1 and files[0].is_dir():
        files = sorted(files[0].iterdir())
    tars = [p for p in files if is_val_tar(p)]
    kits = [p for p in files if is_devkit(p)]
    if len(tars) == 1 and len(kits) == 1:
        return tars[0], kits[0]
    return None


def label_by_number(
    paths: Sequence[str], devkit: Devkit, *, labels_file: Path
) -> list[tuple[str, int, bool]]:
    """``(wnid, devkit_id, blacklisted)`` for each val image name, from the devkit ground truth.

    The images may be any subset of those the ground truth lists.
    """
    truth = devkit.ground_truth
    out: list[tuple[str, int, bool]] = []
    for path in paths:
        number = val_number(path)
        if number is None or not 1 <= number <= len(truth):
            raise DataError(
                f"{labels_file}: image {path!r} is not ILSVRC2012_val_N.JPEG with N in "
                f"1..{len(truth)}, so the ground truth cannot label it"
            )
        devkit_id = truth[number - 1]
        out.append((devkit.wnid_of_devkit_id[devkit_id], devkit_id, number in devkit.blacklist))
    return out


def scan_official(val_tar: Path, devkit_tgz: Path, ctx: Context) -> Scan:
    """Index the val tar in place and label it with the devkit."""
    checks = {devkit_tgz.name: ctx.check_md5(devkit_tgz)}
    devkit = read_devkit(devkit_tgz)
    ctx.check_size(val_tar)
    size = val_tar.stat().st_size
    with stage(ctx.progress, f"index {val_tar.name}", size, unit="bytes") as advance:
        index = index_tar(val_tar, progress=advance)
    checks[val_tar.name] = ctx.check_md5(val_tar, index.md5)
    names = {e: _flat_name(val_tar, e.name) for e in index.entries}
    entries_by_name = sorted(index.entries, key=lambda e: names[e])
    check_numbers(val_tar, [names[e] for e in entries_by_name])
    labels = label_by_number([names[e] for e in entries_by_name], devkit, labels_file=devkit_tgz)
    entries = [
        Entry(names[e], wnid, e.size, e.sha256, e.head, devkit_id, black, e.offset)
        for e, (wnid, devkit_id, black) in zip(entries_by_name, labels, strict=True)
    ]
    storage = Storage(kind="tar", location=val_tar.resolve(), archive_size=index.size)
    return Scan(
        "official",
        entries,
        storage,
        DEFAULT_NAME,
        devkit=devkit,
        checks=checks,
        n_listed=len(devkit.ground_truth),
    )


def _flat_name(val_tar: Path, name: str) -> str:
    """The member's name; the official val tar is flat, so a sub-folder is a DataError."""
    flat = name[2:] if name.startswith("./") else name
    if "/" in flat:
        raise DataError(
            f"{val_tar}: member {name!r} is in a sub-folder; the official val tar holds only "
            "ILSVRC2012_val_NNNNNNNN.JPEG at the top level"
        )
    return flat
