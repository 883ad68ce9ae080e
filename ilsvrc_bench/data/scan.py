"""What every source reader produces: a ``Scan`` of entries, plus the shared checking context."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ilsvrc_bench.data.archives import file_md5
from ilsvrc_bench.data.dataset import Storage
from ilsvrc_bench.data.devkit import Devkit
from ilsvrc_bench.data.textfiles import read_text
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.progress import Progress, stage

VAL_TAR = "ILSVRC2012_img_val.tar"
DEVKIT_TGZ = "ILSVRC2012_devkit_t12.tar.gz"
OFFICIAL_MD5 = {
    VAL_TAR: "29b22e2961454d5413ddabcf34fc5622",
    DEVKIT_TGZ: "fa75699e90414af021442c21a62c3abf",
}
OFFICIAL_SIZE = {VAL_TAR: 6_744_924_160}
MD5SUMS = "MD5SUMS"
# Val image names, also as Hugging Face stores them with the wnid appended.
VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})(?:_(n\d{8}))?\.[A-Za-z]+$")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class Entry:
    """One image found in a source, before it becomes an ``ImageRecord``."""

    path: str
    wnid: str
    size: int
    sha256: str
    head: bytes = b""
    devkit_id: int | None = None
    blacklisted: bool = False
    offset: int | None = None  # where the bytes start inside a tar read in place


@dataclass
class Scan:
    source: str
    entries: list[Entry]
    storage: Storage
    default_name: str
    split: str = "val"
    devkit: Devkit | None = None
    checks: dict[str, Any] = field(default_factory=dict)  # archive name -> md5 check outcome
    # Sorted-wnid class indices the source covers when it is a subset (ImageNet-R/-A), else None.
    class_subset: tuple[int, ...] | None = None
    n_listed: int | None = None  # how many images the label source names (a subset has fewer)
    notes: list[str] = field(default_factory=list)  # worth saying, not errors


@dataclass
class Context:
    """Options every reader shares: MD5 overrides, whether to verify, progress, a work folder."""

    workdir: Path
    md5: Mapping[str, str] = field(default_factory=dict)
    verify: bool = True
    progress: Progress | None = None
    seen_devkit: Devkit | None = None
    label_offset: int = 0  # added to integer labels (-1 for 1-based files)

    def expected_md5(self, archive: Path) -> tuple[str | None, str]:
        """The MD5 to check ``archive`` against and where it came from."""
        if archive.name in self.md5:
            return self.md5[archive.name].lower(), "--md5"
        sums = archive.parent / MD5SUMS
        if sums.is_file():
            expected = read_md5sums(sums).get(archive.name)
            if expected is not None:
                return expected, str(sums)
        if archive.name in OFFICIAL_MD5:
            return OFFICIAL_MD5[archive.name], "official"
        return None, "none"

    def check_size(self, archive: Path) -> None:
        """Fail fast, before hashing gigabytes, when an official archive has the wrong size."""
        origin = self.expected_md5(archive)[1]
        want = OFFICIAL_SIZE.get(archive.name)
        size = archive.stat().st_size
        if self.verify and origin == "official" and want is not None and size != want:
            raise DataError(
                f"{archive}: has {size:,} bytes, the official file has {want:,}; "
                "it is incomplete or not the official archive (resume with `data download`)"
            )

    def check_md5(self, archive: Path, actual: str | None = None) -> dict[str, Any]:
        """Compare ``archive``'s MD5 with the expected one; DataError on a mismatch."""
        expected, origin = self.expected_md5(archive)
        if not self.verify:
            return {"md5": actual, "verified": False, "reason": "--no-verify"}
        if expected is None:
            return {"md5": actual, "verified": False, "reason": "no known MD5"}
        if actual is None:
            size = archive.stat().st_size
            with stage(self.progress, f"md5 {archive.name}", size, unit="bytes") as advance:
                actual = file_md5(archive, progress=advance)
        if actual != expected:
            raise DataError(
                f"{archive}: MD5 {actual} does not match the expected {expected} ({origin}); "
                "the file is damaged or incomplete (use --md5 NAME=HEX or --no-verify if intended)"
            )
        return {"md5": actual, "verified": True, "expected_from": origin}


MD5_LINE = re.compile(r"^([0-9a-fA-F]{32}) [ *](.+)$")
BSD_MD5_LINE = re.compile(r"^MD5 \((.+)\) = ([0-9a-fA-F]{32})$")


def read_md5sums(path: Path) -> dict[str, str]:
    """File name -> MD5 from an ``md5sum`` (``HEX  NAME``) or BSD (``MD5 (NAME) = HEX``) list."""
    sums: dict[str, str] = {}
    for number, line in enumerate(read_text(path, what="checksum file").splitlines(), start=1):
        text = line.strip().lstrip("\ufeff")
        if not text or text.startswith("#"):
            continue
        if match := MD5_LINE.match(text):
            digest, name = match.groups()
        elif match := BSD_MD5_LINE.match(text):
            name, digest = match.groups()
        else:
            raise DataError(
                f"{path}: line {number} is not 'MD5  FILE' (32 hex digits, two spaces, the "
                f"file name): {text[:80]!r}"
            )
        sums[PurePosixPath(name.strip().replace("\\", "/")).name] = digest.lower()
    return sums


def image_problem(entry: Entry) -> str | None:
    """Why an image is not a usable JPEG, from its first bytes (verify --decode goes further)."""
    if entry.size == 0:
        return "zero-byte file"
    if entry.head.startswith(b"\xff\xd8\xff"):
        return None
    if entry.head.startswith(b"\x89PNG"):
        return "PNG data, not JPEG"
    return "not a JPEG file"


def wnid_in_name(path: str) -> str | None:
    """The wnid a val image name carries (``ILSVRC2012_val_00000001_n01751748.JPEG``), if any."""
    match = VAL_NAME.search(path)
    return match.group(2) if match else None


def val_number(path: str) -> int | None:
    """The 1-based val image number in an ``ILSVRC2012_val_00000001.JPEG`` name."""
    match = VAL_NAME.search(path)
    return int(match.group(1)) if match else None


def check_numbers(location: Path, paths: Sequence[str]) -> None:
    """Two files that are the same val image number would share one label: a DataError."""
    seen: dict[int, str] = {}
    for path in paths:
        number = val_number(path)
        if number is None:
            continue
        if number in seen:
            raise DataError(
                f"{location}: {seen[number]!r} and {path!r} are both val image {number}; "
                "one image must not take another's label"
            )
        seen[number] = path
