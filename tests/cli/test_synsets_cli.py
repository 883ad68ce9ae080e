from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from tests.conftest import Cli


def test_all_classes_as_csv(cli: Cli) -> None:
    code, out = cli.run("synsets", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1000
    assert rows[0]["wnid"] == "n01440764" and rows[0]["index"] == "0"
    assert len({r["name"] for r in rows}) == 1000


def test_search_by_words_wnid_and_index(cli: Cli) -> None:
    code, out = cli.run("synsets", "crane", "--format", "json")
    found = json.loads(out)
    assert code == 0
    assert {r["index"] for r in found} == {134, 517}
    assert found[0]["name"] != found[1]["name"]
    assert json.loads(cli.run("synsets", "n03710721", "--format", "json")[1])[0]["index"] == 639
    assert json.loads(cli.run("synsets", "999", "--format", "json")[1])[0]["wnid"] == "n15075141"


def test_markdown_and_no_match(cli: Cli) -> None:
    code, out = cli.run("synsets", "tench", "--format", "markdown")
    assert code == 0 and "| 0 | n01440764 |" in out
    code, _ = cli.run("synsets", "no-such-thing-xyz")
    assert code == 2


def test_devkit_ids_shown_once_a_real_devkit_was_seen(cli: Cli, tmp_path) -> None:
    from ilsvrc_bench.data.devkit import Devkit, save_devkit

    root = tmp_path / "root"
    save_devkit(Devkit({1: "n02119789"}, {}, {}, (1,), frozenset()), root)
    out = json.loads(cli.run("synsets", "n02119789", "--format", "json", "--root", str(root))[1])
    assert out[0]["devkit_id"] == 1


def test_synsets_does_not_import_torch(cli: Cli) -> None:
    code = (
        "import sys; from click.testing import CliRunner; from ilsvrc_bench.cli import main; "
        "r = CliRunner().invoke(main, ['synsets', 'tench']); "
        "assert r.exit_code == 0, r.output; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
