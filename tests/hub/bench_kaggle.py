"""Files per second of ``data download --from kaggle`` against the stand-in on port 7777.

    python -m tests.hub.bench_kaggle [--latency 0.05] [--jobs 1 16]

Fetches 200 val images (the real photos of ../shared/realdata when present, else generated
ones) into a fresh root per run and prints the fetch rate (prepare excluded). ``--latency``
delays every answer of the stand-in, as a network round trip would (two per file: the API call
and the signed-URL download).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from ilsvrc_bench.synsets import all_synsets
from tests.conftest import REAL_IMAGES
from tests.hub.fake_kaggle import Kaggle, competition, serve


def _images() -> tuple[list[tuple[bytes, str]], str]:
    files = sorted(REAL_IMAGES.glob("*.JPEG")) if REAL_IMAGES.is_dir() else []
    if len(files) >= 200:
        return [(f.read_bytes(), f.name.split("_")[0]) for f in files[:200]], "real photos"
    from tests.shifts.layouts import jpeg

    wnids = [s.wnid for s in all_synsets()]
    return [(jpeg(i, (500, 375)), wnids[i * 5]) for i in range(200)], "generated 500x375 JPEGs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    from ilsvrc_bench.data.kaggle import Fetcher, _fetch_val

    images, what = _images()
    kaggle = Kaggle(competition(images), latency=args.latency)
    os.environ.update(
        KAGGLE_API_ENVIRONMENT="TEST", KAGGLE_USERNAME="alice", KAGGLE_KEY="alice-key"
    )
    size = sum(len(data) for data, _ in images)
    print(f"200 {what} ({size / 1e6:.1f} MB), latency {args.latency * 1000:.0f} ms per answer")
    with serve(kaggle):
        for jobs in args.jobs:
            with tempfile.TemporaryDirectory() as root:
                fetch = Fetcher(Path(root), jobs)
                start = time.perf_counter()
                try:
                    _fetch_val(fetch, progress=None)
                finally:
                    fetch.close()
                took = time.perf_counter() - start
            print(f"-j {jobs:>2}: {took:6.2f} s, {200 / took:7.1f} files/s")


if __name__ == "__main__":
    main()
