"""Hostile cases for reports and measurements of the newer commands: ``report`` (``--plot``,
``--real-labels``, ``--robustness``), ``check`` results files from the wild, ``bench``, the
canary, ONNX/TFLite files, device flags without the device, and the environment.

Registered into :data:`tests.hostile.cases.CASES` after ``cases_commands``.
"""

from __future__ import annotations

from click.testing import Result

from tests.hostile.cases import TINY, case, ev
from tests.hostile.cases_commands import eval_run, model_module
from tests.hostile.env import Env

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


# -- device flags without the device ----------------------------------------------------------


@case("decode-gpu-on-cpu", "flags", "eval --decode gpu --device cpu", 5, "needs a CUDA device")
def _(env: Env) -> list[str]:
    return ev(env, TINY, "--decode", "gpu", "--device", "cpu")


@case("fp16-on-cpu", "flags", "eval --precision fp16 --device cpu", 5, "needs a CUDA device")
def _(env: Env) -> list[str]:
    return ev(env, TINY, "--precision", "fp16", "--device", "cpu")


def _in_home(env: Env, result: Result) -> None:
    assert (env.src / "home2" / "out.csv").is_file() and not (env.cwd / "~").exists()


@case("output-tilde", "flags", "--output=~/out.csv (a ~ the shell leaves alone)", 0,
      post=_in_home)  # fmt: skip
def _(env: Env) -> list[str]:
    env.overrides["HOME"] = str(env.src / "home2")
    env.allowed_extra.append(env.src)
    return report_args(env, "--format", "csv", "--output=~/out.csv")


@case("canary-on-shift-set", "canary",
      "--canary with a published-accuracy model on ImageNet-R (not val: refused)", 2,
      "shift set")  # fmt: skip
def _(env: Env) -> list[str]:
    from tests.hostile.cases import prep
    from tests.hostile.cases_commands import run_cli
    from tests.hostile.cases_data_commands import r_wnids, shift_folder

    run_cli(prep(env, shift_folder(env, "imagenet-r", r_wnids(2))))
    return ["data", "verify", "--root", str(env.root), "--data", "imagenet-r", "--canary",
            "resnet18"]  # fmt: skip
