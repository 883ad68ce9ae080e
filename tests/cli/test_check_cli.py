"""`ilsvrc-bench check` on runs made by the real engine (the engine_runs fixture)."""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from scipy.stats import binomtest

from ilsvrc_bench.cli import main
from tests.reports.engine_runs import Runs


def check(runs: Runs, *args: str) -> Result:
    return CliRunner(env={"COLUMNS": "220"}).invoke(
        main, ["check", "--runs-dir", str(runs.runs_dir), *args]
    )


def test_the_same_run_twice_is_said(engine_runs: Runs) -> None:
    run_id = engine_runs.good.name
    result = check(engine_runs, "--baseline", run_id, "--candidate", str(engine_runs.good))
    assert result.exit_code == 2, result.output
    assert "baseline and candidate are the same run" in result.stderr
    assert "PASS" not in result.stdout


def test_a_rerun_passes_with_one_line(engine_runs: Runs) -> None:
    result = check(
        engine_runs, "--baseline", engine_runs.good.name, "--candidate", engine_runs.good_again.name
    )
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith("PASS top1 acc: candidate 10.00% vs baseline 10.00% (+0.00 pts")
    assert len(line.splitlines()) == 1


def test_rerun_of_the_same_model_passes_by_directory(engine_runs: Runs) -> None:
    result = check(
        engine_runs, "--baseline", str(engine_runs.good), "--candidate", str(engine_runs.good_again)
    )
    assert result.exit_code == 0, result.output
    assert "McNemar exact p=1" in result.stdout


def _correct_top5(run_dir: Path) -> np.ndarray:
    table = pq.read_table(run_dir / "predictions.parquet").to_pydict()
    return np.array(
        [lab in pred[:5] for lab, pred in zip(table["label"], table["pred"], strict=True)]
    )


def test_clearly_worse_run_fails_with_exit_1(engine_runs: Runs, tmp_path: Path) -> None:
    summary, junit = tmp_path / "summary.md", tmp_path / "junit.xml"
    summary.write_text("# earlier step\n")
    result = check(
        engine_runs,
        "--baseline",
        engine_runs.good.name,
        "--candidate",
        engine_runs.bad.name,
        "--metric",
        "top5",
        "--max-drop",
        "1",
        "--summary",
        str(summary),
        "--junit",
        str(junit),
    )
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("REGRESSION top5 acc: candidate 0.00% vs baseline 50.00%")

    # the p-value, computed independently from the two prediction files
    base, cand = _correct_top5(engine_runs.good), _correct_top5(engine_runs.bad)
    lost, gained = int((base & ~cand).sum()), int((~base & cand).sum())
    assert (lost, gained) == (30, 0)
    expected = binomtest(gained, lost + gained, 0.5).pvalue
    props = {p.get("name"): p.get("value", "") for p in ET.parse(junit).getroot().iter("property")}
    assert float(props["p_value"]) == pytest.approx(expected, rel=1e-9)
    assert props["lost"] == "30" and props["gained"] == "0"
    failures = list(ET.parse(junit).getroot().iter("failure"))
    assert len(failures) == 1 and "REGRESSION" in (failures[0].get("message") or "")

    text = summary.read_text()
    assert text.startswith("# earlier step\n")  # appended, as $GITHUB_STEP_SUMMARY expects
    assert "ilsvrc-bench check: REGRESSION" in text
    assert "30 flipped images (30 lost, 0 gained)" in text
    assert "ILSVRC2012_val_" in text


def test_small_drop_is_tolerated_by_max_drop(engine_runs: Runs) -> None:
    # top-1: 10% vs 0% on 60 images; significant, but allowed by --max-drop 15
    args = ["--baseline", engine_runs.good.name, "--candidate", engine_runs.bad.name]
    assert check(engine_runs, *args).exit_code == 1
    assert check(engine_runs, *args, "--max-drop", "15").exit_code == 0


