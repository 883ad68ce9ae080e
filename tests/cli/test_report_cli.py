"""`ilsvrc-bench report` with no runs: the history and the reference models, in every format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main


def _run(*args: str) -> str:
    result = CliRunner(env={"COLUMNS": "220"}).invoke(main, ["report", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_json_has_every_year_the_human_row_and_the_reference_models() -> None:
    rows = json.loads(_run("--format", "json"))
    for key in ("kind", "year", "entry", "top5_err", "top1_err", "split", "source"):
        assert all(key in r for r in rows)
    years = {r["year"] for r in rows if r["kind"] == "challenge"}
    assert years == set(range(2010, 2018))
    humans = [r for r in rows if r["kind"] == "human"]
    assert len(humans) == 1
    assert humans[0]["top5_err"] == pytest.approx(5.1)
    winners = {r["year"]: r for r in rows if r["kind"] == "challenge" and r["rank"] == 1}
    # ranked as the challenge did: entries that used only the provided training data
    assert winners[2012]["top5_err"] == pytest.approx(16.422)
    assert all(r["confidence"] in {"primary", "secondary"} for r in rows if r["kind"] != "run")
    outside = [r for r in rows if r["kind"] == "challenge" and r["outside_data"]]
    assert outside and all(r["rank"] is None for r in outside)
    assert winners[2014]["top5_err"] == pytest.approx(6.656)
    refs = {r["entry"].split(" ")[0]: r for r in rows if r["kind"] == "reference"}
    assert refs["alexnet"]["top5_err"] == pytest.approx(20.934)
    assert refs["alexnet"]["top1_err"] == pytest.approx(43.478)
    assert refs["alexnet"]["placement"] == (
        "would have won 2011 (2010-11: other test set and classes); 2nd in 2012"
    )
    assert refs["vgg16"]["top5_err"] == pytest.approx(9.618)
    assert refs["vgg16"]["placement"].startswith("would have won 2013")
    assert all(r["split"] == "val" for r in refs.values())


def test_csv_reads_back_with_pandas() -> None:
    frame = pd.read_csv(io.StringIO(_run("--format", "csv")))
    assert set(frame["year"].dropna().astype(int)) >= set(range(2010, 2018))
    sv = frame[(frame["team"] == "SuperVision") & (frame["kind"] == "challenge")]
    assert sorted(sv["top5_err"]) == [15.315, 16.422]
    assert frame["source"].notna().all()


def test_table_places_alexnet_and_vgg16_and_says_what_is_compared() -> None:
    out = _run()
    assert "alexnet" in out
    assert "vgg16" in out
    assert "would have won 2011" in out
    assert "test set" in out
    assert "val" in out
    assert "only the provided training data" in out
    assert "2010 and 2011" in out


def test_include_outside_data_ranks_every_entry() -> None:
    rows = json.loads(_run("--format", "json", "--include-outside-data"))
    winners = {r["year"]: r for r in rows if r["kind"] == "challenge" and r["rank"] == 1}
    assert winners[2012]["top5_err"] == pytest.approx(15.315)
    assert winners[2013]["top5_err"] == pytest.approx(11.197)
    out = _run("--include-outside-data", "--format", "markdown")
    assert "| 2012 | 2012 | SuperVision (outside data) | 15.315 |" in out
    assert "outside data included" in out


def test_vgg16_is_placed_exactly_in_2014() -> None:
    rows = json.loads(_run("--format", "json"))
    vgg = next(r for r in rows if r["kind"] == "reference" and r["entry"].startswith("vgg16 "))
    assert vgg["placement"] == "would have won 2013; 6th in 2014"


def test_markdown_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "history.md"
    assert _run("--format", "markdown", "-o", str(target)) == ""
    text = target.read_text()
    assert text.startswith("### ILSVRC classification")
    assert "| 2012 | 2012 | SuperVision | 16.422 |" in text
    assert "would have won 2011 (2010-11: other test set and classes); 2nd in 2012" in text
