"""ilsvrc-bench against the tools it replaces, side by side on the same images, model and cores.

Three ways to score the same ImageFolder of real JPEGs with the same model, batch size and
number of loader workers, each in a fresh process:

``torchvision``
    The hand-written loop: ``ImageFolder`` + ``weights.transforms()`` + ``DataLoader``, the model
    in the main process under ``inference_mode``.
``timm``
    timm's ``validate.py`` loop. The script is not part of the installed ``timm`` package, so its
    loop is reproduced here with timm's own pieces, as the script calls them:
    ``resolve_data_config`` + ``create_dataset`` + ``create_loader`` (with its default prefetcher,
    which normalises on the device), a warm-up batch, then the timed loop with top-1/top-5.
``ilsvrc-bench``
    ``ilsvrc-bench eval`` on the same images (prepared once with ``data prepare``); ``cache`` is
    the same after ``ilsvrc-bench data cache``.

The runs are interleaved (A B C, A B C, ...) and repeated, so load from other processes on the
machine falls on every tool alike; the median of the repeats is reported, with the load average
before and after. Weights are random unless they are already in the torch hub cache (this
script never downloads): speed does not depend on the values of the weights.

    python benchmarks/compare_peers.py --arch alexnet --images 1000 --repeats 3
    python benchmarks/compare_peers.py --arch resnet18 --peers timm,ilsvrc-bench
    git archive v1 | tar -x -C /tmp/v1 && python benchmarks/compare_peers.py \
        --peers torchvision,base,ilsvrc-bench --base /tmp/v1     # before/after a change

The figure compared is the loop's wall time (first batch asked for to last batch scored, which
includes starting the loader workers); each process's whole wall time is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO / ".." / "shared" / "realdata" / "imagenet-sample-200"
TOOLS = ("torchvision", "timm", "ilsvrc-bench", "cache", "base")
ILSVRC_BENCH = ("ilsvrc-bench", "cache", "base")


def build_image_folder(source: Path, out: Path, n_images: int) -> int:
    """``n_images`` JPEGs in ImageFolder layout, cycling through the real sample images.

    The sample file names start with their wnid (``n01440764_tench.JPEG``); copy ``k`` of an
    image is ``<wnid>/<stem>_<k>.JPEG`` (hard links where the file system allows).
    """
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpeg", ".jpg"))
    if not files:
        raise SystemExit(f"no JPEGs in {source}")
    for i in range(n_images):
        src = files[i % len(files)]
        wnid = src.name.split("_", 1)[0]
        dst = out / wnid / f"{src.stem}_{i // len(files)}.JPEG"
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return len({p.name.split("_", 1)[0] for p in files})


def _build_model(arch: str) -> tuple[Any, str]:
    import torch
    import torchvision

    model = torchvision.models.get_model(arch)
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    hub = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if hub.is_file():
        model.load_state_dict(torch.load(hub, map_location="cpu"))
        return model.eval(), "pretrained"
    return model.eval(), "random"


def run_torchvision(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import torchvision
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    model, weights = _build_model(args.arch)
    transform = torchvision.models.get_model_weights(args.arch).DEFAULT.transforms()
    dataset = ImageFolder(args.folder, transform=transform)
    loader = DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers)
    correct = n = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for images, labels in loader:
            correct += int((model(images).argmax(1) == labels).sum())
            n += len(labels)
    return {"loop_s": time.perf_counter() - start, "n": n, "weights": weights}


def run_timm(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from timm.data.config import resolve_data_config
    from timm.data.dataset_factory import create_dataset
    from timm.data.loader import create_loader

    model, weights = _build_model(args.arch)
    device = torch.device("cpu")
    # The torchvision recipe (256/224 bilinear), so every tool does the same work.
    data_config = resolve_data_config(
        {"interpolation": "bilinear", "crop_pct": 0.875, "input_size": (3, 224, 224)}, model=model
    )
    dataset = create_dataset(root=args.folder, name="", split="validation")
    loader = create_loader(
        dataset,
        input_size=data_config["input_size"],
        batch_size=args.batch_size,
        use_prefetcher=True,
        interpolation=data_config["interpolation"],
        mean=data_config["mean"],
        std=data_config["std"],
        num_workers=args.workers,
        crop_pct=data_config["crop_pct"],
        crop_mode=data_config["crop_mode"],
        pin_memory=False,
        device=device,
    )
    top1 = top5 = n = 0
    with torch.inference_mode():
        model(torch.randn((args.batch_size, *data_config["input_size"])))  # validate.py's warm-up
        start = time.perf_counter()
        for images, target in loader:
            out = model(images)
            top = out.topk(5, 1).indices
            top1 += int((top[:, 0] == target).sum())
            top5 += int((top == target[:, None]).any(1).sum())
            n += len(target)
    return {"loop_s": time.perf_counter() - start, "n": n, "weights": weights}


def ilsvrc_bench_command(args: argparse.Namespace, *, cache: bool) -> list[str]:
    """``ilsvrc-bench eval`` as a user types it: the process the parent times whole."""
    return [
        *(sys.executable, "-m", "ilsvrc_bench", "-q", "eval", "-m", args.arch),
        *("--data", "peers", "--root", str(args.root), "--runs-dir", str(args.runs)),
        *("--device", "cpu", "--batch-size", str(args.batch_size), "--workers", str(args.workers)),
        *("--no-resume", "--format", "json", "--cache" if cache else "--no-cache"),
        *([] if args.weights == "pretrained" else ["--weights", "random"]),
    ]


def _ilsvrc_bench_result(stdout: str) -> dict[str, Any]:
    (row,) = json.loads(stdout)
    record = json.loads((Path(row["run_dir"]) / "run.json").read_text())
    shutil.rmtree(row["run_dir"])
    return {"loop_s": record["timings"]["wall_s"], "n": row["n_images"]}


def _hub_has(arch: str) -> bool:
    import torch
    import torchvision

    weights = torchvision.models.get_model_weights(arch).DEFAULT
    return (Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name).is_file()


def one_run(args: argparse.Namespace) -> None:
    """Child process: run the torchvision or timm loop once and print its figures as JSON."""
    result = run_torchvision(args) if args.run == "torchvision" else run_timm(args)
    print(json.dumps(result))


def _child(args: argparse.Namespace, tool: str) -> dict[str, Any]:
    """One fresh process of ``tool``, timed whole by this process (start-up and exit included)."""
    env, cwd = None, None
    if tool in ILSVRC_BENCH:
        command = ilsvrc_bench_command(args, cache=tool == "cache")
        # this checkout, or for 'base' another one (an earlier commit: before/after figures)
        checkout = args.base if tool == "base" else REPO
        cwd, env = str(checkout), {**os.environ, "PYTHONPATH": str(checkout)}
    else:
        command = [
            *(sys.executable, __file__, "--run", tool, "--arch", args.arch),
            *("--folder", str(args.folder), "--batch-size", str(args.batch_size)),
            *("--workers", str(args.workers)),
        ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=cwd)
    process_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    if tool in ILSVRC_BENCH:
        result = _ilsvrc_bench_result(done.stdout)
    else:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    result["weights"] = args.weights
    # The whole process, as a shell or a CI job sees it: interpreter start, imports, model,
    # data, the loop, writing results, exit. process_s - loop_s is the fixed cost.
    result["process_s"] = process_s
    # CPU seconds of the process and everything it started (loader workers), imports included:
    # unlike wall time, barely inflated by other processes on a shared machine.
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def _prepare(args: argparse.Namespace, tools: list[str]) -> None:
    n_classes = build_image_folder(args.source, args.folder, args.images)
    print(f"{args.images} images ({n_classes} classes) from {args.source}", flush=True)
    ilsvrc = [sys.executable, "-m", "ilsvrc_bench", "-q"]
    where = ["--data", "peers", "--root", str(args.root)]
    prepare = ["data", "prepare", str(args.folder), "--format", "imagefolder", "--name", "peers"]
    subprocess.run([*ilsvrc, *prepare, "--root", str(args.root)], check=True, capture_output=True)
    if "cache" in tools:
        weights = [] if args.weights == "pretrained" else ["--weights", "random"]
        cache = ["data", "cache", *where, "-m", args.arch, *weights, "--workers", str(args.workers)]
        subprocess.run([*ilsvrc, *cache], check=True, capture_output=True)


def _machine() -> str:
    from ilsvrc_bench.engine.machine import machine_info

    info = machine_info()
    libs = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return f"{info['cpu']} ({info['cpu_count']} cores), {platform.system()}; {libs}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="alexnet", help="a torchvision architecture")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--source", type=Path, default=REALDATA)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peers", default=",".join(TOOLS[:4]), help=f"among {', '.join(TOOLS)}")
    parser.add_argument(
        "--base",
        type=Path,
        help="a checkout of another ilsvrc-bench commit; peer 'base' runs its eval --no-cache",
    )
    parser.add_argument("--run", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        one_run(args)
        return
    args.weights = "pretrained" if _hub_has(args.arch) else "random"
    tools = [t for t in args.peers.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    if "base" in tools and args.base is None:
        parser.error("peer 'base' needs --base PATH (a checkout of the commit to compare with)")
    if args.base is not None:
        args.base = args.base.resolve()
        tools += [] if "base" in tools else ["base"]
    with tempfile.TemporaryDirectory() as tmp:
        args.folder, args.root, args.runs = (Path(tmp) / d for d in ("images", "root", "runs"))
        _prepare(args, tools)
        print(f"machine: {_machine()}")
        print(
            f"model {args.arch}, batch {args.batch_size}, {args.workers} workers, "
            f"{args.repeats} interleaved repeats; load average before: {os.getloadavg()}",
            flush=True,
        )
        results: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for repeat in range(args.repeats):
            for tool in tools:
                result = _child(args, tool)
                results[tool].append(result)
                print(
                    f"  repeat {repeat + 1} {tool:>12}: loop {result['loop_s']:.2f} s "
                    f"({result['n'] / result['loop_s']:.1f} images/s), "
                    f"process {result['process_s']:.2f} s, CPU {result['cpu_s']:.1f} s, "
                    f"weights {result['weights']}",
                    flush=True,
                )
        print(f"load average after: {os.getloadavg()}")
    _report(results, tools)


def _report(results: dict[str, list[dict[str, Any]]], tools: list[str]) -> None:
    n = results[tools[0]][0]["n"]
    figures = ("loop_s", "process_s", "cpu_s")
    median = {t: {f: statistics.median(r[f] for r in results[t]) for f in figures} for t in tools}
    print(
        f"\n{'tool':>12} {'loop wall s':>12} {'images/s':>9} {'process wall s':>15} "
        f"{'fixed s':>8} {'process CPU s':>14}   (medians)"
    )
    for tool in tools:
        m = median[tool]
        print(
            f"{tool:>12} {m['loop_s']:>12.2f} {n / m['loop_s']:>9.1f} {m['process_s']:>15.2f} "
            f"{m['process_s'] - m['loop_s']:>8.2f} {m['cpu_s']:>14.1f}"
        )
    print("(fixed: process wall minus loop wall: start-up, imports, model, data, records, exit)")
    labels = ("loop wall s", "process wall s", "process CPU s")
    for figure, label in zip(figures, labels, strict=True):
        print(f"\n{'median ' + label:>27}  " + "  ".join(f"{'x ' + t:>14}" for t in tools))
        for tool in tools:
            ratios = "  ".join(
                f"{median[other][figure] / median[tool][figure]:>14.2f}" for other in tools
            )
            print(f"{tool:>12} {median[tool][figure]:>14.2f}  {ratios}")
    print("(row tool's speed as a multiple of each column tool's: > 1 means the row is faster)")


if __name__ == "__main__":
    main()
