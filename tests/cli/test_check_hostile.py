"""`check` compares what it says: bad predictions, the same run twice, --alpha, unwritable files."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from ilsvrc_bench.cli import main
from tests.reports.engine_runs import Runs


def check(runs: Runs, *args: str) -> Result:
    return CliRunner(env={"COLUMNS": "220"}).invoke(
        main, ["check", "--runs-dir", str(runs.runs_dir), *args]
    )


def _with_predictions(src: Path, dst: Path, edit: object) -> Path:
    """A copy of run ``src`` whose predictions.parquet is edited by ``edit(dict of columns)``."""
    shutil.copytree(src, dst)
    columns = pq.read_table(dst / "predictions.parquet").to_pydict()
    edit(columns)  # type: ignore[operator]
    pq.write_table(pa.table(columns), dst / "predictions.parquet")
    return dst


def _assert_exit_5_naming(result: Result, path: Path, text: str) -> None:
    assert result.exit_code == 5, result.output
    assert str(path) in result.stderr and text in result.stderr
    assert "PASS" not in result.stdout and "Traceback" not in result.output


def test_corrupt_predictions_file_is_exit_5_not_a_weaker_test(
    engine_runs: Runs, tmp_path: Path
) -> None:
    bad = tmp_path / "corrupt"
    shutil.copytree(engine_runs.good_again, bad)
    (bad / "predictions.parquet").write_bytes(b"PAR1 not really parquet")
    result = check(engine_runs, "--baseline", engine_runs.good.name, "--candidate", str(bad))
    _assert_exit_5_naming(result, bad / "predictions.parquet", "corrupt predictions file")


def test_missing_predictions_file_is_exit_5(engine_runs: Runs, tmp_path: Path) -> None:
    bad = tmp_path / "nopred"
    shutil.copytree(engine_runs.good_again, bad)
    (bad / "predictions.parquet").unlink()
    result = check(engine_runs, "--baseline", str(bad), "--candidate", engine_runs.good.name)
    _assert_exit_5_naming(result, bad / "predictions.parquet", "no predictions")


@pytest.mark.parametrize(
    ("column", "value", "text"),
    [("label", 1000, "label 1000, not a class index 0..999"), ("pred", [1200, 1, 2, 3, 4], "1200")],
)
def test_out_of_range_class_ids_are_exit_5(
    engine_runs: Runs, tmp_path: Path, column: str, value: object, text: str
) -> None:
    def edit(cols: dict[str, list[object]]) -> None:
        cols[column][0] = value

    bad = _with_predictions(engine_runs.good_again, tmp_path / "range", edit)
    result = check(engine_runs, "--baseline", engine_runs.good.name, "--candidate", str(bad))
    _assert_exit_5_naming(result, bad / "predictions.parquet", text)


def test_predictions_that_disagree_with_the_record_are_exit_5(
    engine_runs: Runs, tmp_path: Path
) -> None:
    def make_all_right(cols: dict[str, list[object]]) -> None:
        cols["pred"] = [[lab, 0, 1, 2, 3] for lab in cols["label"]]

    bad = _with_predictions(engine_runs.bad, tmp_path / "edited", make_all_right)
    result = check(engine_runs, "--baseline", engine_runs.good.name, "--candidate", str(bad))
    _assert_exit_5_naming(result, bad / "predictions.parquet", "disagrees with run.json")


def test_alpha_sets_the_level_of_every_interval(engine_runs: Runs, tmp_path: Path) -> None:
    base, cand = tmp_path / "base.json", tmp_path / "cand.json"
    shutil.copy(engine_runs.good / "run.json", base)
    shutil.copy(engine_runs.bad / "run.json", cand)
    args = ("--baseline", str(base), "--candidate", str(cand), "--metric", "top5")
    loose = check(engine_runs, *args, "--alpha", "0.5", "--format", "json")
    strict = check(engine_runs, *args, "--alpha", "0.001", "--format", "json")
    assert loose.exit_code == 1 and strict.exit_code == 1, loose.output + strict.output
    a, b = json.loads(loose.stdout), json.loads(strict.stdout)
    assert a["method"] == "interval" and a["ci_level"] == 0.5 and b["ci_level"] == 0.999
    assert b["diff_ci"][0] < a["diff_ci"][0] < a["diff_ci"][1] < b["diff_ci"][1]
    assert b["baseline_ci"][0] < a["baseline_ci"][0]  # from counts, at each level
    text = check(engine_runs, *args, "--alpha", "0.01")
    assert "99% CI of the difference" in text.stdout


def test_check_json_is_one_object_with_the_flips(engine_runs: Runs) -> None:
    result = check(
        engine_runs,
        *("--baseline", engine_runs.good.name, "--candidate", engine_runs.bad.name),
        *("--metric", "top5", "--format", "json"),
    )
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.stdout)
    assert verdict["status"] == "regression" and verdict["method"] == "mcnemar"
    assert verdict["lost"] == len(verdict["flips"]) > 0
    assert verdict["candidate_side"]["top5_correct"] == 0


def test_not_comparable_is_written_to_summary_and_junit(engine_runs: Runs, tmp_path: Path) -> None:
    summary, junit = tmp_path / "summary.md", tmp_path / "junit.xml"
    summary.write_text("# earlier step\n")
    result = check(
        engine_runs,
        *("--baseline", engine_runs.good.name, "--candidate", engine_runs.other_data.name),
        *("--summary", str(summary), "--junit", str(junit)),
    )
    assert result.exit_code == 3, result.output
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and "NOT COMPARABLE" in text
    assert "different data" in text and "exit 3" in text
    assert list(ET.parse(junit).getroot().iter("error"))


@pytest.mark.parametrize("option", ["--summary", "--junit"])
def test_unwritable_outputs_fail_before_any_verdict(
    engine_runs: Runs, tmp_path: Path, option: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for target, reason in ((blocker / "out.xml", "not a directory"), (tmp_path, "directory")):
        result = check(
            engine_runs,
            *("--baseline", engine_runs.good.name, "--candidate", engine_runs.bad.name),
            *(option, str(target)),
        )
        assert result.exit_code == 5, result.output
        assert f"cannot write {target}" in result.stderr and reason in result.stderr
        assert result.stdout == ""  # never a verdict followed by a failure


def test_report_output_and_plot_are_checked_before_work(engine_runs: Runs, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for option in ("-o", "--plot"):
        result = CliRunner().invoke(
            main,
            ["report", "--runs-dir", str(engine_runs.runs_dir), option, str(blocker / "x.png")],
        )
        assert result.exit_code == 5, result.output
        assert f"cannot write {blocker / 'x.png'}" in result.stderr
        assert "not a directory" in result.stderr


def test_eval_output_is_checked_before_any_run_starts(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    runs_dir = tmp_path / "runs"
    result = CliRunner().invoke(
        main,
        [
            *("eval", "-m", "alexnet", "--weights", "random", "--data", str(tmp_path / "none")),
            *("--runs-dir", str(runs_dir), "-o", str(blocker / "r.json")),
        ],
    )
    assert result.exit_code == 5, result.output
    assert "not a directory" in result.stderr
    assert not runs_dir.exists()


def test_brackets_in_names_print_verbatim(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["check", "--runs-dir", str(tmp_path), "--baseline", "[/x]", "--candidate", "[bold]y"],
    )
    assert result.exit_code == 2, result.output
    assert "no run '[bold]y'" in result.stderr
    assert "Traceback" not in result.output
