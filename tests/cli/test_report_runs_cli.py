"""`ilsvrc-bench report` over runs made by the real engine, in every format."""

from __future__ import annotations

import io
import json
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ilsvrc_bench import history
from ilsvrc_bench.cli import main
from ilsvrc_bench.metrics import wilson_interval
from tests.reports.engine_runs import Runs


def report(runs: Runs, *args: str) -> str:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        main, ["report", "--runs-dir", str(runs.runs_dir), "--root", str(runs.root), *args]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def run_rows(runs: Runs, *args: str) -> dict[str, dict[str, Any]]:
    rows = json.loads(report(runs, "--format", "json", *args))
    return {r["run_id"]: r for r in rows if r["kind"] == "run"}


def predictions(run_dir: Path) -> pd.DataFrame:
    return pq.read_table(run_dir / "predictions.parquet").to_pandas()


def test_json_places_every_run_with_its_numbers(engine_runs: Runs) -> None:
    rows = json.loads(report(engine_runs, "--format", "json"))
    assert {r["year"] for r in rows if r["kind"] == "challenge"} == set(range(2010, 2018))
    assert any(r["kind"] == "reference" for r in rows)
    runs = {r["run_id"]: r for r in rows if r["kind"] == "run"}
    assert set(runs) == {
        d.name
        for d in (engine_runs.good, engine_runs.good_again, engine_runs.bad, engine_runs.other_data)
    }
    good = runs[engine_runs.good.name]
    record = json.loads((engine_runs.good / "run.json").read_text())
    assert good["top1_err"] == pytest.approx(record["metrics"]["top1_err"]) == pytest.approx(90.0)
    assert good["top5_err"] == pytest.approx(50.0)
    assert good["n_images"] == 60 and good["split"] == "val" and good["data"] == "sample"
    lo, hi = wilson_interval(30, 60)
    assert (good["top5_err_lo"], good["top5_err_hi"]) == (
        pytest.approx(100 - hi, abs=1e-3),
        pytest.approx(100 - lo, abs=1e-3),
    )
    # 50% top-5 error is worse than every listed entry of every year
    assert all((e.top5_err or 0) < 50.0 for e in history.challenge_entries())
    assert good["placement"].startswith("would not have won any year")
    assert good["placement"].endswith("7th in 2012 (below all 6 teams)")
    assert good["manifest_sha256"] == record["data"]["manifest_sha256"]
    assert runs[engine_runs.bad.name]["top5_err"] == pytest.approx(100.0)


def test_table_has_rank_among_the_year_entries(engine_runs: Runs) -> None:
    out = report(engine_runs, engine_runs.good.name)
    assert "Measured runs placed in the challenge's history" in out
    assert engine_runs.good.name in out
    assert engine_runs.bad.name not in out
    assert "Rank 2012" in out
    expected_rank = 1 + sum(1 for e in history.team_ranking(2012) if (e.top5_err or 0) < 50.0)
    row = next(line for line in out.splitlines() if engine_runs.good.name in line and "50" in line)
    assert f"│ {expected_rank} " in row


def test_filters(engine_runs: Runs) -> None:
    assert len(run_rows(engine_runs, "--model", "alex*", "--data", "sample")) == 3
    assert list(run_rows(engine_runs, "--data", "sample-b")) == [engine_runs.other_data.name]
    assert run_rows(engine_runs, "--model", "vgg*") == {}
    assert len(run_rows(engine_runs, "--protocol", "center")) == 4


def test_csv_reads_back(engine_runs: Runs) -> None:
    frame = pd.read_csv(io.StringIO(report(engine_runs, "--format", "csv")))
    runs = frame[frame["kind"] == "run"].set_index("run_id")
    assert len(runs) == 4
    assert runs.loc[engine_runs.good.name, "top5_err"] == pytest.approx(50.0)
    assert runs.loc[engine_runs.good.name, "n_images"] == 60
    assert frame["source"].notna().all()


