"""A factory or model that calls sys.exit is a model error (exit 4), never the process's end."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ilsvrc_bench.cli import main
from ilsvrc_bench.errors import ExitCode, ModelError
from ilsvrc_bench.models import load, resolve

HERE = "tests.models.exiting"


def test_factory_calling_sys_exit_is_a_model_error() -> None:
    spec = resolve(f"{HERE}:exits_in_factory")
    with pytest.raises(ModelError, match=r"exits_in_factory .* called sys\.exit\(3\)") as info:
        load(spec)
    assert info.value.exit_code == ExitCode.MODEL


def test_model_calling_sys_exit_in_forward_is_a_model_error() -> None:
    model = load(resolve(f"{HERE}:exits_in_forward"))
    with pytest.raises(ModelError, match=r"called sys\.exit\('input too small'\).*\[2, 3, 8, 8\]"):
        model(torch.zeros(2, 3, 8, 8))


@pytest.mark.parametrize("factory", ["exits_in_factory", "exits_in_forward"])
def test_eval_exits_4_with_one_line(sample_root: Path, tmp_path: Path, factory: str) -> None:
    args = ["eval", "-m", f"{HERE}:{factory}", "--root", str(sample_root), "--data", "sample"]
    args += ["--runs-dir", str(tmp_path / "runs"), "--resize", "40", "--crop", "32"]
    result = CliRunner(env={"COLUMNS": "300"}).invoke(main, [*args, "--workers", "0"])
    assert result.exit_code == ExitCode.MODEL, result.output
    assert "sys.exit" in result.stderr and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "sys.exit" in lines[-1], result.stderr
    assert sum(line.startswith("error") for line in lines) == 1, result.stderr


def test_module_calling_sys_exit_on_import_is_a_model_error() -> None:
    with pytest.raises(ModelError, match=r"exiting_on_import.* called sys\.exit\(2\)") as info:
        resolve("tests.models.exiting_on_import:anything")
    assert info.value.exit_code == ExitCode.MODEL
