"""docs/ci.md and docs/reports.md: the workflow is valid YAML, and every command in them parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from ilsvrc_bench.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
# what the workflow's secrets would hold, so their values are checked too
SECRETS = {"$IMAGENET_MIRROR": "https://mirror.example/ilsvrc", "$IMAGENET_HEADER": "X-Token: t"}


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


def _commands(text: str) -> list[list[str]]:
    """Every ``ilsvrc-bench ...`` command line in bash and yaml blocks, shell-split."""
    found = []
    for block in _blocks(text, "bash") + _blocks(text, "yaml"):
        joined = re.sub(r"\n\s+(?=--|-o |-m )", " ", block)  # yaml folded continuation lines
        joined = re.sub(r"\$\([^)]*\)", "resnet50", joined)
        for var, value in SECRETS.items():
            joined = joined.replace(var, value)
        for raw in joined.splitlines():
            line = raw.split("#")[0].strip().removeprefix("run:").strip()
            for part in line.split(";"):
                words = shlex.split(part)
                if words and words[0] == "ilsvrc-bench":
                    found.append(words[1:])
    return found


def _parse(args: list[str]) -> None:
    """Parse ``args`` as the CLI would, without running the command."""
    ctx = click.Context(main)
    while args and args[0].startswith("-"):
        args = args[1:]
    command: click.Command | None = main
    name = "ilsvrc-bench"
    while isinstance(command, click.Group):
        name, args = args[0], args[1:]
        command = command.get_command(ctx, name)
        assert command is not None, f"no command {name!r}"
    assert command is not None
    command.make_context(name, list(args), parent=ctx)


@pytest.mark.parametrize("doc", ["ci.md", "reports.md"])
def test_every_documented_command_parses(doc: str) -> None:
    commands = _commands((DOCS / doc).read_text())
    assert commands
    for args in commands:
        try:
            _parse(args)
        except click.ClickException as exc:
            pytest.fail(f"{doc}: `ilsvrc-bench {' '.join(args)}`: {exc.format_message()}")


def test_ci_workflow_is_valid_and_gates_on_check() -> None:
    yaml = pytest.importorskip("yaml")
    (block,) = _blocks((DOCS / "ci.md").read_text(), "yaml")
    workflow = yaml.safe_load(block)
    steps = workflow["jobs"]["accuracy"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert all(re.fullmatch(r"[\w-]+/[\w-]+@v\d+", u) for u in uses)
    runs = " ".join(s.get("run", "") for s in steps)
    assert "--limit" in runs and "ilsvrc-bench check" in runs
    assert "$GITHUB_STEP_SUMMARY" in runs
    cached = [s["with"]["path"] for s in steps if s.get("uses", "").startswith("actions/cache")]
    assert ".ilsvrc-bench" in cached and ".torch" in cached
    assert workflow["env"]["TORCH_HOME"].endswith("/.torch")
