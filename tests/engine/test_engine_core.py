"""The engine against an in-memory dataset and tiny models: accounting, misses, resume, retry."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
import torch

from ilsvrc_bench import metrics, runs, serialize
from ilsvrc_bench.engine import EvalOptions, evaluate_specs
from ilsvrc_bench.engine.store import PredictionStore
from ilsvrc_bench.errors import DataError, DeviceError, ModelError, RunError
from tests.engine.helpers import MemoryDataset, Tiny, loader_for, spec


def run(
    tmp_path: Path, ds: MemoryDataset, modules: dict[str, object] | None = None, **opts: object
) -> list:  # type: ignore[type-arg]
    modules = modules or {"tiny": Tiny()}
    specs = [(name, spec(name=name)) for name in modules]
    options = EvalOptions(device="cpu", workers=0, **opts)  # type: ignore[arg-type]
    return evaluate_specs(
        specs, ds, runs_dir=tmp_path / "runs", options=options, load=loader_for(modules)
    )


def reference_preds(ds: MemoryDataset, model: torch.nn.Module) -> np.ndarray:
    """An independent loop: PIL decode, torchvision transforms, stable top-5."""
    import io

    from PIL import Image
    from torchvision import transforms as T

    tf = T.Compose(
        [
            T.Resize(40),
            T.CenterCrop(32),
            T.ToTensor(),
            T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )
    xs = [tf(Image.open(io.BytesIO(ds.read_bytes(r))).convert("RGB")) for r in ds.records]
    with torch.no_grad():
        logits = model(torch.stack(xs)).numpy()
    return metrics.topk(logits, 5)


def test_every_image_scored_once_with_a_ragged_last_batch(tmp_path: Path) -> None:
    ds = MemoryDataset(n=11)
    (result,) = run(tmp_path, ds, batch_size=3)
    df = runs.read_predictions(result.run_dir)
    assert df["index"].tolist() == list(range(11))
    assert result.record.metrics.n_images == 11
    assert result.record.status == "complete"
    assert not (result.run_dir / runs.CHUNKS).exists()
    pred = np.stack(df["pred"].to_list())
    assert np.array_equal(pred, reference_preds(ds, Tiny()))
    acc = metrics.accuracy(df["label"].to_numpy(), pred)
    assert result.record.metrics.top1_acc == acc.top1_acc
    assert result.record.metrics.top5_correct == acc.top5_correct
    assert runs.read_record(result.run_dir) == result.record


def test_unreadable_image_is_a_listed_miss(tmp_path: Path) -> None:
    ds = MemoryDataset(n=8, broken=frozenset({3}))
    constant = lambda x: torch.zeros(x.shape[0], 1000)  # noqa: E731 - ties: classes 0..4
    (result,) = run(tmp_path, ds, {"tiny": constant}, batch_size=4)
    m = result.record.metrics
    assert m is not None and m.n_images == 8 and m.n_unreadable == 1
    # Labels are i % 4, every readable image has its label in the top 5 (0..4), image 3 does not.
    assert m.top5_correct == 7
    assert result.record.unreadable == (
        runs.UnreadableImage(
            index=3, path="img003.png", error="/mem/img003.png: cannot read image (vanished)"
        ),
    )
    df = runs.read_predictions(result.run_dir)
    assert df["readable"].tolist() == [i != 3 for i in range(8)]
    assert list(df["pred"].iloc[3]) == [-1] * 5
    assert list(df["pred"].iloc[0]) == [0, 1, 2, 3, 4]  # the tie rule: lower index first


def test_strict_makes_unreadable_an_error(tmp_path: Path) -> None:
    ds = MemoryDataset(n=8, broken=frozenset({5}))
    with pytest.raises(DataError, match=r"--strict.*img005"):
        run(tmp_path, ds, strict=True, batch_size=2)


def test_output_width_mismatch_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"\[4, 1000\]"):
        run(tmp_path, MemoryDataset(n=4), {"tiny": Tiny(width=10)})


def test_manifest_count_mismatch_fails_loudly(tmp_path: Path) -> None:
    ds = MemoryDataset(n=4, info={"n_images": 5})
    with pytest.raises(DataError, match="declares 5 images but the manifest has 4"):
        run(tmp_path, ds)


def test_two_models_share_one_decoding_pass(tmp_path: Path) -> None:
    ds = MemoryDataset(n=6)
    results = run(tmp_path, ds, {"a": Tiny(seed=1), "b": Tiny(seed=2)}, batch_size=4)
    assert ds.reads == 6
    assert len({r.run_dir for r in results}) == 2
    for r, seed in zip(results, (1, 2), strict=True):
        pred = np.stack(runs.read_predictions(r.run_dir)["pred"].to_list())
        assert np.array_equal(pred, reference_preds(ds, Tiny(seed=seed)))


def test_interrupted_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    ds = MemoryDataset(n=10)
    (full,) = run(tmp_path / "a", ds, batch_size=2, flush_batches=1, flush_min_seconds=0)
    calls = {"n": 0}
    model = Tiny()

    def flaky(x: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return model(x)

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", ds, {"tiny": flaky}, batch_size=2, flush_batches=1, flush_min_seconds=0)
    (run_dir,) = runs.iter_run_dirs(tmp_path / "b" / "runs")
    assert runs.read_record(run_dir).status == "running"
    assert len(PredictionStore(run_dir, save_logits=False).done) == 6
    (resumed,) = run(tmp_path / "b", ds, batch_size=2, flush_batches=1, flush_min_seconds=0)
    assert resumed.run_dir == run_dir and resumed.reused_images == 6
    assert resumed.record.metrics == full.record.metrics
    a = runs.read_predictions(full.run_dir)
    b = runs.read_predictions(resumed.run_dir)
    assert a.drop(columns=["pred", "prob"]).equals(b.drop(columns=["pred", "prob"]))
    assert np.array_equal(np.stack(a["pred"].to_list()), np.stack(b["pred"].to_list()))
    assert np.array_equal(np.stack(a["prob"].to_list()), np.stack(b["prob"].to_list()))


def test_no_resume_starts_a_new_run(tmp_path: Path) -> None:
    ds = MemoryDataset(n=4)
    model = Tiny()

    def stop(x: torch.Tensor) -> torch.Tensor:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, ds, {"tiny": stop})
    (result,) = run(tmp_path, ds, {"tiny": model}, resume=False)
    assert result.reused_images == 0
    assert len(runs.iter_run_dirs(tmp_path / "runs")) == 2


def test_disk_full_keeps_earlier_chunks_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = MemoryDataset(n=8)
    real = serialize.atomic_writer
    writes = {"chunks": 0}

    @contextmanager
    def full_disk(path: Path, **options: Any) -> Iterator[BinaryIO]:
        with real(path, **options) as fh:
            if path.name.startswith("chunk-"):
                writes["chunks"] += 1
                if writes["chunks"] >= 3:
                    raise OSError(errno.ENOSPC, "No space left on device")
            yield fh

    monkeypatch.setattr(serialize, "atomic_writer", full_disk)
    with pytest.raises(RunError, match=r"cannot write .*chunk-\d+\.parquet: No space left"):
        run(tmp_path, ds, batch_size=2, flush_batches=1, flush_min_seconds=0)
    (run_dir,) = runs.iter_run_dirs(tmp_path / "runs")
    assert len(PredictionStore(run_dir, save_logits=False).done) == 4
    monkeypatch.setattr(serialize, "atomic_writer", real)
    (result,) = run(tmp_path, ds, batch_size=2, flush_batches=1, flush_min_seconds=0)
    assert result.reused_images == 4 and result.record.metrics.n_images == 8


def test_oom_halves_the_batch_and_says_so(tmp_path: Path) -> None:
    model = Tiny()

    def picky(x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        return model(x)

    ds = MemoryDataset(n=7)
    (result,) = run(tmp_path, ds, {"tiny": picky}, batch_size=8)
    assert result.record.batch_size == 2
    assert any("out of memory" in n and "retrying with 4" in n for n in result.notes)
    assert any("retrying with 2" in n for n in result.notes)
    pred = np.stack(runs.read_predictions(result.run_dir)["pred"].to_list())
    assert np.array_equal(pred, reference_preds(ds, Tiny()))


def test_oom_at_batch_one_is_a_device_error(tmp_path: Path) -> None:
    def never(x: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(DeviceError, match="batch size 1"):
        run(tmp_path, MemoryDataset(n=2), {"tiny": never}, batch_size=2)


def test_limit_is_stratified_and_recorded(tmp_path: Path) -> None:
    ds = MemoryDataset(n=20, n_classes=4)
    (result,) = run(tmp_path, ds, limit=8)
    df = runs.read_predictions(result.run_dir)
    assert sorted(df["label"].value_counts().tolist()) == [2, 2, 2, 2]
    assert result.record.data.limit == 8 and result.record.data.n_images == 20
    assert result.record.data.subset_sha256 is not None
    assert result.record.metrics.n_images == 8


def test_save_logits_match_predictions(tmp_path: Path) -> None:
    (result,) = run(tmp_path, MemoryDataset(n=5), save_logits=True, batch_size=2)
    logits = runs.read_logits(result.run_dir)
    assert logits is not None and logits.shape == (5, 1000) and logits.dtype == np.float16
    pred = np.stack(runs.read_predictions(result.run_dir)["pred"].to_list())
    assert np.array_equal(pred[:, 0], logits.astype(np.float32).argmax(1))


def test_blacklist_excluded_variant(tmp_path: Path) -> None:
    ds = MemoryDataset(n=8, blacklist=frozenset({0, 1}))
    (result,) = run(tmp_path, ds)
    assert result.record.metrics.blacklist_excluded.n_images == 6
    (clean,) = run(tmp_path / "c", MemoryDataset(n=8))
    assert clean.record.metrics.blacklist_excluded is None


def test_cuda_without_cuda_is_a_device_error(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(DeviceError, match="CUDA is not available"):
        evaluate_specs(
            [("tiny", spec())],
            MemoryDataset(),
            runs_dir=tmp_path,
            options=EvalOptions(device="cuda"),
            load=loader_for({"tiny": Tiny()}),
        )


def test_runs_dir_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RunError, match="not writable"):
        evaluate_specs(
            [("tiny", spec())],
            MemoryDataset(),
            runs_dir=blocker / "runs",
            options=EvalOptions(device="cpu"),
            load=loader_for({"tiny": Tiny()}),
        )


def test_run_record_is_complete_json(tmp_path: Path) -> None:
    (result,) = run(tmp_path, MemoryDataset(n=4), command=("ilsvrc-bench", "eval", "-m", "tiny"))
    data = json.loads((result.run_dir / "run.json").read_text())
    assert data["schema_version"] == runs.SCHEMA_VERSION
    assert data["command"] == ["ilsvrc-bench", "eval", "-m", "tiny"]
    assert data["weights"]["sha256"] == "f" * 64
    assert set(data["versions"]) >= {"torch", "torchvision", "pillow", "cuda", "cudnn"}
    assert data["timings"]["wall_s"] > 0
    assert 0 <= data["timings"]["data_wait_share"] <= 1
    assert data["device"]["type"] == "cpu"
    assert data["run_key"] and data["finished_at"]


def test_bf16_autocast_on_cpu(tmp_path: Path) -> None:
    seen: list[torch.dtype] = []
    model = Tiny()
    model.fc.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    (result,) = run(tmp_path, MemoryDataset(n=4), {"tiny": model}, precision="bf16")
    assert result.record.precision == "bf16" and seen == [torch.bfloat16]


def test_fp16_needs_cuda(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="fp16 needs a CUDA device"):
        run(tmp_path, MemoryDataset(n=4), precision="fp16")


def test_results_keep_the_order_models_were_given(tmp_path: Path) -> None:
    from dataclasses import replace

    from ilsvrc_bench.models.spec import Preprocessing

    other = replace(spec(name="b"), preprocessing=Preprocessing(resize_size=36, crop_size=32))
    specs = [("a", spec(name="a")), ("b", other), ("c", spec(name="c"))]
    ds = MemoryDataset(n=4)
    results = evaluate_specs(
        specs,
        ds,
        runs_dir=tmp_path,
        options=EvalOptions(device="cpu"),
        load=loader_for({"a": Tiny(seed=1), "b": Tiny(seed=2), "c": Tiny(seed=3)}),
    )
    assert [r.record.model.ref for r in results] == ["a", "b", "c"]
    assert ds.reads == 4  # two pixel recipes, one decoding pass: each image read once
    assert results[1].record.preprocessing["resize_size"] == 36


def test_resume_batches_on_the_same_grid(tmp_path: Path) -> None:
    from ilsvrc_bench.engine.loader import grid_batches

    assert grid_batches(7, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert grid_batches(7, 3, keep=lambda i: i not in (0, 1, 2, 4)) == [[3, 5], [6]]

    seen: dict[str, list[bytes]] = {"full": [], "resumed": []}
    model = Tiny()
    mode: dict[str, Any] = {"name": "full", "stop_at": 0}

    def recording(x: torch.Tensor) -> torch.Tensor:
        if len(seen[mode["name"]]) + 1 == mode["stop_at"]:
            raise KeyboardInterrupt
        seen[mode["name"]].append(x.numpy().tobytes())
        return model(x)

    ds = MemoryDataset(n=10)
    every = {"batch_size": 3, "flush_batches": 1, "flush_min_seconds": 0}
    run(tmp_path / "a", ds, {"tiny": recording}, **every)
    mode.update(name="resumed", stop_at=3)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", ds, {"tiny": recording}, **every)
    mode["stop_at"] = 0
    (result,) = run(tmp_path / "b", ds, {"tiny": recording}, **every)
    assert result.reused_images == 6
    # The same four batches, bit for bit, whether or not the run was interrupted.
    assert seen["resumed"] == seen["full"]


def test_device_topk_follows_the_documented_tie_rule() -> None:
    from ilsvrc_bench.engine.core import topk

    rng = np.random.default_rng(0)
    for trial in range(50):
        scores = rng.integers(0, 4, size=(16, 1000)).astype(np.float32)  # ties everywhere
        if trial % 2:
            scores[rng.random(scores.shape) < 0.02] = np.nan
        expected = metrics.topk(scores, 5)
        assert np.array_equal(topk(torch.from_numpy(scores), 5).numpy(), expected)


@pytest.mark.parametrize("protocol", ["10crop", "full"])
def test_protocols_match_an_independent_loop(tmp_path: Path, protocol: str) -> None:
    import io

    from PIL import Image
    from torchvision import transforms as T

    ds = MemoryDataset(n=6)
    model = Tiny()
    (result,) = run(tmp_path, ds, {"tiny": model}, protocol=protocol, batch_size=4)
    norm = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    expected = []
    for rec in ds.records:
        img = Image.open(io.BytesIO(ds.read_bytes(rec))).convert("RGB")
        if protocol == "full":
            views = [T.ToTensor()(T.Resize((32, 32))(img))]
        else:
            five = T.FiveCrop(32)(T.Resize(40)(img))
            views = [T.ToTensor()(v) for v in five]
            views += [v.flip(-1) for v in views]
        with torch.no_grad():
            scores = torch.softmax(model(torch.stack([norm(v) for v in views])), dim=1).mean(0)
        expected.append(metrics.topk(scores[None].numpy(), 5)[0])
    pred = np.stack(runs.read_predictions(result.run_dir)["pred"].to_list())
    assert np.array_equal(pred, np.stack(expected))
    assert result.record.protocol == protocol


def test_ten_crop_logits_are_log_mean_probabilities(tmp_path: Path) -> None:
    (result,) = run(tmp_path, MemoryDataset(n=3), protocol="10crop", save_logits=True)
    logits = runs.read_logits(result.run_dir)
    assert logits is not None
    probs = np.exp(logits.astype(np.float64))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-2)
    df = runs.read_predictions(result.run_dir)
    pred, prob = np.stack(df["pred"].to_list()), np.stack(df["prob"].to_list())
    assert np.array_equal(pred[:, 0], logits.astype(np.float32).argmax(1))
    assert np.allclose(prob[:, 0], probs.max(axis=1), rtol=1e-2)
