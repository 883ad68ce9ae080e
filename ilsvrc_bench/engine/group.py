"""One group of a plan: open each model's run, one decoding pass for all, finish each record.

Under torchrun every rank runs this with the same plan: rank 0 claims (or creates) the run
directories and tells the others; each rank scores its shard of the batch grid into its own
chunks; when every rank is done, rank 0 merges the chunks into ``predictions.parquet`` and the
record, and every rank returns the same results.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ilsvrc_bench import runs
from ilsvrc_bench.engine import core, distributed, pipeline, retry, rundir, runrecord
from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.plan import Group, Plan, PlannedModel
from ilsvrc_bench.engine.result import EvalResult
from ilsvrc_bench.engine.store import PredictionStore
from ilsvrc_bench.errors import IlsvrcBenchError, ModelError, RunError, UsageError
from ilsvrc_bench.models.spec import Preprocessing
from ilsvrc_bench.progress import Progress

LoadFn = Callable[..., Any]


@dataclass
class _Run:
    planned: PlannedModel
    run_dir: Path
    record: runs.RunRecord
    store: PredictionStore
    scorer: core.Scorer
    notes: list[str] = field(default_factory=list)


def run_group(
    plan: Plan, group: Group, *, load: LoadFn, progress: Progress
) -> list[tuple[int, EvalResult]]:
    """``(position, result)`` for every model of the group."""
    world = plan.world
    with contextlib.ExitStack() as stack:
        # Load every model of the group before any run directory is made.
        loaded = _load_each(group, plan.device, load)
        channels_last = _channels_last(plan.options, plan.device, loaded)
        plan = replace(plan, options=replace(plan.options, channels_last=channels_last))
        prepared = [_prepare(plan, m, model) for m, model in zip(group.models, loaded, strict=True)]
        _check_same_models(world, prepared)
        opened = on_main(world, lambda: [_claim(plan, p, stack) for p in prepared])
        active = [
            _open(plan, p, run_dir, rec) for p, (run_dir, rec) in zip(prepared, opened, strict=True)
        ]
        if plan.options.cache:
            # One writer: rank 0 builds (or finishes) the cache while the others wait.
            on_main(world, lambda: _build_cache(plan, group.prep, progress))
        # Every rank has read the chunks already on disk before any rank writes a new one.
        world.gather(None)
        stats = core.PassStats()
        notes: list[str] = []
        if plan.class_subset is not None:
            n = len(plan.class_subset)
            notes.append(f"scores restricted to the dataset's {n} classes before ranking")

        def on_retry(message: str) -> None:
            notes.append(message)
            progress.note(message)

        with world.watch():
            _, final_batch = retry.with_oom_retry(
                lambda size: _one_pass(
                    plan, group, active, stats, size, progress=progress, notes=notes
                ),
                batch_size=plan.options.batch_size,
                device=plan.device,
                on_retry=on_retry,
            )
        if len(active) > 1:
            names = ", ".join(dict.fromkeys(a.planned.spec.name for a in active))
            recipes = f" ({len(group.recipes)} pixel recipes)" if len(group.recipes) > 1 else ""
            notes.append(f"each image decoded once for {len(active)} runs of {names}{recipes}")
        mine = [_rank_timing(world, plan.device, stats, a.scorer) for a in active]
        timings = world.gather(mine)
        records = on_main(
            world,
            lambda: [
                _finish(plan, a, [t[i] for t in timings], final_batch, notes)
                for i, a in enumerate(active)
            ],
        )
        return [
            (a.planned.position, _result(rec, a.run_dir, warning))
            for a, (rec, warning) in zip(active, records, strict=True)
        ]
    raise AssertionError("unreachable")  # pragma: no cover


def _load_each(group: Group, device: torch.device, load: LoadFn) -> list[Any]:
    """Every model of the group, each built once: models that differ only in preprocessing (a
    sweep's points) share one build (``ModelSource.build`` does not read the preprocessing), so
    a grid of P points holds one copy of the weights or one runtime session, not P."""
    built: dict[Any, Any] = {}
    out = []
    for m in group.models:
        same = _identity(m)
        first = built.get(same) if same is not None else None
        if is_dataclass(first):
            out.append(replace(first, spec=m.spec))  # type: ignore[type-var]
            continue
        loaded = load(m.spec, device=device)
        if same is not None:
            built.setdefault(same, loaded)
        out.append(loaded)
    return out


def _identity(m: PlannedModel) -> Any | None:
    """What a model is, its preprocessing left out; None when a spec field cannot be hashed."""
    same = (m.ref, replace(m.spec, preprocessing=Preprocessing()))
    try:
        hash(same)
    except TypeError:
        return None
    return same


def on_main(world: distributed.World, work: Callable[[], Any]) -> Any:
    """``work()`` on rank 0, its value (or its error, raised again) on every rank."""
    outcome: tuple[str, Any] = ("ok", None)
    if world.is_main:
        try:
            outcome = ("ok", work())
        except IlsvrcBenchError as exc:
            if not world.distributed:
                raise
            outcome = ("error", exc)
    status, value = world.broadcast(outcome)
    if status == "error":
        raise value
    return value


@dataclass
class _Prepared:
    planned: PlannedModel
    model: Any
    key: str
    weights_sha: str | None
    notes: list[str]


def _prepare(plan: Plan, planned: PlannedModel, loaded: Any) -> _Prepared:
    weights_sha = loaded.weights_sha256 or rundir.state_sha256(getattr(loaded, "module", None))
    # What the model source assumed (a dropped background class, the input's quantisation):
    # the run says so, and eval prints it.
    notes: list[str] = list(planned.spec.notes)
    model = _prepare_model(loaded, plan.options, notes)
    key = runrecord.run_key(
        planned.ref, planned.spec, weights_sha, plan.data_info["manifest_sha256"], plan.options
    )
    return _Prepared(planned, model, key, weights_sha, notes)


def _check_same_models(world: distributed.World, prepared: Sequence[_Prepared]) -> None:
    """Under torchrun every rank must score with the same weights (random init differs)."""
    keys = world.gather([p.key for p in prepared])
    for rank, theirs in enumerate(keys):
        for mine, other, p in zip(keys[0], theirs, prepared, strict=True):
            if mine != other:
                raise ModelError(
                    f"{p.planned.ref}: rank {rank} loaded other weights than rank 0 (weights "
                    "drawn at random in each process?); save them to a file and pass --weights FILE"
                )


def _claim(plan: Plan, p: _Prepared, stack: contextlib.ExitStack) -> tuple[Path, runs.RunRecord]:
    """Rank 0: the run directory (an interrupted one with this key, else a new one)."""
    options = plan.options
    run_dir = rundir.claim_resumable(plan.runs_dir, p.key, stack) if options.resume else None
    created = None
    if run_dir is None:
        run_dir = plan.runs_dir / runs.new_run_id(p.planned.spec.name)
        try:
            run_dir.mkdir(parents=True)
        except OSError as exc:
            raise RunError(f"cannot create run directory {run_dir}: {exc.strerror}") from exc
        rundir.lock(run_dir, stack)
    else:
        created = runs.read_record(run_dir).created_at
    record = runrecord.start(
        ref=p.planned.ref,
        spec=p.planned.spec,
        weights_sha=p.weights_sha,
        key=p.key,
        run_id=run_dir.name,
        created_at=created,
        data_info=plan.data_info,
        options=options,
        device=plan.device,
    )
    runs.write_record(run_dir, record)
    return run_dir, record


def _open(plan: Plan, p: _Prepared, run_dir: Path, record: runs.RunRecord) -> _Run:
    world = plan.world
    if not run_dir.is_dir():
        raise RunError(
            f"rank {world.rank} on {world.host}: run directory {run_dir} (made by rank 0) is not "
            "here; under torchrun the runs directory must be on a file system every node shares"
        )
    store = PredictionStore(
        run_dir,
        save_logits=plan.options.save_logits,
        rank=world.rank if world.distributed else None,
    )
    notes = p.notes + store.notes
    if plan.options.strict:
        # --strict holds on resume too: images an earlier run could not read are read again.
        store.forget_unreadable()
    if store.n_reused:
        notes.append(f"resumed {run_dir.name}: reused {store.n_reused} images")
    scorer = core.Scorer(
        label=p.planned.ref,
        model=p.model,
        store=store,
        recipe=p.planned.recipe,
        prep=p.planned.spec.preprocessing,
    )
    return _Run(p.planned, run_dir, record, store, scorer, notes)


def _one_pass(
    plan: Plan,
    group: Group,
    active: Sequence[_Run],
    stats: core.PassStats,
    batch_size: int,
    *,
    progress: Progress,
    notes: list[str],
) -> None:
    world, options = plan.world, plan.options
    subset = plan.subset

    def keep(position: int) -> bool:
        # The shard follows the grid of the batch size asked for, so halving the batch size
        # after an out-of-memory error keeps every image on its rank.
        mine = distributed.shard_keep(
            position, batch_size=options.batch_size, rank=world.rank, world_size=world.size
        )
        return mine and any(subset[position].index not in a.store.done for a in active)

    pending = [keep(i) for i in range(len(subset))]
    names = ", ".join(a.planned.spec.name for a in active)
    if world.distributed:
        names = f"rank {world.rank}/{world.size}: {names}"
    total = sum(
        distributed.shard_keep(
            i, batch_size=options.batch_size, rank=world.rank, world_size=world.size
        )
        for i in range(len(subset))
    )
    progress.start(names, total, total - sum(pending))
    try:
        source = pipeline.open_batches(
            plan.dataset,
            subset,
            keep=pending.__getitem__,
            prep=group.prep,
            also=group.recipes[1:],
            protocol=options.protocol,
            batch_size=batch_size,
            workers=options.workers,
            device=plan.device,
            use_cache=options.cache is not False,
            decode=options.decode,
        )
        if source.note and source.note not in notes:
            notes.append(source.note)
        stats.batch_sizes.append(batch_size)
        cfg = core.PassContext(
            options=options,
            device=plan.device,
            prep=group.prep,
            check=world.check,
            class_subset=plan.class_subset,
        )
        core.run_pass(source.batches, [a.scorer for a in active], cfg, stats, progress.advance)
    finally:
        progress.stop()


def _rank_timing(
    world: distributed.World, device: torch.device, stats: core.PassStats, scorer: core.Scorer
) -> runrecord.RankStats:
    from ilsvrc_bench.engine import device as devices

    return runrecord.RankStats(
        rank=world.rank,
        host=world.host,
        device=devices.device_info(device),
        images=scorer.n_scored,
        wall_s=stats.wall_s,
        data_wait_s=stats.data_wait_s,
        compute_s=scorer.compute_s,
    )


def _finish(
    plan: Plan,
    run: _Run,
    ranks: Sequence[runrecord.RankStats],
    final_batch: int,
    group_notes: Sequence[str],
) -> tuple[runs.RunRecord, str | None]:
    """Rank 0: merge every chunk into predictions.parquet and write the completed record."""
    store = run.store
    if plan.world.distributed:
        # The other ranks' chunks: read them all from disk now that every rank is done.
        store.flush()
        store = PredictionStore(run.run_dir, save_logits=plan.options.save_logits)
    rows = store.finish(plan.subset)
    record, warning = runrecord.finish(
        run.record,
        rows=rows,
        subset=plan.subset,
        dataset=plan.dataset,
        ranks=ranks,
        backend=plan.world.backend,
        final_batch=final_batch,
        reused=run.store.n_reused,
        notes=run.notes + list(group_notes),
    )
    runs.write_record(run.run_dir, record)
    return record, warning


def _result(record: runs.RunRecord, run_dir: Path, warning: str | None) -> EvalResult:
    warnings = (warning,) if warning else ()
    notes = tuple(n for n in record.notes if n not in warnings)
    return EvalResult(record=record, run_dir=run_dir, notes=notes, warnings=warnings)


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


def _build_cache(plan: Plan, prep: Preprocessing, progress: Progress) -> None:
    """``--cache``: write (or finish) the preprocessed cache before the pass reads it."""
    from ilsvrc_bench.engine import cache as caches

    options = plan.options
    if options.decode != "cpu":
        raise UsageError(
            "--cache stores the exact CPU path's views; it cannot go with --decode gpu"
        )
    target = caches.plan(plan.dataset, prep, options.protocol)
    complete, have = caches.status(target)
    if complete:
        return
    size = f"{target.size_bytes / 2**30:.2f} GiB"
    progress.note(f"writing the preprocessed cache ({size}) to {target.directory}")
    progress.start("caching", target.n_images, have)
    try:
        caches.build(plan.dataset, prep, target, workers=options.workers, on_chunk=progress.advance)
    finally:
        progress.stop()


def _channels_last(options: EvalOptions, device: torch.device, loaded: Sequence[Any]) -> bool:
    """``--channels-last`` as given, else on for torch modules on the CPU: oneDNN's channels_last
    convolutions took 30-45% less CPU time than contiguous ones for AlexNet and ResNet-18 on the
    2-core machine of docs/performance.md (it changes float rounding, so the run records it)."""
    if options.channels_last is not None:
        return options.channels_last
    return device.type == "cpu" and all(getattr(m, "module", None) is not None for m in loaded)
