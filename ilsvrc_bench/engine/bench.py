"""``bench``: where the time of an evaluation goes, measured stage by stage in one run.

Four measurements over the same images, batch size, workers and device:

``loader``
    batches of uint8 views (decode, resize, crop, collate; the copy to a CUDA device), no model;
``model``
    the model alone on pre-made batches already on the device: normalise + forward + top-5,
    after warm-up (and compilation), synchronised;
``end_to_end``
    the real evaluation loop (``core.run_pass``, predictions stored) from the stored JPEGs;
``end_to_end_cache``
    the same from the preprocessed cache, when a complete one exists for this key.

Each gives steady-state images/s (after the first batch, which carries start-up, warm-up and
compilation) and total wall time (with them) separately. The slower of loader and model bounds
the run; ``bound_ratio`` says by how much (faster / slower). Returns a plain dict whose keys are
documented in docs/performance.md; never prints.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ilsvrc_bench.engine import core, pipeline, protocols
from ilsvrc_bench.engine import device as devices
from ilsvrc_bench.engine.loader import Batch, DatasetLike
from ilsvrc_bench.engine.machine import machine_info
from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.store import PredictionStore
from ilsvrc_bench.engine.subset import stratified_subset
from ilsvrc_bench.errors import UsageError
from ilsvrc_bench.models.spec import ModelSpec

SCHEMA_VERSION = 1
MIN_MODEL_SECONDS = 2.0
MIN_MODEL_BATCHES = 3


@dataclass
class Timing:
    """One stage: images, total wall time, and the time and images after the first batch."""

    n_images: int = 0
    wall_s: float = 0.0
    steady_images: int = 0
    steady_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        ips = self.steady_images / self.steady_s if self.steady_s > 0 else None
        overall = self.n_images / self.wall_s if self.wall_s > 0 else None
        return {
            "images_per_second": round(ips, 2) if ips else None,
            "overall_images_per_second": round(overall, 2) if overall else None,
            "wall_s": round(self.wall_s, 3),
            "n_images": self.n_images,
        }


class _Clock:
    """Timestamps after each batch: steady state is measured from the end of the first."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.start = time.perf_counter()
        self.timing = Timing()
        self._first_done: float | None = None

    def batch(self, n: int) -> None:
        self.sync()
        now = time.perf_counter()
        self.timing.n_images += n
        if self._first_done is None:
            self._first_done = now
        else:
            self.timing.steady_images += n
            self.timing.steady_s = now - self._first_done
        self.timing.wall_s = now - self.start


def run_bench(
    spec: ModelSpec,
    ref: str,
    dataset: DatasetLike,
    *,
    options: EvalOptions,
    load: Callable[..., Any],
) -> dict[str, Any]:
    """Measure loader, model, end-to-end (and end-to-end from the cache); see the module doc."""
    device = devices.select_device(options.device)
    devices.check_precision(options.precision, device)
    pipeline.check_decode(options.decode, device)
    prep = spec.preprocessing
    protocols.check(options.protocol, prep)
    records, _ = stratified_subset(list(dataset.records), options.limit)
    if not records:
        raise UsageError(f"{dataset.path}: the dataset has no images to measure")
    loaded = load(spec, device=device)
    channels_last = _channels_last(options, device, loaded)
    model, notes = _prepare(loaded, options, channels_last)
    cfg = core.PassContext(
        options=replace(
            options,
            channels_last=channels_last,
            flush_min_seconds=1e9,  # nothing to keep: no flush inside the timed loop
        ),
        device=device,
        prep=prep,
    )
    sync = _sync(device)

    def source(use_cache: bool) -> Iterable[Batch]:
        return pipeline.open_batches(
            dataset,
            records,
            prep=prep,
            protocol=options.protocol,
            batch_size=options.batch_size,
            workers=options.workers,
            device=device,
            use_cache=use_cache,
            decode=options.decode,
        ).batches

    cached = pipeline.find_cache(dataset, prep, options.protocol, options.decode)
    loader = _time_loader(source(False), device, sync)
    model_only = _time_model(model, cfg, len(records), options.batch_size, sync, ref)
    e2e = _time_pass(source(False), model, cfg, sync)
    e2e_cache = _time_pass(source(True), model, cfg, sync) if cached is not None else None
    return _summary(
        ref=ref,
        spec=spec,
        dataset=dataset,
        options=options,
        device=device,
        channels_last=channels_last,
        stages=(loader, model_only, e2e, e2e_cache),
        cache_path=str(cached.plan.directory) if cached is not None else None,
        notes=notes,
    )


