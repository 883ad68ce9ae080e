from __future__ import annotations

import io
from pathlib import Path

from ilsvrc_bench.data import prepare
from ilsvrc_bench.data.devkit import read_devkit
from ilsvrc_bench.data.labelorder import check_predictions, devkit_order_map, string_sorted_map
from ilsvrc_bench.data.sample import pack_official
from ilsvrc_bench.data.verify import decode_findings, verify
from tests.recorded_progress import RecordedProgress


def jpeg(mode: str, fmt: str = "JPEG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, (16, 12), 128 if mode == "L" else (10, 20, 30, 40)[: len(mode)]).save(buf, fmt)
    return buf.getvalue()


def test_verify_decode_lists_cmyk_grayscale_png_and_broken(tmp_path: Path) -> None:
    rgb = jpeg("RGB")
    images = [
        (rgb, "n01440764"),
        (jpeg("CMYK"), "n01443537"),
        (jpeg("L"), "n01484850"),
        (jpeg("RGB", "PNG"), "n01491361"),
        (rgb[: len(rgb) // 2], "n01494475"),  # truncated JPEG
    ]
    pack_official(tmp_path / "src", images)
    ds = prepare([tmp_path / "src"], root=tmp_path / "r")
    progress = RecordedProgress()
    plain = verify(ds, progress=progress)
    assert plain.ok and plain.n_checked == 5 and not plain.findings
    assert progress.done == progress.totals == {"verify": 5} and progress.open is None
    report = verify(ds, decode=True)
    kinds = {(f.path[-6:-5], f.kind) for f in report.findings}
    assert kinds == {("2", "cmyk"), ("3", "grayscale"), ("4", "not-jpeg"), ("5", "decode")}
    assert [f.path for f in report.errors] == ["ILSVRC2012_val_00000005.JPEG"]


def test_decode_findings_on_zero_bytes() -> None:
    assert [f.kind for f in decode_findings("x", b"")] == ["decode"]


def test_check_predictions_flags_devkit_order(sample_archives) -> None:
    devkit = read_devkit(sample_archives[1])
    true = list(range(0, 1000, 7))
    wrong_map = {v: k for k, v in devkit_order_map(devkit).items()}  # right -> devkit_id - 1
    mislabelled = [wrong_map[c] for c in true]
    verdict = check_predictions(mislabelled, true, devkit=devkit)
    assert verdict.suspect == "devkit"
    assert verdict.message is not None and "permuted" in verdict.message
    assert check_predictions(true, true, devkit=devkit).suspect is None


def test_check_predictions_flags_string_sorted_folders() -> None:
    true = list(range(0, 1000, 3))
    position = {v: k for k, v in string_sorted_map().items()}
    verdict = check_predictions([position[c] for c in true], true)
    assert verdict.suspect == "string-sorted folder"


def test_bad_model_is_not_called_permuted() -> None:
    import random

    rng = random.Random(0)
    labels = [rng.randrange(1000) for _ in range(500)]
    preds = [rng.randrange(1000) for _ in range(500)]
    assert check_predictions(labels, preds).suspect is None
