"""``ilsvrc-bench models`` and ``models show`` through CliRunner (and one real subprocess)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "models" / "plugin_pkg"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test plugin installed as pip would: a dist-info with an entry point on sys.path."""
    from ilsvrc_bench.models import factory

    dist = tmp_path / "ilsvrc_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ilsvrc-test-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[ilsvrc_bench.models]\ntinyplug = ilsvrc_test_plugin:tiny\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    factory.refresh_plugins()
    yield tmp_path
    factory.refresh_plugins()


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom ilsvrc_bench.cli import main\n"
        "r = CliRunner().invoke(main, ['models', '--help'])\nassert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(main, ['models', 'show', '--help'])\nassert r.exit_code == 0\n"
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_list_json_with_filters() -> None:
    code, out, _ = run("models", "--include", "vgg1*", "--exclude", "*_bn", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["vgg11", "vgg13", "vgg16", "vgg19"]
    vgg16 = rows[2]
    assert (vgg16["top1"], vgg16["top5"], vgg16["params_m"], vgg16["gflops"]) == (
        71.592, 90.382, 138.4, 15.47,
    )  # fmt: skip
    assert vgg16["crop"] == 224 and vgg16["weights"] == "IMAGENET1K_V1"


def test_list_csv_and_markdown() -> None:
    code, out, _ = run("models", "--include", "alexnet,googlenet", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows] == ["alexnet", "googlenet"]
    assert rows[0]["top1"] == "56.522"
    code, out, _ = run("models", "--include", "alexnet", "--format", "markdown")
    assert code == 0 and "| alexnet | torchvision |" in out


def test_list_everything_as_a_table(tmp_path: Path) -> None:
    target = tmp_path / "models.txt"
    code, out, _ = run("models", "-o", str(target))
    assert code == 0 and out == ""
    text = target.read_text()
    assert "alexnet" in text and "vit_b_16" in text and "56.522" in text


def test_show_json_is_the_whole_spec() -> None:
    code, out, _ = run("models", "show", "vgg16", "--format", "json")
    assert code == 0
    spec = json.loads(out)
    assert spec["weights"]["url"].endswith("vgg16-397923af.pth")
    reference = spec["reference"]
    assert (reference["top1"], reference["top5"]) == (71.592, 90.382)
    assert reference["source"] == "torchvision VGG16_Weights.IMAGENET1K_V1 metadata"
    assert spec["preprocessing"]["interpolation"] == "bilinear"


def test_show_with_weights_and_preprocessing_flags(tmp_path: Path) -> None:
    code, out, _ = run(
        "models", "show", "alexnet", "--weights", "random", "--resize", "288", "--crop", "256",
        "--interpolation", "bicubic", "--mean", "0.5,0.5,0.5", "--format", "json",
    )  # fmt: skip
    assert code == 0
    spec = json.loads(out)
    assert spec["weights"]["name"] == "random" and spec["reference"] is None
    assert "random weights" in spec["note"]
    assert spec["preprocessing"]["resize_size"] == 288
    assert spec["preprocessing"]["mean"] == [0.5, 0.5, 0.5]


def test_show_central_fraction_recipe() -> None:
    code, out, _ = run(
        "models", "show", "alexnet", "--central-fraction", "0.875", "--crop", "160",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    prep = json.loads(out)["preprocessing"]
    assert (prep["central_fraction"], prep["crop_size"]) == (0.875, 160)


def test_show_table() -> None:
    code, out, _ = run("models", "show", "alexnet")
    assert code == 0
    assert "reference.top1" in out and "56.522" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["alexnt"], 4, "unknown model 'alexnt'; did you mean 'alexnet'?"),
        (["alexnet", "--weights", "/nonexistent/w.pth"], 4, "does not exist"),
        (["alexnet", "--weights", "IMAGENET1K_V7"], 4, "has no weights named"),
        (["onnx:/nonexistent/m.onnx"], 4, "does not exist"),
        (["nosuchmod_abc:make"], 4, "cannot import module"),
        (["alexnet", "--std", "0,1,1"], 2, "std must be positive"),
        (["alexnet", "--crop", "0"], 2, "Invalid value"),
        (["alexnet", "--mean", "0.5,0.5"], 2, "for '--mean': mean must be three finite numbers"),
        (["alexnet", "--mean", "a,b,c"], 2, "Invalid value for '--mean'"),
        (["alexnet", "--std", "1,nan,1"], 2, "Invalid value for '--std'"),
        (["alexnet", "--central-fraction", "0"], 2, "Invalid value for '--central-fraction'"),
        (["alexnet", "--central-fraction", "1.2"], 2, "Invalid value for '--central-fraction'"),
        (["alexnet", "--weights", ""], 2, "Invalid value for '--weights'"),
        (["tim:resnet50"], 4, "unknown model source 'tim' in 'tim:resnet50'; did you mean 'timm'"),
    ],
)
def test_bad_input_exit_codes(args: list[str], code: int, message: str) -> None:
    exit_code, out, err = run("models", "show", *args)
    assert exit_code == code
    assert message in err
    assert out == ""


def test_plugin_is_listed_and_shown(plugin_site: Path) -> None:
    code, out, _ = run("models", "--include", "tiny*", "--format", "json")
    assert code == 0
    assert [r["name"] for r in json.loads(out)] == ["tinyplug"]
    code, out, _ = run("models", "show", "tinyplug", "--format", "json")
    assert code == 0 and json.loads(out)["source"] == "plugin"


def test_plugin_installed_in_a_fresh_process(plugin_site: Path) -> None:
    paths = [str(plugin_site), str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    done = subprocess.run(
        [sys.executable, "-m", "ilsvrc_bench", "models", "show", "tinyplug", "--format", "json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["target"] == "ilsvrc_test_plugin:tiny"
