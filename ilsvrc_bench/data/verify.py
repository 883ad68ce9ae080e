"""``data verify``: every image present with the manifest's size and SHA-256; ``decode`` also
opens each image and reports files that fail, are CMYK or grayscale, or are not really JPEG.

It streams: one image in memory at a time, progress per image.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field

from ilsvrc_bench.data.dataset import Dataset, ImageChangedError, ImageRecord
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.progress import Progress, stage

# Problems that make an image unusable; the others are notes (the loader converts them to RGB).
ERRORS = ("missing", "size", "hash", "decode")


@dataclass(frozen=True)
class Finding:
    path: str
    kind: str  # missing, size, hash, decode, not-jpeg, cmyk, grayscale, large
    detail: str

    @property
    def is_error(self) -> bool:
        return self.kind in ERRORS


@dataclass
class VerifyReport:
    dataset: str
    n_checked: int = 0
    decoded: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def decode_findings(path: str, data: bytes) -> list[Finding]:
    """What decoding ``data`` reveals: failure (a decompression bomb included), a format other
    than JPEG, CMYK, grayscale, an image large enough for Pillow to warn."""
    from PIL import Image, UnidentifiedImageError

    found = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                fmt, mode, size = image.format, image.mode, image.size
    except Image.DecompressionBombError as exc:
        return [Finding(path, "decode", f"decompression bomb, not decoded: {exc}")]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, MemoryError) as exc:
        return [Finding(path, "decode", f"cannot decode: {exc}")]
    if any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
        found.append(Finding(path, "large", f"{size[0]}x{size[1]} pixels, slow to decode"))
    if fmt != "JPEG":
        found.append(Finding(path, "not-jpeg", f"{fmt} data in a .JPEG file"))
    if mode == "CMYK":
        found.append(Finding(path, "cmyk", "CMYK colour (converted to RGB when loading)"))
    elif mode in {"L", "LA", "1", "I", "I;16"}:
        found.append(Finding(path, "grayscale", f"{mode} (one channel; converted to RGB)"))
    return found


def check_record(dataset: Dataset, record: ImageRecord, *, decode: bool) -> list[Finding]:
    try:
        data = dataset.read_bytes(record)
    except ImageChangedError as exc:
        return [Finding(record.path, "size", str(exc))]
    except DataError as exc:
        return [Finding(record.path, "missing", str(exc))]
    if hashlib.sha256(data).hexdigest() != record.sha256:
        return [Finding(record.path, "hash", "SHA-256 differs from the manifest")]
    return decode_findings(record.path, data) if decode else []


def verify(
    dataset: Dataset, *, decode: bool = False, progress: Progress | None = None
) -> VerifyReport:
    """Check every image of ``dataset`` against its manifest; never raises for a bad image."""
    report = VerifyReport(dataset.name, decoded=decode)
    with stage(progress, "verify", dataset.n_images) as advance:
        for record in dataset.records:
            report.findings += check_record(dataset, record, decode=decode)
            report.n_checked += 1
            advance(1)
    return report
