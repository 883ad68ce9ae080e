"""Hostile cases for the newer commands: sweep, ensemble, report, check, bench, data cache,
data verify --canary, eval's --save-logits / --cache / --limit, and models that misbehave.

They register into :data:`tests.hostile.cases.CASES` (imported at the end of that module), so
the table in docs/reliability.md lists them after the older areas.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner, Result

from tests.hostile.cases import TINY, _module, case, ev
from tests.hostile.env import Env

# -- helpers ----------------------------------------------------------------------------------


def run_cli(args: list[str]) -> Result:
    """Run the CLI in-process during a case's setup; the run must succeed."""
    from ilsvrc_bench.cli import main

    result = CliRunner().invoke(main, ["-q", *args])
    assert result.exit_code == 0, result.output
    return result


def eval_run(env: Env, model: str = TINY, *extra: str, data: str | None = None) -> Path:
    """A complete run of ``model`` on the sample (or ``data``); returns its run directory."""
    before = set(env.runs.glob("*")) if env.runs.exists() else set()
    run_cli(ev(env, model, *extra, data=data))
    (new,) = set(env.runs.glob("*")) - before
    return new


def model_module(env: Env, name: str, forward: str, *, init: str = "") -> str:
    """``name:build``, a factory of a module whose forward is ``forward`` (one line)."""
    body = (
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.w = torch.nn.Linear(3, 1000)\n"
        f"        {init or 'pass'}\n"
        "    def forward(self, x):\n"
        f"        {forward}\n"
        "def build():\n    return M()\n"
    )
    return f"{_module(env, name, body)}:build"


def ensemble_args(env: Env, *runs: Path | str) -> list[str]:
    return ["ensemble", *map(str, runs), "--runs-dir", str(env.runs)]


def two_logit_runs(env: Env) -> tuple[Path, Path]:
    """Two runs with saved logits on the same images (the second a differently seeded model)."""
    a = eval_run(env, TINY, "--save-logits")
    b = eval_run(env, "tests.engine.helpers:unseeded", "--save-logits")
    return a, b


def logits_run_with(env: Env, write: object) -> list[str]:
    """An ensemble of a good run and a copy whose logits.npy ``write(path, logits)`` changed."""
    import numpy as np

    a, b = two_logit_runs(env)
    logits = np.load(b / "logits.npy")
    assert callable(write)
    write(b / "logits.npy", logits)
    return ensemble_args(env, a, b)


# -- model outputs ----------------------------------------------------------------------------


@case("model-fp16-on-cpu", "models", "a model in fp16 on the CPU (float input)", 4, "Half")
def _(env: Env) -> list[str]:
    return ev(env, model_module(env, "hostile_half", "return self.w(x.mean((2, 3)))",
                                init="self.half()"))  # fmt: skip


@case("model-3d-output", "models", "a model returning [N, 1000, 2]", 4, "expected [N, 1000]")
def _(env: Env) -> list[str]:
    return ev(env, model_module(env, "hostile_3d", "return torch.zeros(x.shape[0], 1000, 2)"))


@case("model-fewer-rows", "models", "a model returning one row fewer than its batch", 4,
      "for 20 inputs")  # fmt: skip
def _(env: Env) -> list[str]:
    return ev(env, model_module(env, "hostile_rows", "return torch.zeros(x.shape[0] - 1, 1000)"))


@case("model-dict-output", "models", "a model returning a dict", 4, "not return a tensor")
def _(env: Env) -> list[str]:
    return ev(env, model_module(env, "hostile_dict", "return {'logits': x}"))


def _logits_kept(env: Env, result: Result) -> None:
    import numpy as np

    (path,) = env.runs.rglob("logits.npy")
    logits = np.load(path)
    assert logits.dtype == np.float32 and np.isfinite(logits).all(), logits.dtype


@case("logits-beyond-fp16", "models",
      "eval --save-logits of a model whose logits pass float16's range (stored as float32)", 0,
      post=_logits_kept)  # fmt: skip
def _(env: Env) -> list[str]:
    big = "return torch.arange(1000.0).repeat(x.shape[0], 1) * 1e3 + x.mean()"
    return ev(env, model_module(env, "hostile_big", big), "--save-logits")


# -- ensemble ---------------------------------------------------------------------------------


@case("ensemble-no-logits", "ensemble", "a member run without saved logits", 2,
      "eval --save-logits")  # fmt: skip
def _(env: Env) -> list[str]:
    a = eval_run(env, TINY, "--save-logits")
    b = eval_run(env, "tests.engine.helpers:unseeded")
    return ensemble_args(env, a, b)


