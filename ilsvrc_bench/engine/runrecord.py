"""The run record of one model: as it starts (status running) and as it ends (metrics, timings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from ilsvrc_bench import runs, serialize
from ilsvrc_bench.engine import accounting, rundir
from ilsvrc_bench.engine import device as devices
from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.store import Rows
from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models.spec import ModelSpec


@dataclass(frozen=True)
class RankStats:
    """One rank's share of a pass (one per process; a single process is rank 0 of 1)."""

    rank: int
    host: str
    device: Mapping[str, Any]
    images: int  # images this rank scored for the model (reused ones excluded)
    wall_s: float
    data_wait_s: float
    compute_s: float

    def as_record(self) -> runs.RankTiming:
        wall = self.wall_s
        return runs.RankTiming(
            rank=self.rank,
            host=self.host,
            device=runs.DeviceInfo(**self.device),
            images=self.images,
            wall_s=round(wall, 3),
            images_per_second=round(self.images / wall, 2) if wall > 0 and self.images else None,
        )


def start(
    *,
    ref: str,
    spec: ModelSpec,
    weights_sha: str | None,
    key: str,
    run_id: str,
    created_at: str | None,
    data_info: Mapping[str, Any],
    options: EvalOptions,
    device: torch.device,
) -> runs.RunRecord:
    """The record written when a run starts (or resumes): everything but the results."""
    return runs.RunRecord(
        schema_version=runs.SCHEMA_VERSION,
        run_id=run_id,
        status=runs.STATUS_RUNNING,
        created_at=created_at or runs.utc_now(),
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
        preprocessing=serialize.to_plain({**asdict(spec.preprocessing), **decoder(options)}),
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


def run_key(
    ref: str, spec: ModelSpec, weights_sha: str | None, manifest_sha: str, options: EvalOptions
) -> str:
    return runs.compute_run_key(
        model_ref=ref,
        weights_sha256=weights_sha,
        manifest_sha256=manifest_sha,
        preprocessing={**asdict(spec.preprocessing), **decoder(options)},
        protocol=options.protocol,
        precision=options.precision,
        limit=options.limit,
    )


def decoder(options: EvalOptions) -> dict[str, str]:
    """The decoder joins the recorded preprocessing only when it is not the exact CPU path, so
    records from before it was recorded still compare equal."""
    from ilsvrc_bench.engine import pipeline

    return {} if options.decode == "cpu" else {"decoder": pipeline.decoder_name(options.decode)}


def finish(
    record: runs.RunRecord,
    *,
    rows: Rows,
    subset: Sequence[Any],
    dataset: Any,
    ranks: Sequence[RankStats],
    backend: str | None,
    final_batch: int,
    reused: int,
    notes: Sequence[str],
) -> tuple[runs.RunRecord, str | None]:
    """The completed record and the label-order warning, if any.

    Raises :class:`ModelError` when no image got a finite output (the model is broken, not bad).
    """
    ordered = sorted(subset, key=lambda r: r.index)
    nonfinite = nonfinite_list(rows, ordered)
    if ordered and len(nonfinite) == len(ordered):
        raise ModelError(
            f"{record.model.ref}: the model's outputs held NaN or inf for every one of the "
            f"{len(ordered)} images (fp16 overflow? broken weights or export?); no accuracy "
            f"recorded; run {record.run_id} is kept"
        )
    warning = accounting.label_order_warning(rows, ordered, dataset)
    all_notes = list(notes)
    if nonfinite:
        all_notes.append(
            f"{len(nonfinite)} image(s) with NaN or inf model outputs counted as misses "
            "(listed under nonfinite)"
        )
    metrics = replace(accounting.compute_metrics(rows, ordered), n_nonfinite=len(nonfinite))
    final = replace(
        record,
        status=runs.STATUS_COMPLETE,
        finished_at=runs.utc_now(),
        batch_size=final_batch,
        metrics=metrics,
        unreadable=accounting.unreadable_list(rows, subset),
        nonfinite=tuple(nonfinite),
        timings=_timings(ranks),
        distributed=_distributed(ranks, backend),
        reused_images=reused,
        notes=tuple(all_notes + ([warning] if warning else [])),
    )
    return final, warning


def nonfinite_list(rows: Rows, records: Sequence[Any]) -> list[runs.NonfiniteImage]:
    """The images whose model outputs were not finite, in manifest order."""
    paths = {r.index: r.path for r in records}
    bad = (~rows.finite_mask) & rows.readable
    return [
        runs.NonfiniteImage(index=int(i), path=paths.get(int(i))) for i in rows.index[bad].tolist()
    ]


def _timings(ranks: Sequence[RankStats]) -> runs.Timings:
    # The slowest rank is the run's wall time; shares are over every rank's time together.
    wall = max(r.wall_s for r in ranks)
    total = sum(r.wall_s for r in ranks)
    fresh = sum(r.images for r in ranks)
    return runs.Timings(
        wall_s=round(wall, 3),
        images_per_second=round(fresh / wall, 2) if wall > 0 and fresh else None,
        data_wait_share=round(sum(r.data_wait_s for r in ranks) / total, 4) if total > 0 else None,
        compute_share=round(sum(r.compute_s for r in ranks) / total, 4) if total > 0 else None,
        images_this_process=fresh,
    )


def _distributed(ranks: Sequence[RankStats], backend: str | None) -> runs.Distributed | None:
    if backend is None:
        return None
    return runs.Distributed(
        world_size=len(ranks), backend=backend, ranks=tuple(r.as_record() for r in ranks)
    )
