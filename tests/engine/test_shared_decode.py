"""One decode for every pixel recipe of a pass: the views, the predictions and the reads."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ilsvrc_bench import runs
from ilsvrc_bench.engine import EvalOptions, plan, protocols
from ilsvrc_bench.engine.loader import ImageViews, collate
from ilsvrc_bench.engine.session import evaluate_specs
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing
from tests.engine.helpers import FakeLoaded, MemoryDataset, Tiny, loader_for, spec

RECIPES = [
    Preprocessing(resize_size=40, crop_size=32),
    Preprocessing(resize_size=40, crop_size=36),  # same resize, another crop
    Preprocessing(resize_size=48, crop_size=32, interpolation="bicubic"),
    Preprocessing(resize_size=40, crop_size=32, antialias=False),
    Preprocessing(resize_size=44, crop_size=32, interpolation="nearest"),
]


def _photo(seed: int = 3, size: tuple[int, int] = (71, 53)) -> Image.Image:
    gen = torch.Generator().manual_seed(seed)
    arr = torch.randint(0, 256, (size[1], size[0], 3), generator=gen, dtype=torch.uint8)
    return Image.fromarray(arr.numpy())


@pytest.mark.parametrize("protocol", ["center", "10crop", "full"])
def test_views_of_each_equal_each_recipe_alone(protocol: str) -> None:
    img = _photo()
    together = protocols.views_of_each(img, RECIPES, protocol)
    for prep, views in zip(RECIPES, together, strict=True):
        assert torch.equal(views, protocols.views(img, prep, protocol))


def test_views_of_each_on_real_photos(real_images: Path) -> None:
    for path in sorted(real_images.glob("*.JPEG"))[:5]:
        img = Image.open(path).convert("RGB")
        together = protocols.views_of_each(img, RECIPES, "center")
        for prep, views in zip(RECIPES, together, strict=True):
            assert torch.equal(views, protocols.views(img, prep, "center"))


def test_image_views_items_and_batches_carry_every_recipe() -> None:
    ds = MemoryDataset(n=3, broken=frozenset({1}))
    views = ImageViews(ds, ds.records, RECIPES[0], "center", also=RECIPES[1:3])
    items = [views[i] for i in range(3)]
    assert ds.reads == 3
    batch = collate(items)
    assert [tuple(batch.views(k).shape) for k in range(3)] == [
        (3, 1, 3, 32, 32),
        (3, 1, 3, 36, 36),
        (3, 1, 3, 32, 32),
    ]
    # An unreadable image is blank in every recipe, at that recipe's crop size.
    assert not bool(batch.readable[1]) and "vanished" in batch.errors[1]
    assert all(int(batch.views(k)[1].sum()) == 0 for k in range(3))
    single = ImageViews(ds, ds.records, RECIPES[1], "center")
    alone = single[0][1]
    assert isinstance(alone, torch.Tensor) and torch.equal(batch.views(1)[0], alone)


def _specs(recipes: list[Preprocessing]) -> list[tuple[str, ModelSpec]]:
    return [("tiny", replace(spec(), preprocessing=p)) for p in recipes]


def _predictions(run_dir: Path) -> np.ndarray:
    table = runs.read_predictions(run_dir)
    return np.stack(table["pred"].to_list())


def test_a_grid_is_decoded_once_and_scores_as_each_point_alone(tmp_path: Path) -> None:
    ds = MemoryDataset(n=10)
    calls: list[str] = []
    model = Tiny(seed=4)

    def load(s, *, device):
        calls.append(s.name)
        return FakeLoaded(spec=s, module=model.eval())

    together = evaluate_specs(
        _specs(RECIPES),
        ds,
        runs_dir=tmp_path / "together",
        options=EvalOptions(device="cpu", batch_size=4, workers=0),
        load=load,
    )
    assert ds.reads == 10  # one decode per image for the five recipes
    assert len(calls) == 1  # and one model built for the five points
    assert any(
        "each image decoded once for 5 runs of tiny (5 pixel recipes)" in n
        for n in together[0].record.notes
    )
    for prep, result in zip(RECIPES, together, strict=True):
        alone_ds = MemoryDataset(n=10)
        (alone,) = evaluate_specs(
            _specs([prep]),
            alone_ds,
            runs_dir=tmp_path / f"alone-{prep.crop_size}-{prep.resize_size}-{prep.antialias}",
            options=EvalOptions(device="cpu", batch_size=4, workers=0),
            load=loader_for({"tiny": model}),
        )
        assert result.record.preprocessing["resize_size"] == prep.resize_size
        assert result.record.preprocessing["crop_size"] == prep.crop_size
        assert np.array_equal(_predictions(result.run_dir), _predictions(alone.run_dir))


def test_models_differing_in_normalisation_share_views_but_not_inputs(tmp_path: Path) -> None:
    other = replace(RECIPES[0], mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    ds = MemoryDataset(n=6)
    model = Tiny(seed=5)
    both = evaluate_specs(
        _specs([RECIPES[0], other]),
        ds,
        runs_dir=tmp_path / "both",
        options=EvalOptions(device="cpu", batch_size=4, workers=0),
        load=loader_for({"tiny": model}),
    )
    assert ds.reads == 6
    (alone,) = evaluate_specs(
        _specs([other]),
        MemoryDataset(n=6),
        runs_dir=tmp_path / "alone",
        options=EvalOptions(device="cpu", batch_size=4, workers=0),
        load=loader_for({"tiny": model}),
    )
    assert np.array_equal(_predictions(both[1].run_dir), _predictions(alone.run_dir))
    assert not np.array_equal(_predictions(both[0].run_dir), _predictions(both[1].run_dir))


def test_recipes_over_the_memory_budget_go_to_another_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Room for two 32x32 recipes of a 4-image batch, not three.
    monkeypatch.setattr(plan, "MAX_BATCH_BYTES", 2 * 4 * 3 * 32 * 32)
    recipes = [RECIPES[0], RECIPES[2], RECIPES[3]]
    made = plan.make_plan(
        _specs(recipes),
        MemoryDataset(n=8),
        options=EvalOptions(device="cpu", batch_size=4),
        device=torch.device("cpu"),
        runs_dir=tmp_path,
    )
    assert [len(g.recipes) for g in made.groups] == [2, 1]
    assert [m.recipe for g in made.groups for m in g.models] == [0, 1, 0]


@pytest.mark.parametrize(
    ("options", "n_groups"),
    [
        (EvalOptions(device="cpu"), 1),
        (EvalOptions(device="cpu", cache=True), 2),  # the cache holds one recipe's views
    ],
)
def test_which_recipes_share_a_decode(tmp_path: Path, options: EvalOptions, n_groups: int) -> None:
    made = plan.make_plan(
        _specs(RECIPES[:2]),
        MemoryDataset(n=4),
        options=options,
        device=torch.device("cpu"),
        runs_dir=tmp_path,
    )
    assert len(made.groups) == n_groups


def test_an_interrupted_shared_pass_resumes_to_the_same_results(tmp_path: Path) -> None:
    model = Tiny(seed=6)
    options = EvalOptions(
        device="cpu", batch_size=2, workers=0, flush_batches=1, flush_min_seconds=0
    )
    full = evaluate_specs(
        _specs(RECIPES[:3]),
        MemoryDataset(n=10),
        runs_dir=tmp_path / "full",
        options=options,
        load=loader_for({"tiny": model}),
    )
    calls = {"n": 0}

    def flaky(x: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 8:  # the third batch, after its first recipe was scored
            raise KeyboardInterrupt
        return model(x)

    ds = MemoryDataset(n=10)
    with pytest.raises(KeyboardInterrupt):
        evaluate_specs(
            _specs(RECIPES[:3]),
            ds,
            runs_dir=tmp_path / "b",
            options=options,
            load=loader_for({"tiny": flaky}),
        )
    ds.reads = 0
    resumed = evaluate_specs(
        _specs(RECIPES[:3]),
        ds,
        runs_dir=tmp_path / "b",
        options=options,
        load=loader_for({"tiny": model}),
    )
    assert ds.reads == 6  # the two batches every run had finished are not decoded again
    assert [r.reused_images for r in resumed] == [6, 4, 4]
    for a, b in zip(full, resumed, strict=True):
        assert a.record.metrics == b.record.metrics
        assert np.array_equal(_predictions(a.run_dir), _predictions(b.run_dir))


def test_pass_input_is_encoded_as_jpeg_too(tmp_path: Path) -> None:
    """Real JPEG bytes (not only PNG) go through the shared decode unchanged."""
    buf = io.BytesIO()
    _photo(9, (80, 60)).save(buf, format="JPEG", quality=90)
    from ilsvrc_bench.data.memory import MemoryDataset as Images

    ds = Images(images=[buf.getvalue()] * 3, labels=[1, 2, 3])
    views = ImageViews(ds, ds.records, RECIPES[0], "10crop", also=RECIPES[1:])
    _, made, ok, error = views[0]
    assert ok and error == "" and isinstance(made, tuple) and len(made) == len(RECIPES)
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    for prep, v in zip(RECIPES, made, strict=True):
        assert torch.equal(v, protocols.views(img, prep, "10crop"))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_antialias_off_is_honoured_on_the_cpu_path(interpolation: str) -> None:
    """Pillow always antialiases; with antialias off the resize is torchvision's tensor resize
    without it (as the GPU decoder makes it), never the antialiased pixels under another name."""
    import torchvision.transforms.functional as F

    img = _photo(11, (120, 90))
    on = Preprocessing(resize_size=40, crop_size=32, interpolation=interpolation)  # type: ignore[arg-type]
    off = replace(on, antialias=False)
    smooth, sharp = (protocols.views(img, p, "center")[0] for p in (on, off))
    assert not torch.equal(smooth, sharp)
    expected = F.center_crop(
        F.resize(
            F.pil_to_tensor(img),
            [40],
            interpolation=F.InterpolationMode(interpolation),
            antialias=False,
        ),
        [32],
    )
    assert torch.equal(sharp, expected)


def test_nearest_has_no_antialiasing_to_turn_off() -> None:
    img = _photo(12, (120, 90))
    on = Preprocessing(resize_size=40, crop_size=32, interpolation="nearest")
    assert torch.equal(
        protocols.views(img, on, "center"),
        protocols.views(img, replace(on, antialias=False), "center"),
    )