def test_mismatched_data_is_refused_with_exit_3(engine_runs: Runs, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = check(
        engine_runs,
        "--baseline",
        engine_runs.good.name,
        "--candidate",
        engine_runs.other_data.name,
        "--junit",
        str(junit),
    )
    assert result.exit_code == 3, result.output
    assert "different data: baseline on sample" in result.output
    assert "candidate on sample-b" in result.output
    assert "Traceback" not in result.output
    assert list(ET.parse(junit).getroot().iter("error"))


def _copy_run(src: Path, dst: Path, **changes: object) -> Path:
    shutil.copytree(src, dst)
    record = json.loads((dst / "run.json").read_text())
    for key, value in changes.items():
        record[key] = value
    (dst / "run.json").write_text(json.dumps(record))
    return dst


def test_mismatched_protocol_and_preprocessing_exit_4(engine_runs: Runs, tmp_path: Path) -> None:
    tencrop = _copy_run(engine_runs.good, tmp_path / "tencrop", protocol="10crop")
    result = check(engine_runs, "--baseline", engine_runs.good.name, "--candidate", str(tencrop))
    assert result.exit_code == 4, result.output
    assert "different protocol: baseline center, candidate 10crop" in result.output
    record = json.loads((engine_runs.good / "run.json").read_text())
    pre = {**record["preprocessing"], "crop_size": 56}
    cropped = _copy_run(engine_runs.good, tmp_path / "crop56", preprocessing=pre)
    result = check(engine_runs, "--baseline", engine_runs.good.name, "--candidate", str(cropped))
    assert result.exit_code == 4, result.output
    assert "different preprocessing: crop_size 64 vs 56" in result.output


def test_results_files_compare_with_intervals(engine_runs: Runs, tmp_path: Path) -> None:
    # a run.json copied elsewhere (no predictions beside it) and a one-run `report` csv
    base_json = tmp_path / "baseline.json"
    shutil.copy(engine_runs.good / "run.json", base_json)
    csv_out = tmp_path / "candidate.csv"
    made = CliRunner().invoke(
        main,
        [
            *("report", engine_runs.bad.name, "--runs-dir", str(engine_runs.runs_dir)),
            *("--format", "csv", "-o", str(csv_out)),
        ],
    )
    assert made.exit_code == 0, made.output
    assert len(pd.read_csv(csv_out).query("kind == 'run'")) == 1
    result = check(
        engine_runs, "--baseline", str(base_json), "--candidate", str(csv_out), "--metric", "top5"
    )
    assert result.exit_code == 1, result.output
    assert "95% CI of the difference" in result.stdout
    same = check(engine_runs, "--baseline", str(base_json), "--candidate", str(base_json))
    assert same.exit_code == 0, same.output


def test_reference_baseline(engine_runs: Runs) -> None:
    run_id = engine_runs.good.name
    result = check(engine_runs, "--baseline", "reference", "--candidate", run_id)
    assert result.exit_code == 4, result.output  # 64 px crops are not the published 224
    assert "different preprocessing" in result.output
    result = check(
        engine_runs,
        "--baseline",
        "reference",
        "--candidate",
        run_id,
        "--metric",
        "top5",
        "--allow-preprocessing-change",
    )
    assert result.exit_code == 1, result.output
    assert "baseline 79.07%" in result.stdout  # AlexNet IMAGENET1K_V1 acc@5 79.066


def test_unknown_run_and_bad_file(engine_runs: Runs, tmp_path: Path) -> None:
    result = check(engine_runs, "--baseline", "nope", "--candidate", engine_runs.good.name)
    assert result.exit_code != 0 and "no run 'nope'" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = check(engine_runs, "--baseline", str(bad), "--candidate", engine_runs.good.name)
    assert result.exit_code == 3 and "cannot read results" in result.output


def test_help_names_the_exit_codes() -> None:
    result = CliRunner().invoke(main, ["check", "--help"])
    assert result.exit_code == 0
    assert "--max-drop" in result.output and "exits 3" in result.output
    assert io.StringIO(result.output).readline().startswith("Usage:")


def test_eval_json_with_its_run_dir_uses_the_paired_test(engine_runs: Runs, tmp_path: Path) -> None:
    made = CliRunner().invoke(
        main,
        [
            *("report", engine_runs.good.name, "--runs-dir", str(engine_runs.runs_dir)),
            *("--format", "json"),
        ],
    )
    row = next(r for r in json.loads(made.stdout) if r["kind"] == "run")
    here = tmp_path / "candidate.json"
    here.write_text(json.dumps([{**row, "run_dir": str(engine_runs.bad)}]))
    gone = tmp_path / "baseline.json"
    gone.write_text(json.dumps([{**row, "run_dir": str(tmp_path / "moved-away")}]))
    paired = check(engine_runs, "--baseline", engine_runs.good.name, "--candidate", str(here))
    assert paired.exit_code == 1 and "McNemar" in paired.stdout, paired.output
    aggregate = check(engine_runs, "--baseline", str(gone), "--candidate", str(here))
    assert "95% CI of the difference" in aggregate.stdout, aggregate.output


@pytest.mark.slow
@pytest.mark.realdata
def test_real_model_on_real_photos_catches_the_bgr_bug(
    tmp_path: Path, real200_root: Path, real_onnx: Path
) -> None:
    """The pretrained int8 MobileNetV2 on 200 real photos, then fed BGR instead of RGB."""
    from ilsvrc_bench import history
    from ilsvrc_bench.engine import EvalOptions, evaluate

    root, runs_dir = real200_root, tmp_path / "runs"
    options = EvalOptions(device="cpu", batch_size=50, workers=1)
    (rgb,) = evaluate(
        [str(real_onnx)], data="real200", root=root, runs_dir=runs_dir, options=options
    )
    (bgr,) = evaluate(
        [str(real_onnx)],
        data="real200",
        root=root,
        runs_dir=runs_dir,
        preprocessing={"color_order": "BGR"},
        options=options,
    )
    args = ["check", "--runs-dir", str(runs_dir), "--baseline", rgb.run_dir.name]
    runner = CliRunner(env={"COLUMNS": "220"})
    refused = runner.invoke(main, [*args, "--candidate", bgr.run_dir.name])
    assert refused.exit_code == 4, refused.output
    assert "color_order RGB vs BGR" in refused.output
    junit = tmp_path / "junit.xml"
    caught = runner.invoke(
        main,
        [
            *(*args, "--candidate", bgr.run_dir.name, "--allow-preprocessing-change"),
            *("--max-drop", "2", "--junit", str(junit)),
        ],
    )
    assert caught.exit_code == 1, caught.output
    labels = pq.read_table(rgb.run_dir / "predictions.parquet").column("label").to_numpy()
    top1 = {
        name: pq.read_table(r.run_dir / "predictions.parquet").column("pred").to_pylist()
        for name, r in (("rgb", rgb), ("bgr", bgr))
    }
    ok = {name: np.array([p[0] for p in preds]) == labels for name, preds in top1.items()}
    lost, gained = int((ok["rgb"] & ~ok["bgr"]).sum()), int((~ok["rgb"] & ok["bgr"]).sum())
    props = {p.get("name"): p.get("value", "") for p in ET.parse(junit).getroot().iter("property")}
    assert (props["lost"], props["gained"]) == (str(lost), str(gained))
    assert float(props["p_value"]) == pytest.approx(binomtest(gained, lost + gained).pvalue)

    # the report places the real model by its measured top-5 error
    made = runner.invoke(
        main, ["report", rgb.run_dir.name, "--runs-dir", str(runs_dir), "--format", "json"]
    )
    (row,) = [r for r in json.loads(made.stdout) if r["kind"] == "run"]
    err = row["top5_err"]
    assert err == pytest.approx(100 - 100 * rgb.record.final_metrics.top5_acc / 100)
    won = [y for y in history.YEARS if (history.winner(y).top5_err or 0) > err]
    if won:
        assert f"would have won {max(won)}" in row["placement"]


def test_an_unknown_run_id_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["check", "--baseline", "nope", "--candidate", "nope", "--runs-dir", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "no run 'nope'" in result.output


def test_center_against_10crop_of_the_same_model_on_purpose(
    engine_runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ilsvrc_bench.engine import EvalOptions, evaluate
    from tests.reports.engine_runs import PREPROCESSING

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tencrop,) = evaluate(
        ["alexnet"],
        data="sample",
        root=engine_runs.root,
        runs_dir=tmp_path / "runs",
        weights=str(engine_runs.good_weights),
        preprocessing=PREPROCESSING,
        options=EvalOptions(device="cpu", batch_size=32, resume=False, protocol="10crop"),
    )
    args = ("--baseline", engine_runs.good.name, "--candidate", str(tencrop.run_dir))
    refused = check(engine_runs, *args)
    assert refused.exit_code == 4
    assert "different protocol: baseline center, candidate 10crop" in refused.output
    assert "--allow-protocol-change" in refused.output
    result = check(engine_runs, *args, "--allow-protocol-change")
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout
    assert "McNemar exact" in result.stdout  # same images: the paired test still applies
    assert "compared on purpose (--allow-protocol-change)" in result.stderr
    # against the published reference too
    result = check(engine_runs, "--baseline", "reference", "--candidate", str(tencrop.run_dir))
    assert result.exit_code == 4 and "--allow-protocol-change" in result.output
