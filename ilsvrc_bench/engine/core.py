"""The core loop: uint8 batches in, top-5 predictions into each model's store. Nothing else.

Retry, run directories and metrics live elsewhere; this loop only moves batches to the device,
normalises them there, runs every model of the pass under ``inference_mode`` (and autocast
where asked), ranks classes with the one tie rule (``metrics.topk``) and appends the rows.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ilsvrc_bench.engine import device as devices
from ilsvrc_bench.engine.loader import Batch
from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.store import TOPK, PredictionStore, Rows
from ilsvrc_bench.errors import DataError, IlsvrcBenchError, ModelError, RunError
from ilsvrc_bench.models.spec import Preprocessing
from ilsvrc_bench.runs import compact_logits

N_CLASSES = 1000


@dataclass
class Scorer:
    """One model in a pass: how to call it and where its predictions go."""

    label: str
    model: Callable[[torch.Tensor], torch.Tensor]
    store: PredictionStore
    compute_s: float = 0.0
    n_scored: int = 0
    # Which of the batch's pixel recipes feeds it (``Batch.views``), and its own normalisation
    # (mean, std, channel order); None: the pass's ``PassContext.prep``.
    recipe: int = 0
    prep: Preprocessing | None = None


@dataclass(frozen=True)
class PassContext:
    """What a pass needs besides the settings: where it runs and the group's preprocessing.

    ``check`` runs after every batch (under torchrun it raises when another rank failed).
    """

    options: EvalOptions
    device: torch.device
    prep: Preprocessing
    check: Callable[[], None] = lambda: None
    flush_seconds: float = 30.0
    # Sorted-wnid class indices the dataset covers (ImageNet-R/-A): every other class's score is
    # set to -inf before softmax and ranking, so predictions and probabilities are over the subset.
    class_subset: tuple[int, ...] | None = None


@dataclass
class PassStats:
    """Accumulated over every pass of a group (out-of-memory retries included)."""

    wall_s: float = 0.0
    data_wait_s: float = 0.0
    n_images: int = 0
    batch_sizes: list[int] = field(default_factory=list)


def run_pass(
    batches: Iterable[Batch],
    scorers: Sequence[Scorer],
    cfg: PassContext,
    stats: PassStats,
    advance: Callable[[int], None] = lambda n: None,
) -> None:
    """Score every batch with every model that still needs its images; flush durably as it goes.

    Whatever happens (Ctrl-C, an error), rows scored so far are flushed before it propagates.
    """
    start = last_flush = time.perf_counter()
    since_flush = 0
    try:
        # Starting the loader (forking its workers) is waiting for data too.
        iterator = iter(batches)
        stats.data_wait_s += time.perf_counter() - start
        while True:
            t0 = time.perf_counter()
            batch = next(iterator, None)
            stats.data_wait_s += time.perf_counter() - t0
            if batch is None:
                break
            if cfg.options.strict and not bool(batch.readable.all()):
                first = next(
                    e for e, ok in zip(batch.errors, batch.readable.tolist(), strict=True) if not ok
                )
                raise DataError(f"unreadable image (--strict): {first}")
            _score_batch(batch, scorers, cfg)
            stats.n_images += len(batch)
            advance(len(batch))
            cfg.check()
            since_flush += 1
            now = time.perf_counter()
            elapsed = now - last_flush
            # Every flush_batches batches, but not more often than flush_min_seconds (an fsync
            # is not free), and at least every flush_seconds.
            opts = cfg.options
            due = since_flush >= opts.flush_batches and elapsed >= opts.flush_min_seconds
            if due or elapsed >= cfg.flush_seconds:
                for s in scorers:
                    s.store.flush()
                last_flush, since_flush = now, 0
    except BaseException:
        # Keep what was scored; a failing flush must not hide the original error.
        for s in scorers:
            with contextlib.suppress(RunError):
                s.store.flush()
        raise
    finally:
        stats.wall_s += time.perf_counter() - start
    for s in scorers:
        s.store.flush()


def _score_batch(batch: Batch, scorers: Sequence[Scorer], cfg: PassContext) -> None:
    index = batch.index.numpy()
    needs = [np.array([i not in s.store.done for i in index.tolist()], bool) for s in scorers]
    active = [(s, need) for s, need in zip(scorers, needs, strict=True) if need.any()]
    if not active:
        return
    # Each model input is made once: scorers reading the same recipe with the same
    # normalisation share it, and share the time it took.
    inputs: dict[tuple[object, ...], tuple[torch.Tensor, float]] = {}
    sharing = Counter(_input_key(s, cfg) for s, _ in active)
    readable = batch.readable.numpy()
    for scorer, need in active:
        key = _input_key(scorer, cfg)
        if key not in inputs:
            t0 = time.perf_counter()
            x = _model_input(batch.views(scorer.recipe), scorer.prep or cfg.prep, cfg)
            inputs[key] = (x, time.perf_counter() - t0)
        x, prep_s = inputs[key]
        b, v = batch.views(scorer.recipe).shape[:2]
        t1 = time.perf_counter()
        rows = _predict(
            scorer, x=x, b=b, v=v, cfg=cfg, index=index, readable=readable, errors=batch.errors
        )
        scorer.store.append(_take(rows, need))
        scorer.compute_s += time.perf_counter() - t1 + prep_s / sharing[key]
        scorer.n_scored += int(need.sum())


def _input_key(scorer: Scorer, cfg: PassContext) -> tuple[object, ...]:
    prep = scorer.prep or cfg.prep
    return (scorer.recipe, prep.mean, prep.std, prep.color_order)


def _model_input(images: torch.Tensor, prep: Preprocessing, cfg: PassContext) -> torch.Tensor:
    """uint8 ``[B, V, 3, H, W]`` views -> the normalised float ``[B*V, 3, H, W]`` on the device."""
    from ilsvrc_bench.models.preprocess import normalize

    images = images.to(cfg.device, non_blocking=cfg.device.type == "cuda")
    b, v = images.shape[:2]
    x = normalize(images.reshape(b * v, *images.shape[2:]), prep)
    if cfg.options.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _predict(
    scorer: Scorer,
    *,
    x: torch.Tensor,
    b: int,
    v: int,
    cfg: PassContext,
    index: np.ndarray,
    readable: np.ndarray,
    errors: list[str],
) -> Rows:
    out = _forward(scorer, x, cfg)
    if out.ndim != 2 or out.shape[0] != b * v or out.shape[1] != N_CLASSES:
        raise ModelError(
            f"{scorer.label}: the model returned outputs of shape {tuple(out.shape)} for "
            f"{b * v} inputs; expected [{b * v}, {N_CLASSES}] (one score per ILSVRC class; "
            "check num_outputs/class_offset)"
        )
    with torch.inference_mode():
        out = out.float()
        # An image with any NaN or inf among its scores (any view) is a miss, never ranked.
        finite = torch.isfinite(out).all(dim=1).view(b, v).all(dim=1).cpu().numpy()
        if cfg.class_subset is not None:
            out = restrict(out, cfg.class_subset)
        if v > 1:
            # Softmax averaged over the views; its log stands in for the logits.
            probs = torch.softmax(out, dim=1).view(b, v, N_CLASSES).mean(dim=1)
            scores = probs
            kept = probs.log()
        else:
            probs = torch.softmax(out, dim=1)
            scores = kept = out
        top = topk(scores, TOPK)
        pred = top.cpu().numpy().astype(np.int64)
        prob = probs.gather(1, top).cpu().numpy().astype(np.float32)
        logits = compact_logits(kept.cpu().numpy()) if cfg.options.save_logits else None
    bad = ~readable | ~finite
    pred[bad] = -1
    prob[bad] = 0.0
    if logits is not None:
        logits[~readable] = np.nan
    return Rows(index.copy(), readable.copy(), pred, prob, list(errors), logits, finite)


def _forward(scorer: Scorer, x: torch.Tensor, cfg: PassContext) -> torch.Tensor:
    return forward(scorer.label, scorer.model, x, cfg)


def forward(
    label: str, model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cfg: PassContext
) -> torch.Tensor:
    """The model on one batch; any failure but out-of-memory (which the retry handles) is a
    :class:`ModelError` naming the model, the batch shape and the exception's first line."""
    try:
        with devices.inference(), devices.autocast(cfg.device, cfg.options.precision):
            out = model(x)
    except IlsvrcBenchError:
        raise
    except (Exception, SystemExit) as exc:
        if devices.is_out_of_memory(exc):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ModelError(
            f"{label}: the model failed on a batch of shape {list(x.shape)}: "
            f"{type(exc).__name__}: {first}".rstrip(": ")
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise ModelError(
            f"{label}: the model returned {type(out).__name__} for a batch of shape "
            f"{list(x.shape)}; expected a tensor of scores"
        )
    return out


def restrict(scores: torch.Tensor, class_subset: Sequence[int]) -> torch.Tensor:
    """``scores`` with every class outside ``class_subset`` at -inf (ranked last, probability 0)."""
    keep = torch.zeros(scores.shape[1], dtype=torch.bool, device=scores.device)
    keep[torch.as_tensor(list(class_subset), dtype=torch.long, device=scores.device)] = True
    return scores.masked_fill(~keep, float("-inf"))


def topk(scores: torch.Tensor, k: int) -> torch.Tensor:
    """``metrics.topk`` on the scores' own device: higher first, ties to the lower class index.

    A stable descending sort keeps equal scores in index order, as ``metrics.topk``'s stable
    argsort of the negated scores does; NaN ranks last there, so it is made -inf here.
    """
    clean = torch.nan_to_num(scores, nan=float("-inf"))
    return torch.sort(clean, dim=1, descending=True, stable=True).indices[:, :k]


def _take(rows: Rows, which: np.ndarray) -> Rows:
    if which.all():
        return rows
    return Rows(
        rows.index[which],
        rows.readable[which],
        rows.pred[which],
        rows.prob[which],
        [e for e, w in zip(rows.errors, which.tolist(), strict=True) if w],
        rows.logits[which] if rows.logits is not None else None,
        rows.finite[which] if rows.finite is not None else None,
    )
