"""The fixed cost of ilsvrc-bench processes: whole-process wall and CPU time of each command.

Runs ``--help``, ``synsets``, ``models``, ``report``, ``check`` and a short ``eval`` as a shell or
a CI job does (a fresh ``python -m ilsvrc_bench`` process each), interleaved and repeated, and
prints the medians. With ``--base PATH`` (a checkout of another commit) every command also runs
from that checkout, interleaved with this one, for before/after figures:

    python benchmarks/startup.py --repeats 5
    git archive v1 | tar -x -C /tmp/v1 && python benchmarks/startup.py --base /tmp/v1

CPU seconds include the loader workers; other processes on a shared machine inflate them far
less than wall time. The data are the real sample JPEGs (``--images`` of them), prepared once
in a temporary folder with this checkout; ``report`` and ``check`` read two runs made there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.compare_peers import REALDATA, build_image_folder  # noqa: E402


def _ilsvrc(checkout: Path, args: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``python -m ilsvrc_bench ARGS`` run from ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ilsvrc_bench", *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"ilsvrc-bench {' '.join(args)} failed: {done.stderr.strip()[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _commands(tmp: Path, source: Path, images: int) -> dict[str, list[str]]:
    root, runs = tmp / "root", tmp / "runs"
    build_image_folder(source, tmp / "images", images)
    prepare = ["-q", "data", "prepare", str(tmp / "images"), "--format", "imagefolder"]
    _ilsvrc(REPO, [*prepare, "--name", "peers", "--root", str(root)])
    evaluate = [
        *("-q", "eval", "-m", "alexnet", "--weights", "random", "--data", "peers"),
        *("--root", str(root), "--runs-dir", str(runs), "--device", "cpu", "-b", "32"),
        *("-j", "2", "--no-resume", "--no-cache", "--format", "json"),
    ]
    # two runs of the same 50 images: what check compares in CI
    made = [json.loads(_ilsvrc(REPO, [*evaluate, "--limit", "50"])[2])[0] for _ in range(2)]
    first, second = (row["run_dir"] for row in made)
    return {
        "--help": ["--help"],
        "synsets": ["synsets", "--format", "json"],
        "models": ["models", "--format", "json"],
        "report": ["report", "--runs-dir", str(runs), "--format", "json"],
        "check": ["check", "--baseline", first, "--candidate", second, "--format", "json"],
        f"eval {images}": evaluate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=100, help="images the eval command scores")
    parser.add_argument("--source", type=Path, default=REALDATA, help="a folder of JPEGs")
    parser.add_argument("--base", type=Path, help="a checkout of another commit to compare with")
    args = parser.parse_args()
    checkouts = {"this": REPO}
    if args.base is not None:
        checkouts = {"base": args.base.resolve(), "this": REPO}
    with tempfile.TemporaryDirectory() as tmp:
        commands = _commands(Path(tmp), args.source, args.images)
        print(f"load average before: {os.getloadavg()}", flush=True)
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.repeats):
            for name, command in commands.items():
                for label, checkout in checkouts.items():
                    wall, cpu, _ = _ilsvrc(checkout, command)
                    figures.setdefault((name, label), []).append((wall, cpu))
        print(f"load average after: {os.getloadavg()}")
    print(f"\nmedians of {args.repeats} interleaved repeats, seconds")
    print(f"{'command':>10} " + " ".join(f"{c + ' wall':>10} {c + ' CPU':>10}" for c in checkouts))
    for name in commands:
        cells = []
        for label in checkouts:
            runs = figures[(name, label)]
            cells.append(f"{statistics.median(w for w, _ in runs):>10.2f}")
            cells.append(f"{statistics.median(c for _, c in runs):>10.2f}")
        print(f"{name:>10} " + " ".join(cells))


if __name__ == "__main__":
    main()
