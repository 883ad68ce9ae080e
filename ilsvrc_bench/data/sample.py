"""``data sample``: small archives in the exact official layout, for trying the tool and for tests.

``ILSVRC2012_img_val.tar`` holds flat ``ILSVRC2012_val_%08d.JPEG`` members and
``ILSVRC2012_devkit_t12.tar.gz`` holds ``ILSVRC2012_devkit_t12/data/meta.mat`` (1000 leaf synsets
with ``ILSVRC2012_ID`` 1..1000 plus internal nodes), the validation ground truth (devkit ids, one
line per image) and the blacklist, so a sample goes through the same code as the real archives.
The devkit ids are a fixed shuffle of the classes, never sorted-wnid index + 1, so a confusion
of the two orders shows at once.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ilsvrc_bench import serialize
from ilsvrc_bench.data.devkit import BLACKLIST, GROUND_TRUTH, META
from ilsvrc_bench.data.scan import DEVKIT_TGZ, MD5SUMS, VAL_TAR
from ilsvrc_bench.errors import DataError, UsageError
from ilsvrc_bench.synsets import N_CLASSES, all_synsets

DEVKIT_DIR = "ILSVRC2012_devkit_t12"
DEVKIT_SEED = 2012
N_GROUPS = 10
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by ilsvrc-bench data sample".ljust(116)
MTIME = 1_340_000_000  # fixed, so the same sample has the same bytes and MD5


def sample_devkit_ids() -> dict[str, int]:
    """wnid -> devkit id of sample devkits: a fixed shuffle, the same for every sample."""
    wnids = [s.wnid for s in all_synsets()]
    random.Random(DEVKIT_SEED).shuffle(wnids)
    return {w: i + 1 for i, w in enumerate(wnids)}


# The root and group nodes of a sample devkit's tree: real WordNet synsets outside the 1000 leaves,
# so a sample's meta.mat has internal nodes shaped like the real devkit's.
INTERNAL_NODES = (
    ("n00004475", "organism, being"),
    ("n00005787", "benthos"),
    ("n00006024", "heterotroph"),
    ("n00006484", "cell"),
    ("n00007846", "person, individual, someone, somebody, mortal, soul"),
    ("n00015388", "animal, animate being, beast, brute, creature, fauna"),
    ("n00017222", "plant, flora, plant life"),
    ("n00021265", "food, nutrient"),
    ("n00021939", "artifact, artefact"),
    ("n00120010", "hop"),
    ("n00141669", "check-in"),
)


def _internal_nodes() -> list[tuple[str, str, str]]:
    """``(wnid, words, gloss)`` for the root and the ``N_GROUPS`` group nodes."""
    assert len(INTERNAL_NODES) == N_GROUPS + 1
    return [(w, words, f"sample internal node {i}") for i, (w, words) in enumerate(INTERNAL_NODES)]


def meta_mat_bytes() -> bytes:
    """A ``meta.mat`` with the devkit's ``synsets`` struct: 1000 leaves and a two-level tree."""
    import numpy as np
    from scipy.io import savemat

    ids = sample_devkit_ids()
    by_id = sorted(all_synsets(), key=lambda s: ids[s.wnid])
    internal = _internal_nodes()
    fields = [
        "ILSVRC2012_ID", "WNID", "words", "gloss", "num_children",
        "children", "wordnet_height", "num_train_images",
    ]  # fmt: skip
    rows: list[tuple[Any, ...]] = []
    empty = np.zeros((1, 0), dtype=np.uint16)
    for s in by_id:
        rows.append((ids[s.wnid], s.wnid, ", ".join(s.lemmas), s.gloss, 0, empty, 0, 1300))
    group_ids = [N_CLASSES + 2 + g for g in range(N_GROUPS)]
    root_wnid, root_words, root_gloss = internal[0]
    rows.append(
        (N_CLASSES + 1, root_wnid, root_words, root_gloss, N_GROUPS,
         np.array(group_ids, dtype=np.uint16), 2, 1300 * N_CLASSES)
    )  # fmt: skip
    per_group = N_CLASSES // N_GROUPS
    for g, (wnid, words, gloss) in enumerate(internal[1:]):
        children = [ids[s.wnid] for s in all_synsets()[g * per_group : (g + 1) * per_group]]
        rows.append(
            (group_ids[g], wnid, words, gloss, len(children),
             np.array(children, dtype=np.uint16), 1, 1300 * len(children))
        )  # fmt: skip
    table = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for i, row in enumerate(rows):
        table[i, 0] = row
    buf = io.BytesIO()
    savemat(buf, {"synsets": table})
    # The MAT header's 116 text bytes carry the time of writing; a fixed text keeps a sample's
    # devkit (and its MD5) the same from run to run.
    return MAT_HEADER + buf.getvalue()[len(MAT_HEADER) :]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), MTIME, 0o644
    tar.addfile(info, io.BytesIO(data))


