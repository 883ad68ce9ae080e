"""Hostile cases for the newer commands: sweep, ensemble, report, check, bench, data cache,
data verify --canary, eval's --save-logits / --cache / --limit, and models that misbehave.

They register into :data:`tests.hostile.cases.CASES` (imported at the end of that module), so
the table in docs/reliability.md lists them after the older areas.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from tests.hostile.cases import TINY, _module, case, ev, prep
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


# -- the preprocessed cache -------------------------------------------------------------------


def sample_name(env: Env) -> str:
    """The sample, prepared once (preparing again would replace it, and its cache with it)."""
    return "sample" if (env.root / "datasets" / "sample").is_dir() else env.prepared()


def cache_args(env: Env, *extra: str) -> list[str]:
    return ["data", "cache", "-m", TINY, "--root", str(env.root), "--data", sample_name(env),
            "--resize", "40", "--crop", "32", "--workers", "0", *extra]  # fmt: skip


def built_cache(env: Env) -> Path:
    """The sample's cache for the tiny model at 40/32, built; returns its directory."""
    run_cli(cache_args(env))
    (done,) = (env.root / "datasets").rglob("cache.json")
    return done.parent


def damage(path: Path, offset: int = 5000) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * 100)


@case("cache-damaged", "cache", "eval reading a cache whose bytes changed", 3,
      "does not match its SHA-256")  # fmt: skip
def _(env: Env) -> list[str]:
    damage(built_cache(env) / "views.u8")
    return ev(env, TINY, data=sample_name(env))