def _channels_last(options: EvalOptions, device: torch.device, loaded: Any) -> bool:
    if options.channels_last is not None:
        return options.channels_last
    return device.type == "cpu" and getattr(loaded, "module", None) is not None


def _prepare(loaded: Any, options: EvalOptions, channels_last: bool) -> tuple[Any, list[str]]:
    from dataclasses import replace

    notes: list[str] = []
    module = getattr(loaded, "module", None)
    if module is None:
        if options.compile or options.channels_last:
            notes.append("--compile/--channels-last ignored: not a torch module")
        return loaded, notes
    if channels_last:
        module.to(memory_format=torch.channels_last)
    if options.compile:
        try:
            return replace(loaded, module=torch.compile(module)), notes
        except TypeError:
            notes.append("--compile ignored: this model wrapper cannot take a compiled module")
    return loaded, notes


def _sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _time_loader(
    batches: Iterable[Batch], device: torch.device, sync: Callable[[], None]
) -> Timing:
    clock = _Clock(sync)
    for batch in batches:
        if device.type != "cpu":
            batch.images.to(device, non_blocking=True)
        clock.batch(len(batch))
    return clock.timing


def _time_model(  # noqa: PLR0917 - the timed loop's inputs
    model: Any,
    cfg: core.PassContext,
    n_images: int,
    batch_size: int,
    sync: Callable[[], None],
    label: str,
) -> Timing:
    """Random uint8 batches already on the device, scored until enough time has passed."""
    from ilsvrc_bench.models.preprocess import normalize

    b = min(batch_size, n_images)
    v = protocols.n_views(cfg.options.protocol)
    size = cfg.prep.crop_size
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (b * v, 3, size, size), dtype=torch.uint8, generator=gen)
    images = images.to(cfg.device)
    clock = _Clock(sync)
    while True:
        x = normalize(images, cfg.prep)
        if cfg.options.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = core.forward(label, model, x, cfg)  # a failing model: ModelError, as in eval
        with torch.inference_mode():
            core.topk(out.float(), 5).cpu()
        clock.batch(b)
        t = clock.timing
        if t.steady_s >= MIN_MODEL_SECONDS and t.steady_images >= MIN_MODEL_BATCHES * b:
            return t
        if t.steady_images >= max(n_images, MIN_MODEL_BATCHES * b) and t.steady_s > 0:
            return t


def _time_pass(
    batches: Iterable[Batch], model: Any, cfg: core.PassContext, sync: Callable[[], None]
) -> Timing:
    """The evaluation loop itself, predictions stored in a throw-away run directory."""
    with tempfile.TemporaryDirectory(prefix="ilsvrc-bench-") as tmp:
        scorer = core.Scorer(
            label="bench", model=model, store=PredictionStore(Path(tmp), save_logits=False)
        )
        clock = _Clock(sync)
        core.run_pass(batches, [scorer], cfg, core.PassStats(), clock.batch)
    return clock.timing


def _summary(
    *,
    ref: str,
    spec: ModelSpec,
    dataset: DatasetLike,
    options: EvalOptions,
    device: torch.device,
    channels_last: bool,
    stages: Sequence[Timing | None],
    cache_path: str | None,
    notes: list[str],
) -> dict[str, Any]:
    loader, model_only, e2e, e2e_cache = (s.to_json() if s else None for s in stages)
    assert loader is not None and model_only is not None
    # One batch has no steady state: compare overall figures then (and say so).
    load_ips = loader["images_per_second"] or loader["overall_images_per_second"]
    model_ips = model_only["images_per_second"] or model_only["overall_images_per_second"]
    if not loader["images_per_second"]:
        notes.append("one batch only: no steady state, the bound compares overall figures")
    bound, ratio = None, None
    if load_ips and model_ips:
        bound = "loader" if load_ips < model_ips else "model"
        ratio = round(max(load_ips, model_ips) / min(load_ips, model_ips), 2)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": ref,
        "model_name": spec.name,
        "weights": spec.weights.name,
        "data": dataset.name,
        "n_images": loader["n_images"],
        "protocol": options.protocol,
        "preprocessing": asdict(spec.preprocessing),
        "decode": options.decode,
        "device": devices.device_info(device),
        "precision": options.precision,
        "batch_size": options.batch_size,
        "workers": options.workers,
        "channels_last": channels_last,
        "compile": options.compile,
        "intra_op_threads": torch.get_num_threads(),
        "machine": machine_info(),
        "loader": loader,
        "model_only": model_only,
        "end_to_end": e2e,
        "end_to_end_cache": e2e_cache,
        "cache": cache_path,
        "bound": bound,
        "bound_ratio": ratio,
        "notes": notes,
    }
