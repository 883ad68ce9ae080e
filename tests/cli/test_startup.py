"""The command-line process's start-up and exit (cli/startup.py): same behaviour, less work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_torchvision_imports_without_dynamo_and_builds_models() -> None:
    out = _python(
        "import sys\n"
        "from ilsvrc_bench.cli import startup\n"
        "startup.defer_dynamo_import()\n"
        "import torch, torchvision\n"
        "assert 'torch._dynamo' not in sys.modules and '_dynamo' not in vars(torch)\n"
        "model = torchvision.models.alexnet().eval()\n"
        "with torch.inference_mode():\n"
        "    print(tuple(model(torch.zeros(1, 3, 224, 224)).shape))\n"
        "assert 'torch._dynamo' not in sys.modules\n"
        "assert not any(isinstance(f, startup._TorchvisionFinder) for f in sys.meta_path)\n"
    )
    assert out.strip() == "(1, 1000)"


def test_dynamo_is_the_real_one_once_used() -> None:
    # roi_align's deferred helper answers as torch's own does, and torch.compile works after.
    out = _python(
        "import sys\n"
        "from ilsvrc_bench.cli import startup\n"
        "startup.defer_dynamo_import()\n"
        "import torch, torchvision\n"
        "roi = sys.modules['torchvision.ops.roi_align']\n"
        "answer = roi.is_compile_supported('cpu')\n"
        "from torch._dynamo.utils import is_compile_supported\n"
        "assert answer == is_compile_supported('cpu')\n"
        "assert type(sys.modules['torch._dynamo']).__name__ == 'module'\n"
        "assert torch._dynamo is sys.modules['torch._dynamo']\n"
        "double = torch.compile(lambda x: x * 2, backend='eager')\n"
        "print(double(torch.ones(2)).tolist())\n"
    )
    assert out.strip() == "[2.0, 2.0]"


def test_any_other_dynamo_name_imports_the_real_module() -> None:
    # Something other than is_compile_supported, asked for while torchvision imports, is the
    # real object: the stand-in never hands out a substitute.
    out = _python(
        "import sys\n"
        "from ilsvrc_bench.cli import startup\n"
        "with startup._dynamo_deferred():\n"
        "    from torch._dynamo import disable\n"
        "    from torch._dynamo.utils import counters\n"
        "import torch._dynamo, torch._dynamo.utils\n"
        "assert disable is torch._dynamo.disable and counters is torch._dynamo.utils.counters\n"
        "assert not isinstance(sys.modules['torch._dynamo'], startup._StandIn)\n"
        "print('real')\n"
    )
    assert out.strip() == "real"


def test_models_command_does_not_import_dynamo() -> None:
    out = _python(
        "import sys\n"
        "from ilsvrc_bench.cli import main\n"
        "try:\n"
        "    main(['models', '--include', 'alexnet', '--format', 'json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "assert 'torchvision' in sys.modules and 'torch._dynamo' not in sys.modules\n"
    )
    assert '"alexnet"' in out


def test_program_freezes_the_heap_before_exit() -> None:
    # The interpreter's final collections then skip what was alive at the end of the command.
    out = _python(
        "import gc, sys\n"
        "from ilsvrc_bench.cli import run\n"
        "sys.argv = ['ilsvrc-bench', '--version']\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code\n"
        "print(gc.get_freeze_count() > 0, gc.get_threshold())\n"
    )
    assert out.strip().endswith("True (10000, 20, 20)")


def test_thresholds_are_never_lowered() -> None:
    out = _python(
        "import gc\n"
        "from ilsvrc_bench.cli import startup\n"
        "gc.set_threshold(50000, 5, 100)\n"
        "startup.collect_less_often()\n"
        "print(gc.get_threshold())\n"
    )
    assert out.strip() == "(50000, 20, 100)"


def test_eval_imports_neither_dynamo_nor_pandas(sample_root: Path, tmp_path: Path) -> None:
    # A real evaluation (a torchvision architecture, loader workers, chunks written, the record)
    # needs neither: torch._dynamo came with torchvision, pandas with pyarrow.array().
    args = [
        *("eval", "-m", "alexnet", "--weights", "random", "--root", str(sample_root)),
        *("--data", "sample", "--runs-dir", str(tmp_path / "runs"), "--limit", "4"),
        *("--workers", "1", "--batch-size", "2", "--format", "json", "-q"),
    ]
    out = _python(
        "import sys\n"
        "from ilsvrc_bench.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print([m for m in ('torch._dynamo', 'pandas') if m in sys.modules])\n"
    )
    assert '"n_images": 4' in out
    assert out.strip().splitlines()[-1] == "[]"


def test_console_script_is_the_program_entry() -> None:
    # ilsvrc-bench (pip's script) and python -m ilsvrc_bench both start at run(), not main().
    from importlib.metadata import entry_points

    repo = Path(__file__).resolve().parents[2]
    (script,) = entry_points(group="console_scripts", name="ilsvrc-bench")
    assert script.value == "ilsvrc_bench.cli:run"
    assert "run()" in (repo / "ilsvrc_bench" / "__main__.py").read_text()