@case("ensemble-same-run", "ensemble", "the same run named twice", 2, "named twice")
def _(env: Env) -> list[str]:
    a = eval_run(env, TINY, "--save-logits")
    return ensemble_args(env, a, a.name)


@case("ensemble-one-run", "ensemble", "a single run", 2, "")
def _(env: Env) -> list[str]:
    return ensemble_args(env, eval_run(env, TINY, "--save-logits"))


@case("ensemble-unknown-run", "ensemble", "a run id that names no run", 2, "no run 'nope'")
def _(env: Env) -> list[str]:
    return ensemble_args(env, eval_run(env, TINY, "--save-logits"), "nope")


@case("ensemble-other-limit", "ensemble", "members on different --limit subsets", 3,
      "--limit subset")  # fmt: skip
def _(env: Env) -> list[str]:
    a = eval_run(env, TINY, "--save-logits")
    b = eval_run(env, "tests.engine.helpers:unseeded", "--save-logits", "--limit", "10")
    return ensemble_args(env, a, b)


@case("ensemble-other-protocol", "ensemble", "members of different protocols", 4,
      "different protocol")  # fmt: skip
def _(env: Env) -> list[str]:
    a = eval_run(env, TINY, "--save-logits")
    b = eval_run(env, "tests.engine.helpers:unseeded", "--save-logits", "--protocol", "full")
    return ensemble_args(env, a, b)


@case("ensemble-other-data", "ensemble", "members on different datasets", 3, "different data")
def _(env: Env) -> list[str]:
    from ilsvrc_bench.data import write_sample

    a = eval_run(env, TINY, "--save-logits")
    write_sample(env.src / "other", classes=4, per_class=2, seed=1)
    run_cli(["data", "prepare", str(env.src / "other"), "--root", str(env.root),
             "--name", "other"])  # fmt: skip
    b = eval_run(env, "tests.engine.helpers:unseeded", "--save-logits", data="other")
    return ensemble_args(env, a, b)


@case("ensemble-garbage-logits", "ensemble", "a member whose logits.npy is not a .npy file", 5,
      "corrupt logits")  # fmt: skip
def _(env: Env) -> list[str]:
    return logits_run_with(env, lambda path, logits: path.write_bytes(b"garbage"))


@case("ensemble-truncated-logits", "ensemble", "a member whose logits.npy is cut short", 5,
      "corrupt logits")  # fmt: skip
def _(env: Env) -> list[str]:
    return logits_run_with(env, lambda path, logits: path.write_bytes(path.read_bytes()[:300]))


@case("ensemble-short-logits", "ensemble", "a member whose logits.npy holds too few rows", 3,
      "expected (20, 1000)")  # fmt: skip
def _(env: Env) -> list[str]:
    import numpy as np

    return logits_run_with(env, lambda path, logits: np.save(path, logits[:5]))


@case("ensemble-nan-logits", "ensemble", "a member whose logits are all NaN", 3,
      "no finite logit")  # fmt: skip
def _(env: Env) -> list[str]:
    import numpy as np

    return logits_run_with(env, lambda path, logits: np.save(path, logits * np.nan))


@case("ensemble-odd-name", "ensemble", "--name with spaces, a slash and brackets", 0,
      post=lambda env, result: None)  # fmt: skip
def _(env: Env) -> list[str]:
    a, b = two_logit_runs(env)
    return [*ensemble_args(env, a, b), "--name", "my [best] a/b ensemble", "--format", "json"]


@case("ensemble-nested-repeat", "ensemble", "a run beside an ensemble that already holds it", 2,
      "would count twice")  # fmt: skip
def _(env: Env) -> list[str]:
    a, b = two_logit_runs(env)
    result = run_cli([*ensemble_args(env, a, b), "--format", "json"])
    rows = json.loads(result.stdout)
    (ensemble,) = [r["run_id"] for r in rows if r["role"] == "ensemble"]
    return ensemble_args(env, a, ensemble)


# -- sweep ------------------------------------------------------------------------------------


def sweep_args(env: Env, *extra: str) -> list[str]:
    return ["sweep", "-m", TINY, "--root", str(env.root), "--data", env.prepared(),
            "--runs-dir", str(env.runs), "--workers", "0", *extra]  # fmt: skip


@case("sweep-resize-below-crop", "sweep", "--sweep resize=10 (smaller than the 224 crop)", 2,
      "resize_size >= crop_size", post=lambda env, result: _no_runs(env))  # fmt: skip
def _(env: Env) -> list[str]:
    return sweep_args(env, "--sweep", "resize=10")


def _no_runs(env: Env) -> None:
    assert not any(env.runs.rglob("run.json")), "a refused sweep must not leave runs"


@case("sweep-resize-full", "sweep", "--sweep resize=... with --protocol full (resize unused)", 2,
      "protocol full")  # fmt: skip
