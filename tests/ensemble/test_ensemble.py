"""``ensemble``: mean of stored probabilities, written as a run; mixed runs refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from ilsvrc_bench import runs
from ilsvrc_bench.cli import main
from ilsvrc_bench.engine import EvalOptions, evaluate
from ilsvrc_bench.metrics import topk
from tests.engine.helpers import make_sample_root

PREP = {"resize_size": 40, "crop_size": 32}
MODELS = ["tests.engine.helpers:tiny", "tests.shifts.models:tiny_b"]


@pytest.fixture(scope="module")
def member_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    base = tmp_path_factory.mktemp("ensemble")
    root = make_sample_root(base)
    runs_dir = base / "runs"
    options = EvalOptions(device="cpu", batch_size=8, resume=False, save_logits=True)
    results = evaluate(
        MODELS, data="sample", root=root, runs_dir=runs_dir, preprocessing=PREP, options=options
    )
    return root, runs_dir, [r.run_dir for r in results]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_ensemble_is_the_mean_of_member_probabilities(
    member_runs: tuple[Path, Path, list[Path]],
) -> None:
    _root, runs_dir, members = member_runs
    ids = [p.name for p in members]
    result = CliRunner().invoke(
        main, ["ensemble", *ids, "--runs-dir", str(runs_dir), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["role"] for r in rows] == ["member", "member", "ensemble"]
    ens = rows[-1]
    run_dir = runs_dir / ens["run_id"]
    record = runs.read_record(run_dir)
    assert record.model.source == "ensemble" and record.status == "complete"
    assert [m.run_id for m in record.model.members] == ids
    # Independently: softmax of each member's stored logits, averaged, ranked by metrics.topk.
    probs = np.mean(
        [_softmax(np.load(p / "logits.npy").astype(np.float64)) for p in members], axis=0
    )
    expected = topk(probs, 5)
    table = runs.read_predictions(run_dir)
    assert (np.stack(table["pred"].to_list()) == expected).all()
    labels = table["label"].to_numpy()
    assert record.metrics is not None
    assert record.final_metrics.top1_correct == int((expected[:, 0] == labels).sum())
    assert 0.0 <= ens["mcnemar_p_vs_best"] <= 1.0
    # Placed in the history like any run.
    report = _invoke("report", "--format", "json", "--runs-dir", str(runs_dir))
    assert report.exit_code == 0, report.output
    assert any("ensemble(" in json.dumps(r) for r in json.loads(report.stdout))


def test_refusals(member_runs: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    root, runs_dir, members = member_runs
    rd = ["--runs-dir", str(runs_dir)]
    one = _invoke("ensemble", members[0].name, *rd)
    assert one.exit_code == 2 and "at least two runs" in one.output
    twice = _invoke("ensemble", members[0].name, members[0].name, *rd)
    assert twice.exit_code == 2 and "named twice" in twice.output
    # A run without logits.
    (plain,) = evaluate(
        MODELS[:1],
        data="sample",
        root=root,
        runs_dir=runs_dir,
        preprocessing=PREP,
        options=EvalOptions(device="cpu", batch_size=8, resume=False),
    )
    no_logits = _invoke("ensemble", members[0].name, plain.run_dir.name, *rd)
    assert no_logits.exit_code == 2 and "--save-logits" in no_logits.output
    # Another protocol: exit 4.
    (ten,) = evaluate(
        MODELS[1:],
        data="sample",
        root=root,
        runs_dir=runs_dir,
        preprocessing=PREP,
        options=EvalOptions(
            device="cpu", batch_size=8, resume=False, save_logits=True, protocol="10crop"
        ),
    )
    mixed = _invoke("ensemble", members[0].name, ten.run_dir.name, *rd)
    assert mixed.exit_code == 4 and "different protocol" in mixed.output
    # Other data (a --limit subset): exit 3.
    (limited,) = evaluate(
        MODELS[1:],
        data="sample",
        root=root,
        runs_dir=runs_dir,
        preprocessing=PREP,
        options=EvalOptions(device="cpu", batch_size=8, resume=False, save_logits=True, limit=10),
    )
    other = _invoke("ensemble", members[0].name, limited.run_dir.name, *rd)
    assert other.exit_code == 3 and "different --limit subset" in other.output
    assert "Traceback" not in other.output + mixed.output + no_logits.output


def test_10crop_members_ensemble_their_view_averaged_probabilities(
    member_runs: tuple[Path, Path, list[Path]],
) -> None:
    root, runs_dir, _ = member_runs
    results = evaluate(
        MODELS,
        data="sample",
        root=root,
        runs_dir=runs_dir / "ten",
        preprocessing=PREP,
        options=EvalOptions(
            device="cpu", batch_size=8, resume=False, save_logits=True, protocol="10crop"
        ),
    )
    from ilsvrc_bench.engine.ensemble import build_ensemble

    ens = build_ensemble([r.run_dir for r in results], runs_dir=runs_dir / "ten")
    assert ens.record.protocol == "10crop"
    # Stored 10crop logits are log mean probabilities: exp() is the member's probability.
    probs = np.mean(
        [np.exp(np.load(r.run_dir / "logits.npy").astype(np.float64)) for r in results], axis=0
    )
    table = runs.read_predictions(ens.run_dir)
    assert (np.stack(table["pred"].to_list())[:, 0] == topk(probs, 1)[:, 0]).all()
