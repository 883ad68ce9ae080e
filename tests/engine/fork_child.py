"""Run as a script by test_fork_safety: two decoding passes of an ONNX model with loader workers
that collect garbage, under the command line's garbage-collector thresholds."""

from __future__ import annotations

import gc
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ilsvrc_bench.data.dataset import ImageRecord
from ilsvrc_bench.data.memory import MemoryDataset
from ilsvrc_bench.engine import EvalOptions, plan
from ilsvrc_bench.engine.session import evaluate_specs
from ilsvrc_bench.models import load, resolve
from ilsvrc_bench.models.choices import PreprocessingOverrides


@dataclass
class CollectingDataset(MemoryDataset):
    """Its loader workers run a full garbage collection before every read, as a busy worker's
    own allocations eventually do."""

    def read_bytes(self, record: ImageRecord) -> bytes:
        gc.collect()
        return super().read_bytes(record)


def main(model: str, runs: str) -> None:
    from ilsvrc_bench.cli import startup

    startup.collect_less_often()  # what the ilsvrc-bench program does first
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(8):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(buf, "PNG")
        blobs.append(buf.getvalue())
    ds = CollectingDataset(blobs, [1, 2, 3, 4, 5, 6, 7, 8])
    plan.MAX_BATCH_BYTES = 1  # one pass per recipe: the second pass forks after the first model
    specs = [
        (model, resolve(model, preprocessing=PreprocessingOverrides.from_mapping(p)))
        for p in ({"resize_size": 40, "crop_size": 32}, {"resize_size": 36, "crop_size": 32})
    ]
    results = evaluate_specs(
        specs,
        ds,
        runs_dir=Path(runs),
        options=EvalOptions(device="cpu", batch_size=4, workers=2),
        load=load,
    )
    print(" ".join(str(r.record.final_metrics.n_images) for r in results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