def _(env: Env) -> list[str]:
    return sweep_args(env, "--sweep", "resize=232,256", "--protocol", "full")


@case("sweep-bad-value", "sweep", "--sweep resize=abc", 2, "not a positive integer")
def _(env: Env) -> list[str]:
    return sweep_args(env, "--sweep", "resize=abc")


@case("sweep-unknown-key", "sweep", "--sweep gamma=1", 2, "KEY one of")
def _(env: Env) -> list[str]:
    return sweep_args(env, "--sweep", "gamma=1")


@case("sweep-repeated-value", "sweep", "--sweep crop=224,224", 2, "repeated")
def _(env: Env) -> list[str]:
    return sweep_args(env, "--sweep", "crop=224,224")


def _one_recipe_row(env: Env, result: Result) -> None:
    rows = json.loads(result.stdout)
    assert [r["point"] for r in rows] == ["recipe"], rows


@case("sweep-only-recipe", "sweep", "a one-point sweep that is the model's own recipe", 0,
      post=_one_recipe_row)  # fmt: skip
def _(env: Env) -> list[str]:
    return sweep_args(env, "--sweep", "resize=256", "--format", "json")


# -- eval options on the newer paths ----------------------------------------------------------


def _all_twenty(env: Env, result: Result) -> None:
    (row,) = json.loads(result.stdout)
    assert row["n_images"] == 20 and row["subset_sha256"] is None, row


@case("eval-limit-over-size", "flags", "eval --limit 1000 on a 20-image set (all 20, no subset)",
      0, post=_all_twenty)  # fmt: skip
def _(env: Env) -> list[str]:
    return ev(env, TINY, "--limit", "1000", "--format", "json")


def _three_of_ten_crops(env: Env, result: Result) -> None:
    (row,) = json.loads(result.stdout)
    assert row["n_images"] == 3 and row["protocol"] == "10crop", row


@case("eval-limit-10crop", "flags", "eval --limit 3 --protocol 10crop", 0,
      post=_three_of_ten_crops)  # fmt: skip
def _(env: Env) -> list[str]:
    return ev(env, TINY, "--limit", "3", "--protocol", "10crop", "--format", "json")


def sample_name(env: Env) -> str:
    """The sample, prepared once (preparing again would replace it, and its cache with it)."""
    return "sample" if (env.root / "datasets" / "sample").is_dir() else env.prepared()


# -- faults on the newer commands -------------------------------------------------------------


def _sweep_resumes(env: Env, result: Result) -> None:

    started = sorted(p.name for p in env.runs.iterdir())
    assert len(started) == 2, started  # the recipe and the one point, both begun
    os.environ["ILSVRC_TEST_INTERRUPT_AT"] = "1000000"
    try:
        again = run_cli([*_interrupted_sweep(env), "--format", "json"])
    finally:
        del os.environ["ILSVRC_TEST_INTERRUPT_AT"]
    assert sorted(r["run_id"] for r in json.loads(again.stdout)) == started
    for run in started:
        assert json.loads((env.runs / run / "run.json").read_text())["status"] == "complete"


def _interrupted_sweep(env: Env) -> list[str]:
    return ["sweep", "-m", "tests.engine.helpers:interrupt_after", "--root", str(env.root),
            "--data", sample_name(env), "--runs-dir", str(env.runs), "--workers", "0",
            "--batch-size", "4", "--sweep", "crop=200"]  # fmt: skip


@case("sweep-ctrl-c", "faults", "Ctrl-C during a sweep, then the same command (resumes its runs)",
      130, "interrupted; the same command resumes", post=_sweep_resumes)  # fmt: skip
def _(env: Env) -> list[str]:
    return _interrupted_sweep(env)


def _no_partial_ensemble(env: Env, result: Result) -> None:
    runs = [p for p in env.runs.iterdir() if "ensemble" in p.name]
    assert runs == [], runs


@case("ensemble-runs-dir-file", "faults", "ensemble with --runs-dir naming a file", 2, "")
def _(env: Env) -> list[str]:
    a, b = two_logit_runs(env)
    return ["ensemble", str(a), str(b), "--runs-dir", str(env.write("runs-file", "x"))]


@case("ensemble-output-folder", "faults", "ensemble -o onto a folder (refused before writing)", 5,
      "is a directory", post=_no_partial_ensemble)  # fmt: skip
def _(env: Env) -> list[str]:
    a, b = two_logit_runs(env)
    return [*ensemble_args(env, a, b), "-o", str(env.src)]


# The data and report cases use the helpers above; they register after this module's cases.
from tests.hostile import cases_data_commands, cases_report_commands  # noqa: E402, F401