@case("cache-truncated", "cache", "eval reading a cache file cut short", 3, "wrong size")
def _(env: Env) -> list[str]:
    views = built_cache(env) / "views.u8"
    with views.open("r+b") as fh:
        fh.truncate(views.stat().st_size // 2)
    return ev(env, TINY, data=sample_name(env))


def _repaired_and_usable(env: Env, result: Result) -> None:
    (row,) = json.loads(result.stdout)
    assert row["status"].startswith("repaired"), row
    run_cli(ev(env, TINY, data=sample_name(env)))  # the repaired cache reads cleanly


@case("cache-repair", "cache", "data cache run again on a damaged cache (repaired)", 0,
      post=_repaired_and_usable)  # fmt: skip
def _(env: Env) -> list[str]:
    damage(built_cache(env) / "views.u8")
    return [*cache_args(env), "--format", "json"]


@case("cache-garbage-record", "cache", "eval with a cache whose cache.json is garbage (decodes)",
      0)  # fmt: skip
def _(env: Env) -> list[str]:
    (built_cache(env) / "cache.json").write_text("{garbage")
    return ev(env, TINY, data=sample_name(env))


def _decoded(env: Env, result: Result) -> None:
    for run_json in env.runs.rglob("run.json"):
        notes = json.loads(run_json.read_text())["notes"]
        assert not any("read from the cache" in n for n in notes), notes


@case("cache-foreign", "cache", "another dataset's cache copied in under this one's key", 0,
      post=_decoded)  # fmt: skip
def _(env: Env) -> list[str]:
    from ilsvrc_bench.data import write_sample

    source = built_cache(env)
    write_sample(env.src / "other", classes=4, per_class=2, seed=1)
    run_cli(["data", "prepare", str(env.src / "other"), "--root", str(env.root),
             "--name", "other"])  # fmt: skip
    result = run_cli([*cache_args(env, "--dry-run", "--format", "json"), "--data", "other"])
    (row,) = json.loads(result.stdout)
    shutil.copytree(source, row["path"])
    return ev(env, TINY, data="other")


@case("cache-locked", "cache", "data cache while another process writes the same cache", 5,
      "another process")  # fmt: skip
def _(env: Env) -> list[str]:
    from filelock import FileLock

    result = run_cli(cache_args(env, "--dry-run", "--format", "json"))
    (row,) = json.loads(result.stdout)
    Path(row["path"]).mkdir(parents=True)
    lock = FileLock(Path(row["path"]) / ".lock")
    lock.acquire()
    env.cleanup.append(lock.release)
    return cache_args(env)


def _resumed(env: Env, result: Result) -> None:
    (row,) = json.loads(result.stdout)
    assert row["status"].startswith("resumed"), row


@case("cache-after-kill", "cache",
      "data cache after a killed build (no cache.json, a torn log line, a stale .lock)", 0,
      post=_resumed)  # fmt: skip
def _(env: Env) -> list[str]:
    folder = built_cache(env)
    (folder / "cache.json").unlink()
    (folder / "chunks.jsonl").write_text('{"chunk": 0, "unreadable": {}}\n{"chunk": 1, "unrea')
    (folder / ".lock").write_text("")
    return [*cache_args(env), "--format", "json"]


@case(
    "data-name-and-folder",
    "flags",
    "--data NAME run where a folder NAME (its source images) is in the working directory",
    0,
)
def _(env: Env) -> list[str]:
    name = env.prepared()
    (env.cwd / name).mkdir()
    env.allowed_extra.append(env.cwd)
    return ev(env, TINY, data=name)


# -- report -----------------------------------------------------------------------------------


def report_args(env: Env, *extra: str) -> list[str]:
    return ["report", "--runs-dir", str(env.runs), "--root", str(env.root), *extra]


@case("report-plot-jpg", "report", "report --plot out.jpg (the plot is a PNG)", 2, ".png",
      post=lambda env, result: None)  # fmt: skip
def _(env: Env) -> list[str]:
    return report_args(env, "--plot", str(env.src / "out.jpg"))


@case("report-plot-folder", "report", "report --plot onto a folder", 5, "is a directory")
def _(env: Env) -> list[str]:
    (env.src / "plot.png").mkdir()
    return report_args(env, "--plot", str(env.src / "plot.png"))


@case("report-real-labels-folder", "report", "report --real-labels naming a folder", 3,
      "ReaL labels")  # fmt: skip
def _(env: Env) -> list[str]:
    eval_run(env)
    return report_args(env, "--real-labels", str(env.src))


@case("report-real-labels-short", "report", "ReaL labels with fewer entries than the val images",
      3, "no entry")  # fmt: skip
def _(env: Env) -> list[str]:
    eval_run(env)
    return report_args(env, "--real-labels", str(env.write("real.json", "[[1], [2]]")))


@case("report-robustness-empty", "report", "report --robustness --plot with no shift-set runs",
      0)  # fmt: skip
def _(env: Env) -> list[str]:
    eval_run(env)
    env.allowed_extra.append(env.src)
    return report_args(env, "--robustness", "--plot", str(env.src / "robustness.png"))


# -- check: results files from the wild -------------------------------------------------------


def check_file(env: Env, name: str, data: bytes | str) -> list[str]:
    run = eval_run(env)
    return ["check", "--baseline", str(env.write(name, data)), "--candidate", str(run),
            "--runs-dir", str(env.runs)]  # fmt: skip


ZERO = '{"top1_acc": 0, "top5_acc": 0, "n_images": 20}'


@case("check-results-empty", "runs", "check --baseline an empty .json file", 3, "is empty")
def _(env: Env) -> list[str]:
    return check_file(env, "base.json", "")


@case("check-results-jpeg", "runs", "check --baseline a JPEG named base.json", 3, "binary")
def _(env: Env) -> list[str]:
    from tests.hostile.cases import val_member

    return check_file(env, "base.json", val_member(env))


@case("check-results-utf16", "runs", "check --baseline a UTF-16 results file (PowerShell's >)",
      0)  # fmt: skip
def _(env: Env) -> list[str]:
    return check_file(env, "base.json", ZERO.encode("utf-16"))


@case("check-results-bom-csv", "runs", "check --baseline a UTF-8 CSV with a byte-order mark", 0)
def _(env: Env) -> list[str]:
    return check_file(env, "base.csv", "\ufefftop1_acc,top5_acc,n_images\n0,0,20\n")


@case("check-results-bool", "runs", 'check --baseline {"top1_acc": true, ...} (not 1%)', 3,
      "must be a number")  # fmt: skip
def _(env: Env) -> list[str]:
    return check_file(env, "base.json", ZERO.replace('"top1_acc": 0', '"top1_acc": true'))


@case("check-results-two-rows", "runs", "check --baseline a results file of two runs", 3,
      "exactly one")  # fmt: skip
def _(env: Env) -> list[str]:
    return check_file(env, "base.json", f"[{ZERO}, {ZERO}]")


@case("check-results-txt", "runs", "check --baseline results.txt", 2, ".json or .csv")
def _(env: Env) -> list[str]:
    return check_file(env, "base.txt", ZERO)


@case("check-dataset-folder", "runs", "check --baseline a dataset folder (not a run)", 5,
      "not a run directory")  # fmt: skip
def _(env: Env) -> list[str]:
    run = eval_run(env)
    return ["check", "--baseline", str(env.root / "datasets" / "sample"), "--candidate",
            str(run), "--runs-dir", str(env.runs)]  # fmt: skip


@case("check-odd-file-name", "runs", "check --baseline '-base [1] ü.json' (dash, brackets)",
      0)  # fmt: skip
def _(env: Env) -> list[str]:
    return check_file(env, "-base [1] ü.json", ZERO)


# -- bench and the canary ---------------------------------------------------------------------


def bench_args(env: Env, model: str, *extra: str) -> list[str]:
    return ["bench", "-m", model, "--root", str(env.root), "--data", env.prepared(),
            "--resize", "40", "--crop", "32", "--workers", "0", *extra]  # fmt: skip


@case("bench-model-raises", "bench", "bench of a model whose forward fails (fp16 weights on CPU)",
      4, "the model failed on a batch")  # fmt: skip
def _(env: Env) -> list[str]:
    return bench_args(env, model_module(env, "hostile_bench_half", "return self.w(x.mean((2, 3)))",
                                        init="self.half()"))  # fmt: skip


@case("bench-output-folder", "bench", "bench -o onto a folder", 5, "is a directory")
def _(env: Env) -> list[str]:
    return bench_args(env, TINY, "-o", str(env.src))


def canary_args(env: Env, *extra: str) -> list[str]:
    return ["data", "verify", "--root", str(env.root), "--data", env.prepared(),
            "--canary", TINY, *extra]  # fmt: skip


@case("canary-no-expectation", "canary", "--canary with a model of no published accuracy", 2,
      "--canary-expect")  # fmt: skip
def _(env: Env) -> list[str]:
    return canary_args(env)


@case("canary-expect-150", "canary", "--canary-expect 150", 2, "accuracy in percent")
def _(env: Env) -> list[str]:
    return canary_args(env, "--canary-expect", "150")


@case("canary-below-expectation", "canary",
      "a canary below its --canary-expect (named as the given figure, not 'published')", 3,
      "below the --canary-expect 50")  # fmt: skip
def _(env: Env) -> list[str]:
    return canary_args(env, "--canary-expect", "50")


# -- model files ------------------------------------------------------------------------------


@case("onnx-folder", "models", "-m model.onnx naming a folder", 4, "is a directory")
def _(env: Env) -> list[str]:
    (env.src / "model.onnx").mkdir()
    return ev(env, str(env.src / "model.onnx"))


@case("onnx-empty", "models", "-m model.onnx, an empty file", 4, "cannot load ONNX model")
def _(env: Env) -> list[str]:
    return ev(env, str(env.write("model.onnx", b"")))


@case("tflite-empty", "models", "-m model.tflite, an empty file", 4, "cannot load TFLite model")
def _(env: Env) -> list[str]:
    return ev(env, str(env.write("model.tflite", b"")))


@case("tflite-jpeg", "models", "-m model.tflite, a JPEG", 4, "cannot load TFLite model")
def _(env: Env) -> list[str]:
    from tests.hostile.cases import val_member

    return ev(env, str(env.write("model.tflite", val_member(env))))


@case("onnx-missing-scheme", "models", "-m onnx:missing.onnx", 4, "does not exist")
def _(env: Env) -> list[str]:
    return ev(env, "onnx:missing.onnx")


# -- shift sets -------------------------------------------------------------------------------


def shift_folder(env: Env, name: str, wnids: list[str], *, per_class: int = 2) -> Path:
    from tests.shifts.layouts import generated

    return generated(env.src / name, wnids, per_class)


def r_wnids(n: int) -> list[str]:
    from ilsvrc_bench.data.shifts import subset_wnids

    wnids = subset_wnids("imagenet-r")
    assert wnids is not None
    return list(wnids[:n])


@case("v2-class-1000", "shifts", "an ImageNetV2 folder holding a class folder '1000'", 3,
      "named 0..999")  # fmt: skip
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    folder = env.src / "imagenetv2-matched-frequency-format-val"
    for c in ("0", "999", "1000"):
        (folder / c).mkdir(parents=True)
        (folder / c / "x.jpeg").write_bytes(jpeg(len(c)))
    return prep(env, folder)


@case("shift-wrong-format", "shifts", "ImageNet-R folders prepared with --format imagenet-a", 3,
      "not one of the 200 imagenet-a classes")  # fmt: skip
def _(env: Env) -> list[str]:
    from ilsvrc_bench.data.shifts import subset_wnids

    a = set(subset_wnids("imagenet-a") or ())
    only_r = [w for w in (subset_wnids("imagenet-r") or ()) if w not in a][:2]
    return prep(env, shift_folder(env, "imagenet-r", only_r), extra=("--format", "imagenet-a"))


@case("shift-nested", "shifts", "imagenet-r/imagenet-r/<wnid> (unpacked one level too deep)", 3,
      "not a recognised")  # fmt: skip
def _(env: Env) -> list[str]:
    shift_folder(env, "outer/imagenet-r/imagenet-r", r_wnids(2))
    return prep(env, env.src / "outer" / "imagenet-r")


@case(
    "shift-odd-names",
    "shifts",
    "ImageNet-Sketch files named with spaces, brackets, unicode and a leading dash",
    0,
)
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    folder = shift_folder(env, "sketch", ["n01440764", "n01443537"])
    for i, name in enumerate(("a b [1].JPEG", "ünïcode.jpg", "-dash.jpeg")):
        (folder / "n01440764" / name).write_bytes(jpeg(50 + i))
    return prep(env, folder)


@case("shift-broken-strict", "shifts",
      "eval --strict on ImageNet-R holding a broken JPEG (the file named, not a buffer)", 3,
      "not an image format")  # fmt: skip
def _(env: Env) -> list[str]:
    folder = shift_folder(env, "imagenet-r", r_wnids(2))
    (folder / r_wnids(1)[0] / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    run_cli(prep(env, folder))
    return ev(env, TINY, "--strict", data="imagenet-r")


# -- faults on the newer commands -------------------------------------------------------------


def _sweep_resumes(env: Env, result: Result) -> None:
    import os

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
      130, "interrupted", post=_sweep_resumes)  # fmt: skip
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


# -- the environment --------------------------------------------------------------------------


@case("torch-home-file", "environment", "$TORCH_HOME naming a file, published weights needed", 4,
      "$TORCH_HOME")  # fmt: skip
def _(env: Env) -> list[str]:
    env.overrides["TORCH_HOME"] = str(env.write("torch-home", "a file"))
    return ev(env, "resnet18", "--limit", "2")


def _quiet(env: Env, result: Result) -> None:
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert lines == [], result.stderr


@case("torch-home-file-plot", "environment",
      "$TORCH_HOME naming a file, report --plot (matplotlib's cache: no raw warning)", 0,
      post=_quiet)  # fmt: skip
def _(env: Env) -> list[str]:
    env.overrides["TORCH_HOME"] = str(env.write("torch-home", "a file"))
    env.allowed_extra.append(env.src)
    return report_args(env, "--plot", str(env.src / "plot.png"))


@case("root-env-file", "environment", "$ILSVRC_BENCH_ROOT naming a file", 2, "is a file")
def _(env: Env) -> list[str]:
    env.overrides["ILSVRC_BENCH_ROOT"] = str(env.write("root-file", "a file"))
    return ["data", "sample"]


@case("tmpdir-missing", "environment", "$TMPDIR naming a folder that does not exist (eval, bench)",
      0)  # fmt: skip
def _(env: Env) -> list[str]:
    import tempfile

    env.overrides["TMPDIR"] = str(env.base / "no-such-tmp")
    tempfile.tempdir = None  # gettempdir() caches its answer: read $TMPDIR again, now and after
    env.cleanup.append(lambda: setattr(tempfile, "tempdir", None))
    return bench_args(env, TINY)


# -- Hugging Face parquet shards (data prepare of the files data download --from hf fetches) --


def parquet_shard(env: Env, rows: Sequence[tuple[bytes | None, str, object]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = env.src / "hf" / "validation-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = [label for *_, label in rows]
    kind = pa.bool_() if any(isinstance(x, bool) for x in labels) else pa.int64()
    table = pa.table({"image": [{"bytes": d, "path": n} for d, n, _ in rows],
                      "label": pa.array(labels, kind)})  # fmt: skip
    pq.write_table(table, path)
    return path


@case("hf-same-name-twice", "downloads", "a parquet shard naming one image file twice", 3,
      "appears twice")  # fmt: skip
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    rows = [(jpeg(1), "x.JPEG", 0), (jpeg(2), "x.JPEG", 5), (jpeg(3), "y.JPEG", 7)]
    return prep(env, parquet_shard(env, rows))


@case("hf-bool-label", "downloads", "a parquet shard whose labels are booleans", 3, "not 0..999")
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    return prep(env, parquet_shard(env, [(jpeg(1), "a.JPEG", True), (jpeg(2), "b.JPEG", False)]))


def _inside(env: Env, result: Result) -> None:
    assert not (env.root / "evil.JPEG").exists() and not (env.base / "evil.JPEG").exists()
    (images,) = (env.root / "datasets").glob("*/images")
    assert sorted(p.name for p in images.iterdir()) == [
        "evil.JPEG",
        "validation-00000-of-00001-000002.JPEG",
        "x.JPEG",
    ]


@case("hf-path-traversal", "downloads",
      "a parquet shard whose image paths are '../../evil.JPEG', '/etc/x.JPEG' and ''", 0,
      post=_inside)  # fmt: skip
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    rows = [(jpeg(1), "../../evil.JPEG", 0), (jpeg(2), "/etc/x.JPEG", 5), (jpeg(3), "", 7)]
    return prep(env, parquet_shard(env, rows))


@case("hf-not-parquet", "downloads", "a .parquet file of random bytes", 3, "parquet")
def _(env: Env) -> list[str]:
    return prep(env, env.write("hf/validation-00000-of-00001.parquet", os.urandom(2000)))


# -- device flags without the device ----------------------------------------------------------


@case("decode-gpu-on-cpu", "flags", "eval --decode gpu --device cpu", 5, "needs a CUDA device")
def _(env: Env) -> list[str]:
    return ev(env, TINY, "--decode", "gpu", "--device", "cpu")


@case("fp16-on-cpu", "flags", "eval --precision fp16 --device cpu", 5, "needs a CUDA device")
def _(env: Env) -> list[str]:
    return ev(env, TINY, "--precision", "fp16", "--device", "cpu")


@case("ensemble-nested-repeat", "ensemble", "a run beside an ensemble that already holds it", 2,
      "would count twice")  # fmt: skip
def _(env: Env) -> list[str]:
    a, b = two_logit_runs(env)
    result = run_cli([*ensemble_args(env, a, b), "--format", "json"])
    rows = json.loads(result.stdout)
    (ensemble,) = [r["run_id"] for r in rows if r["role"] == "ensemble"]
    return ensemble_args(env, a, ensemble)


def _in_home(env: Env, result: Result) -> None:
    assert (env.src / "home2" / "out.csv").is_file() and not (env.cwd / "~").exists()


@case("output-tilde", "flags", "--output=~/out.csv (a ~ the shell leaves alone)", 0,
      post=_in_home)  # fmt: skip
def _(env: Env) -> list[str]:
    env.overrides["HOME"] = str(env.src / "home2")
    env.allowed_extra.append(env.src)
    return report_args(env, "--format", "csv", "--output=~/out.csv")
