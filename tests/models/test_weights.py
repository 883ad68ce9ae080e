"""Weights files that cannot be used give one clear ModelError (exit 4); hub downloads."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ilsvrc_bench.errors import ExitCode, ModelError
from ilsvrc_bench.models import load, resolve


class _Exploit:
    """Pickles to a call of os.system: loading it must be refused, never executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _load(weights: Path | str) -> None:
    load(resolve("alexnet", weights=str(weights)))


def test_missing_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"weights file .*nothere\.pth does not exist") as info:
        resolve("alexnet", weights=str(tmp_path / "nothere.pth"))
    assert info.value.exit_code == ExitCode.MODEL


def test_truncated_file(alexnet_weights: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pth"
    cut.write_bytes(alexnet_weights.read_bytes()[: alexnet_weights.stat().st_size // 2])
    with pytest.raises(ModelError, match=r"cut\.pth is truncated"):
        _load(cut)


@pytest.mark.parametrize(
    "content",
    [torch.zeros(3), [1, 2, 3], {}, {"a": 1, "b": "x"}],
    ids=["tensor", "list", "empty", "dict"],
)
def test_not_a_state_dict(content: object, tmp_path: Path) -> None:
    path = tmp_path / "thing.pt"
    torch.save(content, path)
    with pytest.raises(ModelError, match=r"thing\.pt is not a state dict"):
        _load(path)


def test_pickle_needing_code_execution_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Exploit(marker)}, path)
    with pytest.raises(ModelError, match="needs code execution to unpickle and was refused"):
        _load(path)
    assert not marker.exists()


def test_wrong_shapes_are_listed(tmp_path: Path) -> None:
    import torchvision.models as tvm

    path = tmp_path / "ten_classes.pth"
    torch.save(tvm.alexnet(num_classes=10).state_dict(), path)
    with pytest.raises(ModelError, match=r"classifier\.6\.weight \[10, 4096\] vs \[1000, 4096\]"):
        _load(path)


def test_safetensors_round_trip_and_truncation(alexnet_weights: Path, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    state = torch.load(alexnet_weights, weights_only=True)
    path = tmp_path / "alexnet.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model = load(resolve("alexnet", weights=str(path)))
    assert model.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match=r"cut\.safetensors is truncated or not safetensors"):
        _load(cut)


@pytest.fixture
def weights_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server standing in for download.pytorch.org; yields (base url, its dir)."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def _published(url: str):
    spec = resolve("alexnet")
    return replace(spec, weights=replace(spec.weights, url=url))


def test_default_weights_download_into_torch_home(
    alexnet_weights: Path, weights_server: tuple[str, Path]
) -> None:
    base, root = weights_server
    data = alexnet_weights.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    name = f"alexnet-owt-{sha[:8]}.pth"
    (root / name).write_bytes(data)
    model = load(_published(f"{base}/{name}"))
    cached = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / name
    assert cached.read_bytes() == data
    assert model.weights_sha256 == sha
    (root / name).unlink()  # the second load uses the cache
    assert load(_published(f"{base}/{name}")).weights_sha256 == sha


def test_download_with_wrong_hash_prefix_saves_nothing(
    alexnet_weights: Path, weights_server: tuple[str, Path]
) -> None:
    base, root = weights_server
    (root / "alexnet-owt-00000000.pth").write_bytes(alexnet_weights.read_bytes())
    with pytest.raises(ModelError, match="does not start with 00000000"):
        load(_published(f"{base}/alexnet-owt-00000000.pth"))
    assert not (
        Path(os.environ["TORCH_HOME"]) / "hub/checkpoints/alexnet-owt-00000000.pth"
    ).exists()


def test_corrupt_cached_file_is_detected() -> None:
    cached = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    with pytest.raises(ModelError, match="corrupt or incomplete: delete it"):
        load(resolve("alexnet"))


def test_offline_error_names_the_file_and_directory() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = _published(f"http://127.0.0.1:{port}/alexnet-owt-7be5be79.pth")
    with pytest.raises(ModelError) as info:
        load(spec)
    directory = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    message = str(info.value)
    assert "cannot download" in message and "offline" in message
    assert f"save it as {directory / 'alexnet-owt-7be5be79.pth'}" in message
    assert f"file alexnet-owt-7be5be79.pth in directory {directory}" in message
