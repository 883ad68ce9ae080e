"""One ``eval`` invocation: open the data, group models by preprocessing, run each group's pass
(with out-of-memory retry), and write each model's run record. Returns results; never prints."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ilsvrc_bench import runs, serialize
from ilsvrc_bench.engine import accounting, core, pipeline, protocols, retry, rundir
from ilsvrc_bench.engine import device as devices
from ilsvrc_bench.engine.loader import DatasetLike
from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.result import EvalResult, NullProgress, Progress
from ilsvrc_bench.engine.store import PredictionStore
from ilsvrc_bench.engine.subset import stratified_subset
from ilsvrc_bench.errors import DataError, RunError, UsageError
from ilsvrc_bench.models.choices import PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing

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
    """Evaluate each model reference on a prepared dataset; one run record per model."""
    from ilsvrc_bench import paths
    from ilsvrc_bench.data import open_dataset
    from ilsvrc_bench.models import load, resolve

    if not models:
        raise UsageError("no model given; use -m MODEL")
    options = options or EvalOptions()
    out_dir = paths.runs_dir(runs_dir, root=root)
    rundir.ensure_writable(out_dir)
    device = devices.select_device(options.device)
    devices.check_precision(options.precision, device)
    dataset = open_dataset(data, root=root)
    specs = [(ref, resolve(ref, weights=weights, preprocessing=preprocessing)) for ref in models]
    return evaluate_specs(
        specs,
        dataset,
        runs_dir=out_dir,
        options=options,
        progress=progress,
        load=load,
        device=device,
    )


def evaluate_specs(
    specs: Sequence[tuple[str, ModelSpec]],
    dataset: DatasetLike,
    *,
    runs_dir: Path,
    options: EvalOptions,
    load: LoadFn,
    progress: Progress | None = None,
    device: torch.device | None = None,
) -> list[EvalResult]:
    """Evaluate resolved specs on an opened dataset; ``load(spec, device=...)`` builds a model.

    Models with equal preprocessing share one decoding pass.
    """
    progress = progress or NullProgress()
    device = device or devices.select_device(options.device)
    devices.check_precision(options.precision, device)
    pipeline.check_decode(options.decode, device)
    rundir.ensure_writable(runs_dir)
    records = list(dataset.records)
    _check_manifest_count(dataset, records)
    _check_storage(dataset)
    subset, subset_sha = stratified_subset(records, options.limit)
    class_subset = _class_subset(dataset)
    groups: dict[tuple[Any, ...], list[tuple[str, ModelSpec]]] = {}
    for ref, spec in specs:
        protocols.check(options.protocol, spec.preprocessing)
        groups.setdefault(spec.preprocessing.key, []).append((ref, spec))
    data_info = {
        "name": dataset.name,
        "path": str(dataset.path),
        "source": dataset.source,
        "split": dataset.split,
        "manifest_sha256": dataset.manifest_sha256,
        "n_images": len(records),
        "limit": options.limit,
        "subset_sha256": subset_sha,
        "class_subset": tuple(class_subset) if class_subset else None,
        # prepared datasets say whether they hold all of ILSVRC2012 val; in-memory ones do not
        "is_subset": getattr(dataset, "info", {}).get("is_subset"),
    }
    results: list[EvalResult] = []
    for group in groups.values():
        results += _evaluate_group(
            group,
            dataset=dataset,
            subset=subset,
            data_info=data_info,
            runs_dir=runs_dir,
            options=options,
            load=load,
            progress=progress,
            device=device,
        )
    # In the order the models were given, whatever the grouping.
    order = {id(spec): i for i, (_, spec) in enumerate(specs)}
    by_spec = {id(spec): r for (_, spec), r in zip(_flatten(groups), results, strict=True)}
    return [by_spec[k] for k in sorted(by_spec, key=order.__getitem__)]


def _flatten(
    groups: Mapping[tuple[Any, ...], Sequence[tuple[str, ModelSpec]]],
) -> list[tuple[str, ModelSpec]]:
    return [item for group in groups.values() for item in group]


def _class_subset(dataset: DatasetLike) -> tuple[int, ...] | None:
    """The classes a subset-of-classes dataset (ImageNet-R/-A) covers; None for all 1000."""
    from ilsvrc_bench.data.shifts import dataset_class_subset

    info = getattr(dataset, "info", None)
    return dataset_class_subset(info if isinstance(info, Mapping) else None)


def _check_storage(dataset: DatasetLike) -> None:
    """A dataset read in place from a tar that is gone fails at once, not image by image."""
    storage = getattr(dataset, "storage", None)
    location = getattr(storage, "location", None)
    if location is not None and not Path(location).exists():
        raise DataError(
            f"{location}: the data of dataset {dataset.name} is gone (moved or deleted since it "
            "was prepared); prepare it again"
        )


def _check_manifest_count(dataset: DatasetLike, records: Sequence[Any]) -> None:
    info = getattr(dataset, "info", None) or {}
    declared = info.get("n_images") if isinstance(info, Mapping) else None
    if declared is not None and int(declared) != len(records):
        raise DataError(
            f"{dataset.path}: dataset.json declares {declared} images but the manifest has "
            f"{len(records)}; prepare the data again"
        )
    if len({r.index for r in records}) != len(records):
        raise DataError(f"{dataset.path}: the manifest repeats image indices")


@dataclass
class _Run:
    ref: str
    spec: ModelSpec
    loaded: Any
    run_dir: Path
    record: runs.RunRecord
    store: PredictionStore
    scorer: core.Scorer
    notes: list[str] = field(default_factory=list)


def _evaluate_group(
    group: Sequence[tuple[str, ModelSpec]],
    *,
    dataset: DatasetLike,
    subset: Sequence[Any],
    data_info: dict[str, Any],
    runs_dir: Path,
    options: EvalOptions,
    load: LoadFn,
    progress: Progress,
    device: torch.device,
) -> list[EvalResult]:
    prep = group[0][1].preprocessing
    with contextlib.ExitStack() as stack:
        active: list[_Run] = []
        # Load every model of the group before any run directory is made.
        loaded_models = [load(spec, device=device) for _, spec in group]
        options = replace(options, channels_last=_channels_last(options, device, loaded_models))
        for (ref, spec), loaded in zip(group, loaded_models, strict=True):
            active.append(
                _open_run(
                    ref,
                    spec,
                    loaded,
                    data_info=data_info,
                    runs_dir=runs_dir,
                    options=options,
                    device=device,
                    stack=stack,
                )
            )
        if options.cache:
            _build_cache(dataset, prep, options, progress)
        stats = core.PassStats()
        cfg = core.PassConfig(
            device=device,
            prep=prep,
            protocol=options.protocol,
            precision=options.precision,
            channels_last=bool(options.channels_last),
            strict=options.strict,
            save_logits=options.save_logits,
            class_subset=tuple(data_info["class_subset"]) if data_info["class_subset"] else None,
            flush_batches=options.flush_batches,
            flush_min_seconds=options.flush_min_seconds,
        )
        notes: list[str] = []
        if cfg.class_subset is not None:
            notes.append(
                f"scores restricted to the dataset's {len(cfg.class_subset)} classes before ranking"
            )

        def on_retry(message: str) -> None:
            notes.append(message)
            progress.note(message)

        def one_pass(batch_size: int) -> None:
            pending = [any(r.index not in a.store.done for a in active) for r in subset]
            progress.start(
                ", ".join(a.spec.name for a in active), len(subset), len(subset) - sum(pending)
            )
            try:
                source = pipeline.open_batches(
                    dataset,
                    subset,
                    keep=pending.__getitem__,
                    prep=prep,
                    protocol=options.protocol,
                    batch_size=batch_size,
                    workers=options.workers,
                    device=device,
                    use_cache=options.cache is not False,
                    decode=options.decode,
                )
                if source.note and source.note not in notes:
                    notes.append(source.note)
                stats.batch_sizes.append(batch_size)
                core.run_pass(
                    source.batches, [a.scorer for a in active], cfg, stats, progress.advance
                )
            finally:
                progress.stop()

        _, final_batch = retry.with_oom_retry(
            one_pass, batch_size=options.batch_size, device=device, on_retry=on_retry
        )
        if len(active) > 1:
            notes.append("decoded once for " + ", ".join(a.spec.name for a in active))
        return [
            _finish(
                a,
                dataset=dataset,
                subset=subset,
                stats=stats,
                final_batch=final_batch,
                group_notes=notes,
            )
            for a in active
        ]
    raise AssertionError("unreachable")  # pragma: no cover


def _open_run(
    ref: str,
    spec: ModelSpec,
    loaded: Any,
    *,
    data_info: dict[str, Any],
    runs_dir: Path,
    options: EvalOptions,
    device: torch.device,
    stack: contextlib.ExitStack,
) -> _Run:
    notes: list[str] = []
    weights_sha = loaded.weights_sha256 or rundir.state_sha256(getattr(loaded, "module", None))
    model = _prepare_model(loaded, options, notes)
    prep = spec.preprocessing
    key = runs.compute_run_key(
        model_ref=ref,
        weights_sha256=weights_sha,
        manifest_sha256=data_info["manifest_sha256"],
        preprocessing={**asdict(prep), **_decoder(options)},
        protocol=options.protocol,
        precision=options.precision,
        limit=options.limit,
    )
    run_dir = rundir.claim_resumable(runs_dir, key, stack) if options.resume else None
    created = None
    if run_dir is None:
        run_dir = runs_dir / runs.new_run_id(spec.name)
        try:
            run_dir.mkdir(parents=True)
        except OSError as exc:
            raise RunError(f"cannot create run directory {run_dir}: {exc.strerror}") from exc
        rundir.lock(run_dir, stack)
    else:
        created = runs.read_record(run_dir).created_at
    record = runs.RunRecord(
        schema_version=runs.SCHEMA_VERSION,
        run_id=run_dir.name,
        status=runs.STATUS_RUNNING,
        created_at=created or runs.utc_now(),
        command=tuple(options.command),
        model=runs.ModelInfo.from_spec(spec, ref=ref),
        weights=runs.WeightsIdentity(
            name=spec.weights.name,
            sha256=weights_sha,
            path=spec.weights.path,
            url=spec.weights.url,
            random=spec.weights.is_random,
        ),
        data=runs.DataIdentity(**data_info),
        preprocessing=serialize.to_plain({**asdict(prep), **_decoder(options)}),
        protocol=options.protocol,
        precision=options.precision,
        device=runs.DeviceInfo(**devices.device_info(device)),
        batch_size=options.batch_size,
        workers=options.workers,
        channels_last=bool(options.channels_last),
        compile=options.compile,
        versions=rundir.library_versions(),
        run_key=key,
    )
    runs.write_record(run_dir, record)
    store = PredictionStore(run_dir, save_logits=options.save_logits)
    notes += store.notes
    if store.n_reused:
        notes.append(f"resumed {run_dir.name}: reused {store.n_reused} images")
    scorer = core.Scorer(label=ref, model=model, store=store)
    return _Run(ref, spec, loaded, run_dir, record, store, scorer, notes)


def _build_cache(
    dataset: DatasetLike, prep: Preprocessing, options: EvalOptions, progress: Progress
) -> None:
    """``--cache``: write (or finish) the preprocessed cache before the pass reads it."""
    from ilsvrc_bench.engine import cache as caches

    if options.decode != "cpu":
        raise UsageError(
            "--cache stores the exact CPU path's views; it cannot go with --decode gpu"
        )
    target = caches.plan(dataset, prep, options.protocol)
    complete, have = caches.status(target)
    if complete:
        return
    size = f"{target.size_bytes / 2**30:.2f} GiB"
    progress.note(f"writing the preprocessed cache ({size}) to {target.directory}")
    progress.start("caching", target.n_images, have)
    try:
        caches.build(dataset, prep, target, workers=options.workers, on_chunk=progress.advance)
    finally:
        progress.stop()


def _decoder(options: EvalOptions) -> dict[str, str]:
    """The decoder joins the recorded preprocessing only when it is not the exact CPU path, so
    records from before it was recorded still compare equal."""
    return {} if options.decode == "cpu" else {"decoder": pipeline.decoder_name(options.decode)}


def _channels_last(options: EvalOptions, device: torch.device, loaded: Sequence[Any]) -> bool:
    """``--channels-last`` as given, else on for torch modules on the CPU: oneDNN's channels_last
    convolutions took 30-45% less CPU time than contiguous ones for AlexNet and ResNet-18 on the
    2-core machine of docs/performance.md (it changes float rounding, so the run records it)."""
    if options.channels_last is not None:
        return options.channels_last
    return device.type == "cpu" and all(getattr(m, "module", None) is not None for m in loaded)


def _prepare_model(loaded: Any, options: EvalOptions, notes: list[str]) -> Any:
    """channels_last and torch.compile where the model is a torch module; notes otherwise."""
    module = getattr(loaded, "module", None)
    if module is None:
        if options.precision != "fp32":
            raise UsageError(f"--precision {options.precision}: this model runs in fp32 only")
        for flag in ("channels_last", "compile"):
            if getattr(options, flag):
                notes.append(f"--{flag.replace('_', '-')} ignored: not a torch module")
        return loaded
    if options.channels_last:
        module.to(memory_format=torch.channels_last)
    if options.compile:
        compiled = torch.compile(module)
        try:
            return replace(loaded, module=compiled)
        except TypeError:
            notes.append("--compile ignored: this model wrapper cannot take a compiled module")
    return loaded


def _finish(
    run: _Run,
    *,
    dataset: DatasetLike,
    subset: Sequence[Any],
    stats: core.PassStats,
    final_batch: int,
    group_notes: list[str],
) -> EvalResult:
    rows = run.store.finish(subset)
    ordered = sorted(subset, key=lambda r: r.index)
    warning = accounting.label_order_warning(rows, ordered, dataset)
    wall = stats.wall_s
    fresh = run.scorer.n_scored
    timings = runs.Timings(
        wall_s=round(wall, 3),
        images_per_second=round(fresh / wall, 2) if wall > 0 and fresh else None,
        data_wait_share=round(stats.data_wait_s / wall, 4) if wall > 0 else None,
        compute_share=round(run.scorer.compute_s / wall, 4) if wall > 0 else None,
        images_this_process=fresh,
    )
    record = replace(
        run.record,
        status=runs.STATUS_COMPLETE,
        finished_at=runs.utc_now(),
        batch_size=final_batch,
        metrics=accounting.compute_metrics(rows, ordered),
        unreadable=accounting.unreadable_list(rows, subset),
        timings=timings,
        reused_images=run.store.n_reused,
        notes=tuple(run.notes + group_notes + ([warning] if warning else [])),
    )
    runs.write_record(run.run_dir, record)
    warnings = (warning,) if warning else ()
    notes = tuple(n for n in record.notes if n not in warnings)
    return EvalResult(record=record, run_dir=run.run_dir, notes=notes, warnings=warnings)