def test_markdown_holds_the_runs_table(engine_runs: Runs, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    assert report(engine_runs, "--format", "markdown", "-o", str(target)) == ""
    text = target.read_text()
    assert "### Runs" in text and "### Measured runs placed" in text
    # the generated sample is a marked subset of val, and the table says so
    row = f"| {engine_runs.good.name} | alexnet | good.pth | sample (subset, 60 images) | center |"
    assert f"{row} fp32 | cpu |" in text


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.srcs: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_cell = tag == "td"
        self.srcs += [v or "" for k, v in attrs if k in {"src", "href"}]

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells.append(data)


def test_html_is_one_self_contained_file_with_the_table(engine_runs: Runs, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    report(engine_runs, "--format", "html", "-o", str(target))
    parser = _Tables()
    parser.feed(target.read_text())
    assert parser.tags.count("table") >= 4
    assert engine_runs.good.name in " ".join(parser.cells)
    assert "SuperVision" in parser.cells and "16.422" in parser.cells
    assert parser.srcs and all(s.startswith("data:image/png;base64,") for s in parser.srcs)
    assert "<script" not in target.read_text() and "<link" not in target.read_text()


def test_plot_is_a_png_of_the_expected_size(engine_runs: Runs, tmp_path: Path) -> None:
    target = tmp_path / "plots" / "top5.png"
    report(engine_runs, "--format", "json", "--plot", str(target))
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (1200, 700)
    from PIL import Image

    with Image.open(target) as img:
        img.verify()


def test_exclude_blacklist_rescores(engine_runs: Runs) -> None:
    row = run_rows(engine_runs, engine_runs.good.name, "--exclude-blacklist")[engine_runs.good.name]
    df = predictions(engine_runs.good)
    kept = df[~df["blacklisted"]]
    assert 0 < len(kept) < len(df)
    top5 = np.mean([lab in pred[:5] for lab, pred in zip(kept["label"], kept["pred"], strict=True)])
    assert row["n_images"] == len(kept)
    assert row["top5_err"] == pytest.approx(100 - 100 * top5, abs=1e-3)
    assert row["scoring"] == "blacklist excluded"


def test_real_labels_rescore(engine_runs: Runs, tmp_path: Path) -> None:
    df = predictions(engine_runs.good)
    numbers = df["path"].str.extract(r"ILSVRC2012_val_(\d{8})")[0].astype(int)
    real: list[list[int]] = [[] for _ in range(int(numbers.max()))]
    # every image's own label plus class 0 (which this model always ranks first), except the
    # first image, whose list stays empty (skipped)
    for n, lab in zip(numbers, df["label"], strict=True):
        real[n - 1] = sorted({int(lab), 0})
    first = int(numbers.min())
    real[first - 1] = []
    path = tmp_path / "real.json"
    path.write_text(json.dumps(real))
    row = run_rows(engine_runs, engine_runs.good.name, "--real-labels", str(path))[
        engine_runs.good.name
    ]
    assert row["scoring"] == "ReaL"
    assert row["n_images"] == len(df) - 1
    assert row["top1_err"] == pytest.approx(0.0)  # class 0 is now right for every image


def test_per_class_names_the_worst_and_best(engine_runs: Runs) -> None:
    out = report(engine_runs, engine_runs.good.name, "--per-class", "3", "--format", "markdown")
    assert f"### Worst classes of {engine_runs.good.name} (top-1)" in out
    best = out.split(f"### Best classes of {engine_runs.good.name}")[1]
    assert "| 0 | n01440764 | tench | 6 | 100.0 | 100.0 |" in best
    rows = json.loads(report(engine_runs, engine_runs.good.name, "--per-class", "--format", "json"))
    assert len(rows) == 10 and {r["n_images"] for r in rows} == {6}
    assert sorted(r["top1_acc"] for r in rows) == [0.0] * 9 + [100.0]


def test_wordnet_view(engine_runs: Runs) -> None:
    rows = json.loads(report(engine_runs, engine_runs.good.name, "--wordnet", "--format", "json"))
    kinds = {r["kind"]: r["n_mistakes"] for r in rows}
    assert sum(kinds.values()) == 54  # 60 images, 6 right at top-1
    assert set(kinds) == {"same parent", "near (within 4 steps)", "far", "no prediction"}
    out = report(engine_runs, engine_runs.good.name, "--wordnet", "--format", "markdown")
    assert "in the WordNet hierarchy" in out and "Most common confusions" in out


def test_no_matching_runs_falls_back_to_history(engine_runs: Runs) -> None:
    result = CliRunner().invoke(
        main,
        [
            "report",
            "--runs-dir",
            str(engine_runs.runs_dir),
            "--model",
            "nothing",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert rows and not any(r["kind"] == "run" for r in rows)


def test_exclude_blacklist_without_a_blacklist_warns_that_nothing_was_excluded(
    engine_runs: Runs, tmp_path: Path
) -> None:
    import shutil

    import pyarrow as pa

    runs_dir = tmp_path / "runs"
    copy = runs_dir / engine_runs.good.name
    shutil.copytree(engine_runs.good, copy)
    table = pq.read_table(copy / "predictions.parquet")
    column = table.schema.get_field_index("blacklisted")
    no_blacklist = pa.array([False] * table.num_rows)
    pq.write_table(
        table.set_column(column, "blacklisted", no_blacklist), copy / "predictions.parquet"
    )
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        main,
        [
            "report",
            "--runs-dir",
            str(runs_dir),
            "--root",
            str(engine_runs.root),
            "--exclude-blacklist",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"{copy.name} has no blacklisted image" in result.stderr
    assert "0 images excluded" in result.stderr
    row = next(r for r in json.loads(result.stdout) if r["kind"] == "run")
    assert row["n_images"] == table.num_rows
    # with a blacklist, nothing is said
    result = CliRunner().invoke(
        main,
        [
            "report",
            "--runs-dir",
            str(engine_runs.runs_dir),
            "--root",
            str(engine_runs.root),
            engine_runs.good.name,
            "--exclude-blacklist",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0 and "0 images excluded" not in result.stderr
    # and with no run at all
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["report", "--runs-dir", str(empty), "--exclude-blacklist"])
    assert result.exit_code == 0
    assert "no run to re-score; 0 images excluded" in result.stderr


def test_tables_read_in_80_columns_and_wide_shows_everything(engine_runs: Runs) -> None:
    args = ["report", "--runs-dir", str(engine_runs.runs_dir), "--root", str(engine_runs.root)]
    result = CliRunner(env={"COLUMNS": "80"}).invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    out = result.stdout
    # run ids never break, and every measured run says how it was measured and on what
    run_ids = [d.name for d in engine_runs.runs_dir.iterdir() if d.is_dir()]
    for run_id in run_ids:
        assert out.count(run_id) == 2  # the placed table and the runs table
    assert "Measured" in out and out.count("center;") == len(run_ids)
    assert out.count("(subset, 60") == len(run_ids)
    assert "Device" not in out
    wide = CliRunner(env={"COLUMNS": "80"}).invoke(main, [*args, "--wide"])
    assert wide.exit_code == 0, wide.output
    assert max(len(line) for line in wide.stdout.splitlines()) > 80
    for header in ("Device", "Decoder", "Source", "Teams listed", "Test set", "img/s"):
        assert header in wide.stdout


def test_every_run_row_and_legend_names_protocol_and_data(engine_runs: Runs) -> None:
    rows = run_rows(engine_runs)
    for row in rows.values():
        assert row["protocol"] == "center" and row["data"] in {"sample", "sample-b"}
        # the generated samples are prepared as marked subsets of val
        assert row["eval_data"] == f"{row['data']} (subset, 60 images)"
        assert row["is_subset"] is True and row["decoder"] == "cpu"
        # the table shows the rank in 2012, so the rows carry it
        assert row["rank_2012"] == 7
    from ilsvrc_bench.reports import challenge, document, runs_table

    frame = runs_table.select_runs([], runs_dir=engine_runs.runs_dir)
    built = document.build(frame, model_rows=challenge.reference_rows())
    for model in built.plot_models():
        if model.kind == "run":
            assert model.detail in {
                f"center; {name} (subset, 60 images)" for name in ("sample", "sample-b")
            }
        else:
            assert model.detail == "centre crop"


def test_a_limited_run_is_marked_as_a_subset_with_its_size(
    engine_runs: Runs, tmp_path: Path
) -> None:
    import shutil

    runs_dir = tmp_path / "runs"
    copy = runs_dir / engine_runs.good.name
    shutil.copytree(engine_runs.good, copy)
    record = json.loads((copy / "run.json").read_text())
    record["data"]["limit"] = 60
    (copy / "run.json").write_text(json.dumps(record))
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        main, ["report", "--runs-dir", str(runs_dir), "--root", str(engine_runs.root), "--wide"]
    )
    assert result.exit_code == 0, result.output
    assert "sample (subset, 60 images, --limit)" in result.stdout
    rows = json.loads(
        CliRunner().invoke(main, ["report", "--runs-dir", str(runs_dir), "--format", "json"]).stdout
    )
    run = next(r for r in rows if r["kind"] == "run")
    assert run["is_subset"] is True and run["limit"] == 60
    assert run["eval_data"] == "sample (subset, 60 images, --limit)"
