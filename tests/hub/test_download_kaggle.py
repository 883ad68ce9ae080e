"""``data download --from kaggle`` through the kaggle client, against a stand-in for Kaggle."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main
from ilsvrc_bench.data import kaggle as kaggle_module
from ilsvrc_bench.data import kaggle_client
from ilsvrc_bench.data.kaggle import download_kaggle
from ilsvrc_bench.errors import DataError
from tests.hub.fake_kaggle import VAL, WNIDS, Kaggle, competition, serve
from tests.shifts.layouts import jpeg

pytest.importorskip("kaggle.api.kaggle_api_extended", reason="the kaggle extra is not installed")

REPO = Path(__file__).resolve().parents[2]


def image_path(n: int) -> str:
    return f"{VAL}/ILSVRC2012_val_{n:08d}.JPEG"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Legacy credentials for user alice, no other credential the client could find."""
    home = tmp_path / "home"
    home.mkdir()
    values = {
        "HOME": str(home),
        "KAGGLE_API_ENVIRONMENT": "TEST",
        "KAGGLE_USERNAME": "alice",
        "KAGGLE_KEY": "alice-key",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    extended = sys.modules["kaggle.api.kaggle_api_extended"]
    # the client reads its config folder's name once, when imported
    monkeypatch.setattr(extended.KaggleApi, "config_dir", str(home / ".kaggle"))
    monkeypatch.setattr(extended.KaggleApi, "config", str(home / ".kaggle" / "kaggle.json"))
    # the client's back-off between retries (2, 4, 8 s) would only slow the tests
    quick = {k: getattr(time, k) for k in dir(time) if not k.startswith("_")}
    monkeypatch.setattr(extended, "time", SimpleNamespace(**{**quick, "sleep": lambda s: None}))
    monkeypatch.setattr("ilsvrc_bench.data.kaggle_client.BACKOFF", (0.0, 0.0, 0.0, 0.0))
    monkeypatch.setattr("ilsvrc_bench.data.kaggle_client.MAX_WAIT", 0.0)
    return values


@pytest.fixture
def kaggle() -> Kaggle:
    return Kaggle(competition([(jpeg(i), WNIDS[(i * 37) % 1000]) for i in range(12)]))


def download(root: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["data", "download", "--from", "kaggle", "--root", str(root), *extra]
    )
    return result.exit_code, " ".join(result.output.split())


def test_download_check_prepare(env: dict[str, str], kaggle: Kaggle, tmp_path: Path) -> None:
    with serve(kaggle):
        code, text = download(tmp_path / "root", "-j", "4")
    assert code == 0, text
    assert "alice-key" not in text
    info = json.loads(
        (tmp_path / "root" / "datasets" / "ilsvrc2012-val-subset-12" / "dataset.json").read_text()
    )
    assert (info["source"], info["n_images"]) == ("kaggle", 12)
    fetched = kaggle.fetched()
    assert sorted(fetched) == sorted(p for p in kaggle.files if p != "LOC_train_solution.csv")
    from ilsvrc_bench.data import open_dataset

    ds = open_dataset("ilsvrc2012-val-subset-12", root=tmp_path / "root")
    labels = {Path(r.path).stem: r.class_index for r in ds.records}
    assert labels == {f"ILSVRC2012_val_{i + 1:08d}": (i * 37) % 1000 for i in range(12)}
    target = tmp_path / "root" / "downloads" / "kaggle"
    assert not list(target.rglob("*.part*"))


def test_a_rerun_fetches_only_what_is_missing(
    env: dict[str, str], kaggle: Kaggle, tmp_path: Path
) -> None:
    seventh = kaggle.files.pop(image_path(7))
    with serve(kaggle):
        with pytest.raises(DataError, match=r"Kaggle has no .*val_00000007.JPEG \(HTTP 404\)"):
            download_kaggle(root=tmp_path / "root", jobs=1)
        first = len(kaggle.fetched())
        assert 0 < first < 14
        kaggle.files[image_path(7)] = seventh
        ds = download_kaggle(root=tmp_path / "root", jobs=1)
    assert ds.n_images == 12
    again = kaggle.fetched()[first:]
    assert image_path(7) in again and len(again) == 14 - first, again


def test_once_complete_a_rerun_needs_no_kaggle(
    env: dict[str, str], kaggle: Kaggle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with serve(kaggle):
        download_kaggle(root=tmp_path / "root", jobs=2)
    monkeypatch.delenv("KAGGLE_USERNAME")  # and nothing listens on the port any more
    ds = download_kaggle(root=tmp_path / "root", name="again", jobs=2)
    assert (ds.name, ds.n_images) == ("again", 12)


@pytest.mark.parametrize(
    ("name", "bad", "why"),
    [
        (
            "LOC_val_solution.csv",
            b"ImageId,PredictionString\n../../x,n01440764 1 2 3 4\n",
            "not an ImageId",
        ),
        ("LOC_val_solution.csv", b"id,label\n", "expected the header"),
        ("LOC_synset_mapping.txt", b"n01443537 goldfish\nn01440764 tench\n", "sorted order"),
    ],
)
def test_a_hostile_competition_file_is_refused(
    env: dict[str, str], kaggle: Kaggle, tmp_path: Path, name: str, bad: bytes, why: str
) -> None:
    kaggle.files[name] = bad
    with serve(kaggle):
        code, text = download(tmp_path / "root")
    assert code == 3 and why in text and name in text, text
    assert not [p for p in kaggle.fetched() if p.startswith(VAL)]
    assert not (tmp_path / "x").exists()


def test_busy_or_failing_calls_are_retried(
    env: dict[str, str], kaggle: Kaggle, tmp_path: Path
) -> None:
    """A 429 (with Retry-After), a 500 and an expired signed URL (403 from the storage) are
    tried again after a pause; the run completes."""
    kaggle.busy_once.add(image_path(2))
    kaggle.fail_once.add(image_path(3))
    kaggle.expired_once.add(image_path(4))
    with serve(kaggle):
        ds = download_kaggle(root=tmp_path / "root", jobs=2)
    assert ds.n_images == 12
    posts = kaggle.fetched("POST")
    assert [posts.count(image_path(n)) for n in (1, 2, 3, 4)] == [1, 2, 2, 2]


def test_a_server_that_keeps_failing_ends_the_run(
    env: dict[str, str], kaggle: Kaggle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("ilsvrc_bench.data.kaggle_client.BACKOFF", (0.0,))
    kaggle.fail_once.add(image_path(3))
    kaggle.busy_once.add(image_path(3))
    kaggle.expired_once.add(image_path(5))
    with serve(kaggle):
        code, text = download(tmp_path / "root", "-j", "1")
        assert code == 3 and "HTTP 429" in text and "rerun to resume" in text, text
        code, text = download(tmp_path / "root", "-j", "1")
    assert code == 0, text


def test_a_dropped_connection_is_resumed_by_the_client(
    env: dict[str, str], kaggle: Kaggle, tmp_path: Path
) -> None:
    kaggle.cut_once.add(image_path(3))
    with serve(kaggle):
        ds = download_kaggle(root=tmp_path / "root", jobs=2)
    assert ds.n_images == 12
    assert kaggle.fetched().count(image_path(3)) == 2


@pytest.mark.parametrize(
    ("fault", "why"),
    [("corrupt", "MD5 differs"), ("short", "bytes, but Kaggle announced")],
)
def test_a_damaged_file_is_deleted_never_prepared(
    env: dict[str, str], kaggle: Kaggle, tmp_path: Path, fault: str, why: str
) -> None:
    getattr(kaggle, fault).add(image_path(5))
    with serve(kaggle):
        code, text = download(tmp_path / "root")
        assert code == 3 and why in text and "ILSVRC2012_val_00000005.JPEG" in text, text
        assert "1 of 12 files" in text and "rerun" in text
        target = tmp_path / "root" / "downloads" / "kaggle" / VAL
        assert not list(target.glob("ILSVRC2012_val_00000005*"))
        assert len(list(target.glob("*.JPEG"))) == 11
        assert not list((tmp_path / "root").glob("datasets/*/dataset.json"))
        getattr(kaggle, fault).clear()
        code, text = download(tmp_path / "root")
    assert code == 0, text
    assert kaggle.fetched().count(image_path(5)) == 2


def test_a_file_served_zipped_is_unwrapped(
    env: dict[str, str], kaggle: Kaggle, tmp_path: Path
) -> None:
    """Kaggle serves large files as NAME.zip holding them (the 3 MB solution file may be one)."""
    kaggle.zipped.update({"LOC_val_solution.csv", image_path(9)})
    with serve(kaggle):
        ds = download_kaggle(root=tmp_path / "root", jobs=2)
    assert ds.n_images == 12
    target = tmp_path / "root" / "downloads" / "kaggle"
    assert (target / "LOC_val_solution.csv").read_bytes() == kaggle.files["LOC_val_solution.csv"]
    assert (target / image_path(9)).read_bytes() == kaggle.files[image_path(9)]
    assert not list(target.rglob("*.zip*"))


@pytest.mark.parametrize(("members", "why"), [(2, "holds 2 files, not 1"), (0, "cannot be read")])
def test_a_bad_zip_is_deleted(
    env: dict[str, str],
    kaggle: Kaggle,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    members: int,
    why: str,
) -> None:
    def bad_zip(name: str, files: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            for i in range(members):
                archive.writestr(f"{i}.JPEG", files[name])
        return buf.getvalue() if members else b"PK not a zip"

    monkeypatch.setattr("tests.hub.fake_kaggle._zip", bad_zip)
    kaggle.zipped.add(image_path(9))
    with serve(kaggle):
        code, text = download(tmp_path / "root")
    assert code == 3 and why in text and "ILSVRC2012_val_00000009.JPEG" in text, text
    target = tmp_path / "root" / "downloads" / "kaggle" / VAL
    assert not list(target.glob("ILSVRC2012_val_00000009*"))


def test_an_incomplete_set_is_never_prepared(
    env: dict[str, str], kaggle: Kaggle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Whatever happened to a file after it was fetched, the set is counted again first."""
    real = kaggle_client.fetch_file

    def fetch_then_lose(api: Any, client: Any, name: str, target: Path) -> Path:
        path = real(api, client, name, target)
        if name == image_path(8):
            path.unlink()
        return path

    monkeypatch.setattr(kaggle_module, "fetch_file", fetch_then_lose)
    with serve(kaggle):
        code, text = download(tmp_path / "root")
    assert code == 3 and "ILSVRC2012_val_00000008.JPEG: missing after the download" in text, text
    assert "(1 of the 12 images" in text
    assert not list((tmp_path / "root").glob("datasets/*/dataset.json"))


def test_not_a_jpeg_is_refused(env: dict[str, str], kaggle: Kaggle, tmp_path: Path) -> None:
    kaggle.files[image_path(2)] = b"<html>Sign in to continue</html>"
    with serve(kaggle):
        code, text = download(tmp_path / "root")
    assert code == 3 and "not a JPEG" in text, text


def test_no_credentials_says_how_to_get_them(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    code, text = download(tmp_path / "root")
    assert code == 3, text
    assert "no Kaggle credentials" in text and "KAGGLE_API_TOKEN" in text
    assert "KAGGLE_USERNAME" in text and "kaggle.json" in text
    assert "Traceback" not in text and "Authentication required" not in text


def test_credentials_from_kaggle_json(
    env: dict[str, str], kaggle: Kaggle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    config = Path(env["HOME"]) / ".kaggle" / "kaggle.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"username": "alice", "key": "alice-key"}))
    config.chmod(0o600)
    with serve(kaggle):
        ds = download_kaggle(root=tmp_path / "root", jobs=2)
    assert ds.n_images == 12


def test_an_access_token(
    env: dict[str, str], kaggle: Kaggle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """KAGGLE_API_TOKEN, the kaggle client's first choice: checked with Kaggle, then sent."""
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "alice-token")
    with serve(kaggle):
        code, text = download(tmp_path / "root", "-j", "2")
        assert code == 0 and "alice-token" not in text, text
        monkeypatch.setenv("KAGGLE_API_TOKEN", "expired-token")
        code, text = download(tmp_path / "other-root")
    assert code == 3 and "no Kaggle credentials found (or the token was refused)" in text, text
    assert "expired-token" not in text


def test_a_wrong_key_is_refused(
    env: dict[str, str], kaggle: Kaggle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAGGLE_KEY", "stale-key")
    with serve(kaggle):
        code, text = download(tmp_path / "root")
    assert code == 3 and "refused the credentials (HTTP 401)" in text, text
    assert "stale-key" not in text


def test_rules_not_accepted(env: dict[str, str], kaggle: Kaggle, tmp_path: Path) -> None:
    kaggle.rules_not_accepted.add("alice")
    with serve(kaggle):
        code, text = download(tmp_path / "root")
    assert code == 3, text
    assert "HTTP 403" in text
    assert (
        "accept the rules at https://www.kaggle.com/competitions/"
        "imagenet-object-localization-challenge/rules" in text
    )


def test_a_server_that_stops_answering_times_out(
    env: dict[str, str], kaggle: Kaggle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The client sets no timeout of its own; the download must not hang for ever."""
    monkeypatch.setattr("ilsvrc_bench.data.kaggle_client.TIMEOUT", (5.0, 0.3))
    kaggle.stall.add(image_path(4))
    with serve(kaggle):
        with pytest.raises(DataError, match=r"cannot reach Kaggle.*rerun to resume"):
            download_kaggle(root=tmp_path / "root", jobs=2)
        assert kaggle.fetched().count(image_path(4)) == 4  # the first try and 3 retries
    target = tmp_path / "root" / "downloads" / "kaggle" / VAL
    assert not (target / "ILSVRC2012_val_00000004.JPEG").exists()


def test_kaggle_unreachable(env: dict[str, str], tmp_path: Path) -> None:
    """Nothing listens on port 7777 (the lock keeps the stand-in of other tests away)."""
    from filelock import FileLock

    from tests.hub.fake_kaggle import LOCK

    with FileLock(LOCK):
        code, text = download(tmp_path / "root")
    assert code == 3, text
    assert "cannot reach Kaggle at http://localhost:7777" in text and "rerun" in text


def test_extra_not_installed(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for module in [m for m in sys.modules if m == "kaggle" or m.startswith("kaggle.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "kaggle", None)  # import kaggle raises ImportError
    code, text = download(tmp_path / "root")
    assert code == 3, text
    assert "pip install 'ilsvrc-bench[kaggle]'" in text


def test_a_full_disk_names_the_file(
    env: dict[str, str], kaggle: Kaggle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The disk fills while the client writes an image: one line naming it; a rerun after
    space is freed completes."""
    extended = sys.modules["kaggle.api.kaggle_api_extended"]

    class Full(io.FileIO):
        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_open(path: str, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if path.endswith("val_00000006.JPEG.part"):
            return Full(path, mode.replace("b", "") or "r")
        return Path(path).open(mode, *args, **kwargs)

    monkeypatch.setattr(extended, "open", full_open, raising=False)
    root = tmp_path / "root"
    with serve(kaggle):
        code, text = download(root, "-j", "1")
        part = root / "downloads" / "kaggle" / f"{image_path(6)}.part"
        assert code == 3 and f"{part}: cannot write" in text and "No space left" in text, text
        assert not (root / "downloads" / "kaggle" / image_path(6)).exists()
        monkeypatch.delattr(extended, "open")
        code, text = download(root, "-j", "1")
    assert code == 0, text


def test_an_old_kaggle_client_is_refused(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("importlib.metadata.version", lambda name: "1.6.17")
    code, text = download(tmp_path / "root")
    assert code == 3 and "needs kaggle 2.2.5 or newer, not 1.6.17" in text, text


def test_unwritable_root_is_named(env: dict[str, str], kaggle: Kaggle, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "downloads").write_text("a file where the folder goes")
    code, text = download(root)
    assert code == 3, text
    assert f"cannot write {root / 'downloads' / 'kaggle'}: {root / 'downloads'} is not a" in text


def test_jobs_only_for_kaggle(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["data", "download", "-j", "4", "--root", str(tmp_path)])
    assert result.exit_code == 2 and "only for --from kaggle" in " ".join(result.output.split())
    result = CliRunner().invoke(
        main, ["data", "download", "--from", "kaggle", "--token", "t", "--root", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--token: only for --from hf" in " ".join(
        result.output.split()
    )


@pytest.mark.slow
def test_a_killed_download_leaves_no_partial_image(
    env: dict[str, str], kaggle: Kaggle, tmp_path: Path
) -> None:
    """kill -9 while an image is half written: the rerun fetches it whole and only what is
    missing; the half file was never given its final name."""
    root = tmp_path / "root"
    stalled = image_path(6)
    kaggle.stall.add(stalled)
    part = root / "downloads" / "kaggle" / f"{stalled}.part"
    command = [sys.executable, "-m", "ilsvrc_bench", "-q", "data", "download", "--from", "kaggle"]
    with serve(kaggle):
        proc = subprocess.Popen(
            [*command, "--root", str(root), "-j", "1"],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
        )
        deadline = time.monotonic() + 120
        while not part.is_file() and time.monotonic() < deadline:
            assert proc.poll() is None, "the download ended before it was killed"
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        assert part.is_file() and not (root / "downloads" / "kaggle" / stalled).exists()
        assert part.with_name(part.name + ".kaggle-partial").is_file()  # the client's marker
        kaggle.stall.clear()
        before = len(kaggle.fetched())
        ds = download_kaggle(root=root, jobs=3)
    assert ds.n_images == 12
    assert sorted(kaggle.fetched()[before:]) == [image_path(n) for n in range(6, 13)]
    assert not list((root / "downloads").rglob("*.part*"))


@pytest.mark.realdata
def test_real_photos_through_kaggle(env: dict[str, str], real_images: Path, tmp_path: Path) -> None:
    files = sorted(real_images.glob("*.JPEG"))
    kaggle = Kaggle(competition([(f.read_bytes(), f.name.split("_")[0]) for f in files]))
    with serve(kaggle):
        ds = download_kaggle(root=tmp_path / "root", jobs=8)
    assert ds.n_images == 200 and ds.n_classes == 200
    assert sorted(r.class_index for r in ds.records) == list(range(0, 1000, 5))
