"""How a measured run is named in report rows and plot legends."""

from __future__ import annotations

import json

from ilsvrc_bench.reports import labels
from ilsvrc_bench.reports.plot import PlotModel, _legend


def row(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "data": "ilsvrc2012-val",
        "n_images": 50000,
        "limit": None,
        "protocol": "center",
        "precision": "fp32",
        "preprocessing": json.dumps({"resize_size": 256, "crop_size": 224}),
    }
    return {**base, **kw}


def test_defaults_show_the_protocol_and_the_data_only() -> None:
    assert labels.how_label(row()) == "center"
    assert labels.data_label(row()) == "ilsvrc2012-val"
    assert labels.run_detail(row()) == "center; ilsvrc2012-val"


def test_precision_and_decoder_show_when_not_default() -> None:
    prep = json.dumps({"resize_size": 256, "decoder": "nvjpeg"})
    r = row(protocol="10crop", precision="bf16", preprocessing=prep)
    assert labels.how_label(r) == "10crop, bf16, nvjpeg decode"


def test_subsets_are_marked_with_their_size() -> None:
    limited = row(limit=500, n_images=500)
    assert labels.data_label(limited) == "ilsvrc2012-val (subset, 500 images, --limit)"
    named = row(data="ilsvrc2012-val-subset-1300", n_images=1300)
    assert labels.data_label(named) == "ilsvrc2012-val-subset-1300 (subset, 1,300 images)"
    flagged = row(data="myval", n_images=1300, is_subset=True)
    assert labels.data_label(flagged) == "myval (subset, 1,300 images)"
    # a NaN limit (pandas) is no limit
    assert labels.data_label(row(limit=float("nan"))) == "ilsvrc2012-val"


def test_the_plot_legend_says_what_a_run_measured() -> None:
    run = PlotModel("resnet50 [r1]", 7.5, detail="10crop; ilsvrc2012-val (subset, 500 images)")
    assert (
        _legend(run)
        == "resnet50 [r1]: 7.50% (measured; 10crop; ilsvrc2012-val (subset, 500 images))"
    )
    ref = PlotModel("alexnet", 20.934, kind="reference", detail="centre crop")
    assert _legend(ref) == "alexnet: 20.93% (published val, centre crop)"
