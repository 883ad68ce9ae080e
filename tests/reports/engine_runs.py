"""Runs made by the real engine on generated samples, shared by the report and check tests.

The session fixture ``engine_runs`` in tests/conftest.py builds them once per test process.

The model is torchvision's AlexNet (a real architecture) at a 64 px crop, with weights files made
here: the last layer's weights are zero and its bias ranks a chosen set of classes first, so
every image gets the same top-5 and accuracy is known in advance. ``good`` ranks five of the
sample's ten classes first (top-1 hits one class, top-5 half the images); ``bad`` ranks classes
the sample does not hold (nothing right).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

CLASSES = (0, 100, 200, 300, 400, 500, 600, 700, 800, 900)
PER_CLASS = 6
PREPROCESSING = {"resize_size": 72, "crop_size": 64}


@dataclass(frozen=True)
class Runs:
    root: Path
    runs_dir: Path
    good: Path  # run dir: alexnet, "good" weights, on the sample
    good_again: Path  # the same model and weights on the same data, a second run
    bad: Path  # alexnet, "bad" weights, same data
    other_data: Path  # alexnet, "good" weights, on a different sample
    good_weights: Path


def _weights(path: Path, favoured: tuple[int, ...]) -> Path:
    import torch
    from torchvision.models import alexnet

    torch.manual_seed(0)
    model = alexnet(weights=None)
    last = model.classifier[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        for rank, c in enumerate(favoured):
            last.bias[c] = 10.0 - rank
    torch.save(model.state_dict(), path)
    return path


def build_engine_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Make the runs with the real engine under a fresh temporary folder."""
    from ilsvrc_bench.data import prepare
    from ilsvrc_bench.data.sample import write_sample
    from ilsvrc_bench.engine import EvalOptions, evaluate

    base = tmp_path_factory.mktemp("engine-runs")
    root, runs_dir = base / "root", base / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ILSVRC_BENCH_ROOT", str(root))
        mp.setenv("ILSVRC_BENCH_RUNS", str(runs_dir))
        mp.setenv("TORCH_HOME", str(base / "torch"))
        for name, seed in (("sample", 0), ("sample-b", 1)):
            tar, devkit = write_sample(
                base / name, classes=list(CLASSES), per_class=PER_CLASS, seed=seed
            )
            prepare([tar, devkit], root=root, name=name)
        good = _weights(base / "good.pth", (0, 100, 200, 300, 400))
        bad = _weights(base / "bad.pth", (1, 2, 3, 4, 5))
        options = EvalOptions(device="cpu", batch_size=32, resume=False)

        def run(weights: Path, data: str) -> Path:
            (result,) = evaluate(
                ["alexnet"],
                data=data,
                root=root,
                runs_dir=runs_dir,
                weights=str(weights),
                preprocessing=PREPROCESSING,
                options=options,
            )
            return result.run_dir

        return Runs(
            root=root,
            runs_dir=runs_dir,
            good=run(good, "sample"),
            good_again=run(good, "sample"),
            bad=run(bad, "sample"),
            other_data=run(good, "sample-b"),
            good_weights=good,
        )
