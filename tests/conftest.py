"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

if TYPE_CHECKING:
    from tests.reports.engine_runs import Runs

REPO_ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("ILSVRC_BENCH_REALDATA", REPO_ROOT.parent / "shared" / "realdata"))
REAL_IMAGES = REALDATA / "imagenet-sample-200"
REAL_ONNX = REALDATA / "models" / "mobilenetv2-12-int8.onnx"


@pytest.fixture(scope="session")
def real_images() -> Path:
    """The 200 real ImageNet photos in ../shared/realdata; skips when they are absent."""
    if not REAL_IMAGES.is_dir():
        pytest.skip(f"real images not available at {REAL_IMAGES}")
    return REAL_IMAGES


@pytest.fixture(scope="session")
def real200_root(real_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding dataset ``real200``: the 200 real photos packed in the official layout
    (one class in five) and prepared once per session; treat it as read-only."""
    from ilsvrc_bench.data import prepare
    from ilsvrc_bench.data.sample import pack_official

    base = tmp_path_factory.mktemp("real200")
    files = sorted(real_images.glob("*.JPEG"))
    pairs = [(f.read_bytes(), f.name.split("_")[0]) for f in files]
    tar, devkit = pack_official(base / "src", pairs, seed=0, blacklist=0)
    prepare([tar, devkit], root=base / "root", name="real200")
    return base / "root"


@pytest.fixture
def real_onnx() -> Path:
    """The real pretrained int8 MobileNetV2 ONNX model; skips when absent or without onnxruntime."""
    pytest.importorskip("onnxruntime")
    if not REAL_ONNX.is_file():
        pytest.skip(f"real ONNX model not available at {REAL_ONNX}")
    return REAL_ONNX


class Cli:
    """``ilsvrc-bench`` run in process through click's CliRunner."""

    def invoke(self, *args: str, env: dict[str, str] | None = None) -> Result:
        from ilsvrc_bench.cli import main

        return CliRunner(env={"COLUMNS": "200", **(env or {})}).invoke(main, list(args))

    def run(self, *args: str) -> tuple[int, str]:
        """Exit code and stdout (progress and errors go to stderr)."""
        result = self.invoke(*args)
        return result.exit_code, result.stdout

    def run_all(self, *args: str) -> tuple[int, str]:
        """Exit code and stdout + stderr together."""
        result = self.invoke(*args)
        return result.exit_code, result.output


@pytest.fixture
def cli() -> Cli:
    """Runs the command line in process: ``cli.run("synsets", "tench")`` -> (exit code, stdout)."""
    return Cli()


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding dataset ``sample`` (10 classes x 2 generated images, official layout).

    Shared by the whole session: treat it as read-only.
    """
    from tests.engine.helpers import make_sample_root

    return make_sample_root(tmp_path_factory.mktemp("sample-root"))


@pytest.fixture(scope="session")
def engine_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Runs made by the real engine on generated samples (tests/reports/engine_runs.py), built once
    per session and shared by the report and check tests: treat them as read-only."""
    from tests.reports.engine_runs import build_engine_runs

    return build_engine_runs(tmp_path_factory)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the user's real data root, runs or weights cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ILSVRC_BENCH_ROOT", str(home / "root"))
    monkeypatch.setenv("ILSVRC_BENCH_RUNS", str(home / "runs"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("NO_COLOR", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
