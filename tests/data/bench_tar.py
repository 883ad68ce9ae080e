"""Benchmark (not a test): index a val-like tar in place vs extract it; per-image read cost.

Usage: python tests/data/bench_tar.py N_MEMBERS MEMBER_BYTES   (figures in docs/data.md)
"""

import io
import os
import random
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from ilsvrc_bench.data.archives import index_tar
from ilsvrc_bench.data.dataset import Dataset, ImageRecord, Storage

N, SIZE = int(sys.argv[1]), int(sys.argv[2])
work = Path(tempfile.mkdtemp(prefix="ib-bench-"))
tar_path = work / "val.tar"
payload = os.urandom(SIZE)
with tarfile.open(tar_path, "w", format=tarfile.GNU_FORMAT) as tar:
    for i in range(1, N + 1):
        info = tarfile.TarInfo(f"ILSVRC2012_val_{i:08d}.JPEG")
        info.size = SIZE
        tar.addfile(info, io.BytesIO(payload))
mb = tar_path.stat().st_size / 1e6
t = time.perf_counter()
idx = index_tar(tar_path)
t_index = time.perf_counter() - t
t = time.perf_counter()
with tarfile.open(tar_path) as tar:
    tar.extractall(work / "x", filter="data")
t_extract = time.perf_counter() - t
recs = tuple(
    ImageRecord(i, e.name, 0, "n01440764", None, False, e.size, e.sha256)
    for i, e in enumerate(idx.entries)
)
ds_tar = Dataset(
    "m",
    work,
    "t",
    "val",
    recs,
    "",
    Storage("tar", tar_path, tuple(e.offset for e in idx.entries), idx.size),
)
ds_dir = Dataset("m", work, "t", "val", recs, "", Storage("dir", work / "x"))
order = list(range(N))
random.Random(0).shuffle(order)
order = order[:5000]
for name, ds in (("tar in place", ds_tar), ("extracted files", ds_dir)):
    t = time.perf_counter()
    for i in order:
        ds.read_bytes(recs[i])
    per_read_us = (time.perf_counter() - t) / len(order) * 1e6
    print(f"{name}: {per_read_us:.0f} us per random read (warm cache)")
print(f"{N} members, {mb:.0f} MB: index in place (MD5 + SHA-256, one pass) {t_index:.2f} s")
print(f"  = {mb / t_index:.0f} MB/s; tar extract only {t_extract:.2f} s")
shutil.rmtree(work)
