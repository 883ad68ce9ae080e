"""One ``eval`` invocation: plan -> one pass per preprocessing group -> one run record per model.

Returns results in the order the models were given; never prints. Under torchrun every rank
calls the same function and gets the same results (see ``engine/distributed.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ilsvrc_bench.engine import distributed, rundir
from ilsvrc_bench.engine.group import run_group
from ilsvrc_bench.engine.loader import DatasetLike
from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.plan import make_plan
from ilsvrc_bench.engine.result import EvalResult
from ilsvrc_bench.errors import UsageError
from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.models.spec import ModelSpec
from ilsvrc_bench.progress import NullProgress, Progress

LoadFn = Callable[..., Any]


def evaluate(
    models: Sequence[str],
    *,
    data: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    weights: WeightsChoice | str | None = None,
    preprocessing: PreprocessingOverrides | Mapping[str, Any] | None = None,
    options: EvalOptions | None = None,
    progress: Progress | None = None,
) -> list[EvalResult]:
    """Evaluate each model reference on a prepared dataset; one run record per model.

    Under torchrun (``RANK``/``WORLD_SIZE`` set) the images are split across the ranks.
    """
    from ilsvrc_bench import paths
    from ilsvrc_bench.data import open_dataset
    from ilsvrc_bench.models import load, resolve

    if not models:
        raise UsageError("no model given; use -m MODEL")
    options = options or EvalOptions()
    out_dir = paths.runs_dir(runs_dir, root=root)
    rundir.ensure_writable(out_dir)
    dataset = open_dataset(data, root=root)
    specs = [(ref, resolve(ref, weights=weights, preprocessing=preprocessing)) for ref in models]
    world, device = distributed.join(options.device)
    try:
        return evaluate_specs(
            specs,
            dataset,
            runs_dir=out_dir,
            options=options,
            progress=progress,
            load=load,
            device=device,
            world=world,
        )
    finally:
        # Also on an error: a process that exits with live gloo groups can abort (SIGABRT) in
        # their destructors, which would turn a model error (exit 4) into a crash (exit 5).
        world.close()


def evaluate_specs(
    specs: Sequence[tuple[str, ModelSpec]],
    dataset: DatasetLike,
    *,
    runs_dir: Path,
    options: EvalOptions,
    load: LoadFn,
    progress: Progress | None = None,
    device: torch.device | None = None,
    world: distributed.World | None = None,
) -> list[EvalResult]:
    """Evaluate resolved specs on an opened dataset; ``load(spec, device=...)`` builds a model.

    Models with equal preprocessing share one decoding pass.
    """
    from ilsvrc_bench.engine import device as devices

    rundir.ensure_writable(runs_dir)
    plan = make_plan(
        specs,
        dataset,
        options=options,
        device=device or devices.select_device(options.device),
        runs_dir=runs_dir,
        world=world,
    )
    progress = progress or NullProgress()
    done: list[tuple[int, EvalResult]] = []
    for group in plan.groups:
        done += run_group(plan, group, load=load, progress=progress)
    return [result for _, result in sorted(done, key=lambda item: item[0])]
