"""The data layer writes its files durably and says which one it could not write."""

from __future__ import annotations

from pathlib import Path

import pytest

from ilsvrc_bench.data.dataset import Storage, write_dataset
from ilsvrc_bench.data.devkit import DEVKIT_JSON, Devkit, load_devkit, save_devkit
from ilsvrc_bench.data.prepare import LOCK_NAME, prepare
from ilsvrc_bench.errors import DataError

DEVKIT = Devkit({1: "n01440764"}, {}, {}, (1,), frozenset())


def test_devkit_is_saved_and_read_back(tmp_path: Path) -> None:
    target = save_devkit(DEVKIT, tmp_path / "root")
    assert target == tmp_path / "root" / DEVKIT_JSON
    assert load_devkit(tmp_path / "root") == DEVKIT
    assert [p.name for p in target.parent.iterdir()] == [DEVKIT_JSON]  # no temp file left


def test_an_unwritable_devkit_target_is_one_line_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.write_text("a file where the data root must be")
    with pytest.raises(DataError, match=r"^cannot write .*/root/devkit\.json: .*root is not a"):
        save_devkit(DEVKIT, root)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / DEVKIT_JSON).mkdir()
    with pytest.raises(DataError, match=r"^cannot write .*/other/devkit\.json: [^\n]*$"):
        save_devkit(DEVKIT, tmp_path / "other")


def test_an_unwritable_manifest_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "manifest.jsonl").mkdir()
    storage = Storage("dir", tmp_path)
    with pytest.raises(DataError, match=r"^cannot write .*/manifest\.jsonl: [^\n]*$"):
        write_dataset(tmp_path, name="x", source="folder", split="val", records=[], storage=storage)


@pytest.mark.parametrize("blocked", ["root", "root/datasets"])
def test_a_file_where_the_data_root_or_its_datasets_go_is_one_line(
    sample_archives: tuple[Path, Path], tmp_path: Path, blocked: str
) -> None:
    if blocked != "root":
        (tmp_path / "root").mkdir()
    (tmp_path / blocked).write_text("a file where a folder must be")
    with pytest.raises(DataError, match=rf"^cannot write .*: .*/{blocked} is not a directory$"):
        prepare(list(sample_archives), root=tmp_path / "root")


def test_a_lock_file_that_cannot_be_made_is_one_line_naming_it(
    sample_archives: tuple[Path, Path], tmp_path: Path
) -> None:
    (tmp_path / "root" / LOCK_NAME).mkdir(parents=True)
    with pytest.raises(DataError, match=rf"^cannot write .*/{LOCK_NAME}: [^\n]*$"):
        prepare(list(sample_archives), root=tmp_path / "root")
