"""``data download --from hf`` against a stand-in Hub on 127.0.0.1 (huggingface_hub's client)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main
from ilsvrc_bench.data.hub import download_hf
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import all_synsets
from tests.hub.fake_hub import Hub, serve
from tests.shifts.layouts import jpeg

WNIDS = [s.wnid for s in all_synsets()]


def _shard(rows: list[tuple[bytes, str, int]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "image": [{"bytes": data, "path": name} for data, name, _ in rows],
            "label": pa.array([label for _, _, label in rows], pa.int64()),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _repo(images: list[tuple[bytes, int]] | None = None) -> dict[str, bytes]:
    """Two validation shards (val images named with their wnid, as the Hub stores them)."""
    images = images or [(jpeg(i), (i * 37) % 1000) for i in range(12)]
    rows = [
        (data, f"ILSVRC2012_val_{i + 1:08d}_{WNIDS[label]}.JPEG", label)
        for i, (data, label) in enumerate(images)
    ]
    half = len(rows) // 2
    return {
        "data/validation-00000-of-00002.parquet": _shard(rows[:half]),
        "data/validation-00001-of-00002.parquet": _shard(rows[half:]),
        "data/train-00000-of-00294.parquet": b"not fetched",
        "README.md": b"# imagenet-1k",
    }


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")  # no stored login
    return Hub(_repo())


def test_download_verify_prepare(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        result = CliRunner().invoke(
            main,
            [
                "data",
                "download",
                "--from",
                "hf",
                "--token",
                "good-token",
                "--root",
                str(tmp_path / "root"),
            ],
        )
    assert result.exit_code == 0, result.output
    assert "good-token" not in result.output
    info = json.loads(
        (tmp_path / "root" / "datasets" / "ilsvrc2012-val-subset-12" / "dataset.json").read_text()
    )
    assert (info["source"], info["n_images"]) == ("hf", 12)
    fetched = {p for m, p, _ in hub.log if m == "GET" and "/resolve/" in p}
    assert all("validation-" in p for p in fetched) and len(fetched) == 2
    shards = sorted((tmp_path / "root" / "downloads" / "hf" / "data").glob("*.parquet"))
    assert [p.name for p in shards] == [
        "validation-00000-of-00002.parquet",
        "validation-00001-of-00002.parquet",
    ]


def test_a_rerun_fetches_only_the_missing_shards(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shards already downloaded and verified are kept; a rerun after a failure fetches the rest."""
    second = "data/validation-00001-of-00002.parquet"
    hub.missing_once.add(second)
    with serve(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        with pytest.raises(DataError):
            download_hf(root=tmp_path / "root", token="good-token")
        first_run = len(hub.log)
        ds = download_hf(root=tmp_path / "root", token="good-token")
    assert ds.n_images == 12
    fetched = [p for m, p, _ in hub.log[first_run:] if m == "GET" and "/resolve/" in p]
    assert len(fetched) == 1 and fetched[0].endswith(second), hub.log[first_run:]


def test_a_dropped_connection_is_retried(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.cut_after = 100
    with serve(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        ds = download_hf(root=tmp_path / "root", token="good-token")
    assert ds.n_images == 12


def test_no_token_says_how_to_get_one(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        result = CliRunner().invoke(
            main, ["data", "download", "--from", "hf", "--root", str(tmp_path / "root")]
        )
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "needs a Hugging Face token" in text and "HF_TOKEN" in text
    assert "Traceback" not in result.output


def test_terms_not_accepted(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.gated_tokens.add("new-account")
    with serve(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        result = CliRunner().invoke(
            main,
            [
                "data",
                "download",
                "--from",
                "hf",
                "--token",
                "new-account",
                "--root",
                str(tmp_path / "root"),
            ],
        )
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())  # the error line wraps on a narrow terminal
    assert "gated" in text and "accept the dataset's terms" in text
    assert "new-account" not in result.output


def test_a_shard_that_does_not_match_the_hub_is_deleted(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.lie_about.add("data/validation-00001-of-00002.parquet")
    with serve(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        with pytest.raises(DataError, match="but the Hub lists"):
            download_hf(root=tmp_path / "root", token="good-token")
    assert not (
        tmp_path / "root" / "downloads" / "hf" / "data" / "validation-00001-of-00002.parquet"
    ).exists()
    assert not list((tmp_path / "root").glob("datasets/*/dataset.json"))


def test_incomplete_shard_set_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _repo()
    del files["data/validation-00001-of-00002.parquet"]
    with serve(Hub(files)) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        with pytest.raises(DataError, match="incomplete"):
            download_hf(root=tmp_path / "root", token="good-token")


def test_unreachable_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", lambda s: None)  # back-off
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(DataError, match="cannot reach the Hugging Face Hub"):
        download_hf(root=tmp_path / "root", token="good-token")


def test_official_only_options_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["data", "download", "--from", "hf", "--mirror", "http://x", "--root", str(tmp_path)]
    )
    assert result.exit_code == 2 and "only for --from official" in " ".join(result.output.split())
    result = CliRunner().invoke(main, ["data", "download", "--token", "t", "--root", str(tmp_path)])
    assert result.exit_code == 2 and "only for --from hf" in " ".join(result.output.split())


@pytest.mark.realdata
def test_real_photos_through_the_hub(
    real_images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    files = sorted(real_images.glob("*.JPEG"))
    hub = Hub(_repo([(f.read_bytes(), WNIDS.index(f.name.split("_")[0])) for f in files]))
    with serve(hub) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        ds = download_hf(root=tmp_path / "root", token="good-token")
    assert ds.n_images == 200 and ds.n_classes == 200
    assert sorted(r.class_index for r in ds.records) == list(range(0, 1000, 5))
