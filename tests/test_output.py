"""output.py prints messages and cells verbatim: brackets are text, never rich markup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ilsvrc_bench import output
from ilsvrc_bench.errors import OutputError
from ilsvrc_bench.progress import stage


@pytest.mark.parametrize(
    "text", ["pip install 'ilsvrc-bench[onnx]'", "runs/[/x]/run.json", "[bold]"]
)
def test_messages_print_verbatim(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    output.configure(color=False)
    output.warn(text)
    output.error(text)
    output.info(text)
    err = capsys.readouterr().err
    assert err == f"warning: {text}\nerror: {text}\n{text}\n"


def test_long_messages_are_not_wrapped(capsys: pytest.CaptureFixture[str]) -> None:
    output.configure(color=False)
    path = "/tmp/" + "d" * 150 + "/run.json"
    output.warn(f"skipped {path}")
    assert path in capsys.readouterr().err


def test_table_cells_titles_and_captions_are_text() -> None:
    text = output.render(
        [{"model": "m[onnx]", "path": "[/x]"}],
        fmt="table",
        columns=["model", "path"],
        title="[red]t",
        caption="[i]c",
    )
    for shown in ("m[onnx]", "[/x]", "[red]t", "[i]c"):
        assert shown in text


def test_atomic_writer_errors_name_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("")
    with pytest.raises(OutputError, match=r"cannot write .*/f/out\.txt: .*/f is not a directory"):
        output.write_text("x", blocker / "out.txt")
    target = tmp_path / "deep" / "out.txt"
    output.write_text("a\n", target)
    assert target.read_text() == "a\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]  # no temp file left


def test_sections_render_in_every_format() -> None:
    a = output.Section("A", [{"x": 1, "y": "p[q]"}], ("x", "y"), {"x": "X"}, "cap <a>")
    b = output.Section("B", [{"z": 2.5}], ("z",))
    md = output.render_sections([a, b], fmt="markdown")
    assert md.index("### A") < md.index("| X | y |") < md.index("### B")
    assert [s["title"] for s in json.loads(output.render_sections([a, b], fmt="json"))] == [
        "A",
        "B",
    ]
    assert json.loads(output.render_sections([a], fmt="json")) == [{"x": 1, "y": "p[q]"}]
    page = output.render_html([a, b], title="T", image_png=b"png")
    assert "<h2>A</h2>" in page and "cap &lt;a&gt;" in page and "base64,cG5n" in page
    assert "p[q]" in output.render_sections([a, b], fmt="table")


def test_one_progress_renderer_for_the_engine_and_the_data_layer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.configure(color=False)
    bars = output.ProgressBars()
    bars.start("resnet[onnx], [/x]", total=10, completed=4)
    bars.advance(6)
    bars.stop()
    with output.ProgressBars() as stages:
        with stage(stages, "download ILSVRC2012_img_val.tar", 4_000_000, unit="bytes") as advance:
            advance(1_000_000)
            stages.start("download ILSVRC2012_img_val.tar", 4_000_000, 0, unit="bytes")  # retried
            advance(2_000_000)
        with stage(stages, "hash images", 5) as advance:
            advance(3)
    err = capsys.readouterr().err
    assert "resnet[onnx], [/x]" in err and "10/10" in err
    assert "2.0 MB/4.0 MB" in err and "3.0 MB" not in err and "3/5" in err
    assert err.count("hash images") == 1  # a stopped stage is printed once, not redrawn
    output.configure(quiet=True)
    quiet = output.ProgressBars()
    quiet.start("m", total=1)
    quiet.advance(1)
    quiet.stop()
    assert capsys.readouterr().err == ""
    output.configure()