def _image(rng: random.Random, class_index: int, mode: str) -> bytes:
    from PIL import Image, ImageDraw

    width, height = rng.randint(24, 160), rng.randint(24, 160)
    hue = (class_index * 37) % 256
    image = Image.new("RGB", (width, height), (hue, 255 - hue, (hue * 7) % 256))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + width // 3, y + height // 3), fill=(rng.randrange(256),) * 3)
    buf = io.BytesIO()
    image.convert(mode).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def pack_official(
    out_dir: Path, images: Sequence[tuple[bytes, str]], *, seed: int = 0, blacklist: int = 0
) -> tuple[Path, Path]:
    """Write ``(jpeg bytes, wnid)`` pairs as a val tar + devkit in the official layout.

    Images are numbered in the given order; ``blacklist`` of them go on the devkit blacklist.
    Also writes ``MD5SUMS`` next to the archives, which ``prepare`` checks them against.
    """
    ids = sample_devkit_ids()
    serialize.make_folder(out_dir, error=DataError)
    val_tar, devkit_tgz = out_dir / VAL_TAR, out_dir / DEVKIT_TGZ
    try:
        truth = [str(ids[wnid]) for _, wnid in images]
    except KeyError as exc:
        raise DataError(f"unknown wnid {exc.args[0]!r}: not one of the 1000 classes") from None
    with tarfile.open(val_tar, "w", format=tarfile.GNU_FORMAT) as tar:
        for number, (data, _) in enumerate(images, start=1):
            _add(tar, f"ILSVRC2012_val_{number:08d}.JPEG", data)
    numbers = sorted(random.Random(seed).sample(range(1, len(images) + 1), blacklist))
    # gzip stamps the time and file name into its header unless told otherwise
    with (
        devkit_tgz.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=MTIME) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        _add(tar, f"{DEVKIT_DIR}/readme.txt", b"ilsvrc-bench sample devkit (official layout)\n")
        _add(tar, f"{DEVKIT_DIR}/{META}", meta_mat_bytes())
        _add(tar, f"{DEVKIT_DIR}/{GROUND_TRUTH}", ("\n".join(truth) + "\n").encode())
        _add(tar, f"{DEVKIT_DIR}/{BLACKLIST}", "".join(f"{n}\n" for n in numbers).encode())
    sums = "".join(
        f"{hashlib.md5(p.read_bytes(), usedforsecurity=False).hexdigest()}  {p.name}\n"
        for p in (val_tar, devkit_tgz)
    )
    (out_dir / MD5SUMS).write_text(sums, encoding="utf-8")
    return val_tar, devkit_tgz


def sample_classes(classes: int | Sequence[int]) -> list[int]:
    """Class indices for a sample: ``n`` spread evenly over the 1000, or the given ones."""
    if isinstance(classes, int):
        if not 1 <= classes <= N_CLASSES:
            raise UsageError(f"a sample has 1..1000 classes, not {classes}")
        return [i * N_CLASSES // classes for i in range(classes)]
    chosen = sorted(set(classes))
    if not chosen or chosen[0] < 0 or chosen[-1] >= N_CLASSES:
        raise UsageError(f"sample classes must be in 0..999, got {list(classes)[:5]}")
    return chosen


def write_sample(
    out_dir: Path,
    *,
    classes: int | Sequence[int] = 10,
    per_class: int = 2,
    seed: int = 0,
    grayscale: int = 1,
    blacklist: int = 1,
) -> tuple[Path, Path]:
    """Write a generated sample as ``ILSVRC2012_img_val.tar`` + ``ILSVRC2012_devkit_t12.tar.gz``.

    Images are small JPEGs of varied sizes in shuffled class order; ``grayscale`` of them are
    single-channel, as some real val images are. Same arguments, same bytes.
    """
    if per_class < 1:
        raise UsageError(f"per_class must be at least 1, not {per_class}")
    rng = random.Random(seed)
    labels = [c for c in sample_classes(classes) for _ in range(per_class)]
    rng.shuffle(labels)
    wnids = [s.wnid for s in all_synsets()]
    images = [
        (_image(rng, c, "L" if i < grayscale else "RGB"), wnids[c]) for i, c in enumerate(labels)
    ]
    return pack_official(Path(out_dir), images, seed=seed, blacklist=min(blacklist, len(images)))
