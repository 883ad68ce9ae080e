"""Every `ilsvrc-bench` command shown in README.md and docs/ parses against the real CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from ilsvrc_bench.cli import main

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# what the CI workflow's secrets would hold, so the options they fill are checked too
SECRETS = {"$IMAGENET_MIRROR": "https://mirror.example/ilsvrc", "$IMAGENET_HEADER": "X-Token: t"}


def blocks(text: str, *langs: str) -> list[str]:
    """The bodies of the fenced code blocks in ``langs``."""
    return [
        body
        for lang in langs
        for body in re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)
    ]


def commands(path: Path, langs: tuple[str, ...] = ("bash", "console", "yaml")) -> list[list[str]]:
    """Every ``ilsvrc-bench ...`` command in a document's code blocks, shell-split."""
    found = []
    for block in blocks(path.read_text(encoding="utf-8"), *langs):
        joined = block.replace("\\\n", " ")
        joined = re.sub(r"\n\s+(?=--|-o |-m )", " ", joined)  # yaml folded continuation lines
        joined = re.sub(r"\$\([^)]*\)", "resnet50", joined)
        for var, value in SECRETS.items():
            joined = joined.replace(var, value)
        for raw in joined.splitlines():
            line = raw.strip().removeprefix("$ ").removeprefix("run:").strip()
            for part in re.split(r"&&|;|\|", line):
                words = shlex.split(part, comments=True)
                if words and words[0] == "ilsvrc-bench":
                    found.append(words[1:])
    return found


def parse(args: list[str]) -> None:
    """Parse ``args`` down the command tree as click would, without running anything."""
    command: click.Command = main
    name, parent = "ilsvrc-bench", None
    while True:
        ctx = command.make_context(name, list(args), parent=parent)
        if not isinstance(command, click.Group):
            return
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            return
        found, sub, args = command.resolve_command(ctx, rest)
        assert found is not None and sub is not None, rest
        name, command, parent = found, sub, ctx


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_documented_command_parses(path: Path) -> None:
    for args in commands(path):
        try:
            parse(args)
        except click.ClickException as exc:
            pytest.fail(f"{path.name}: `ilsvrc-bench {' '.join(args)}`: {exc.format_message()}")


def test_the_readme_shows_every_command() -> None:
    shown = {args[0] for args in commands(REPO / "README.md") if args}
    assert shown >= {"report", "data", "synsets", "models", "eval", "check"}
