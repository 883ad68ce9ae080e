"""`ilsvrc-bench bench` and `ilsvrc-bench data cache` through the CLI, on the generated sample."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ilsvrc_bench.cli import main
from tests.engine.helpers import make_sample_root

REPO = Path(__file__).resolve().parents[2]
TINY = "tests.engine.helpers:tiny"
SMALL = ["--resize-size", "40", "--crop-size", "32"]
STAGE_KEYS = {"images_per_second", "overall_images_per_second", "wall_s", "n_images"}


def invoke(*args: str) -> Result:
    return CliRunner(env={"COLUMNS": "200"}).invoke(main, list(args))


@pytest.fixture
def sample(tmp_path: Path) -> list[str]:
    return ["--root", str(make_sample_root(tmp_path)), "--data", "sample"]


def documented_keys() -> set[str]:
    """The top-level keys docs/performance.md lists for `bench --format json`."""
    text = (REPO / "docs" / "performance.md").read_text(encoding="utf-8")
    section = text.split("## bench --format json", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.MULTILINE))


def test_bench_json_has_every_documented_key_and_uses_the_cache(sample: list[str]) -> None:
    common = ["-m", TINY, *sample, *SMALL, "-j", "0", "-b", "6", "--device", "cpu"]
    first = invoke("-q", "bench", *common, "--format", "json")
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert set(result) == documented_keys()
    for stage in ("loader", "model_only", "end_to_end"):
        assert set(result[stage]) == STAGE_KEYS
        assert result[stage]["images_per_second"] > 0
    assert result["loader"]["n_images"] == result["end_to_end"]["n_images"] == 20
    assert result["end_to_end_cache"] is None and result["cache"] is None
    assert result["bound"] in ("loader", "model") and result["bound_ratio"] >= 1
    assert result["channels_last"] is True  # the CPU default
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["versions"]["torch"]

    made = invoke("-q", "data", "cache", "-m", TINY, *sample, *SMALL, "-j", "0", "--format", "json")
    assert made.exit_code == 0, made.output
    (row,) = json.loads(made.stdout)
    assert row["status"] == "written" and row["images"] == 20
    cached = json.loads(invoke("-q", "bench", *common, "--format", "json").stdout)
    assert cached["end_to_end_cache"]["n_images"] == 20
    assert cached["cache"] == row["path"]


def test_bench_table_names_the_bound_and_the_machine(sample: list[str]) -> None:
    out = invoke("bench", "-m", TINY, *sample, *SMALL, "-j", "0", "-b", "10", "--limit", "10")
    assert out.exit_code == 0, out.output
    assert "loader only" in out.stdout and "model only" in out.stdout
    assert re.search(r"bound by the (loader|model) \([\d.]+x slower", out.stdout)
    assert "machine:" in out.stdout and "torch" in out.stdout


def test_data_cache_dry_run_writes_nothing(sample: list[str]) -> None:
    out = invoke(
        "-q", "data", "cache", "-m", TINY, *sample, *SMALL, "--dry-run", "--format", "json"
    )
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.stdout)
    assert row["status"] == "not written" and row["size_bytes"] == 20 * (3 * 32 * 32 + 32)
    assert not Path(row["path"]).exists()


def test_bad_bench_options_are_usage_errors(sample: list[str]) -> None:
    out = invoke("bench", "-m", TINY, *sample, "--decode", "gpu", "--device", "cpu")
    assert out.exit_code == 5 and "needs a CUDA device" in out.output
    out = invoke("bench", "-m", TINY, *sample, "--data", "nope")
    assert out.exit_code == 3 and "no prepared data" in out.output


def test_eval_decode_gpu_without_cuda_fails_before_any_run_is_made(
    sample: list[str], tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    out = invoke("eval", "-m", TINY, *sample, "--decode", "gpu", "--device", "cpu",
                 "--runs-dir", str(runs))  # fmt: skip
    assert out.exit_code == 5 and "--decode gpu needs a CUDA device" in out.output
    assert not runs.exists() or not any(runs.iterdir())
