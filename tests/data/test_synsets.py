from __future__ import annotations

import subprocess
import sys

import pytest

from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import COLUMNS, all_synsets, by_index, by_wnid, parse_table, search


def test_thousand_sorted_unique() -> None:
    synsets = all_synsets()
    assert len(synsets) == 1000
    assert [s.wnid for s in synsets] == sorted(s.wnid for s in synsets)
    assert synsets[0].wnid == "n01440764" and synsets[0].name == "tench"
    assert all(s.class_index == i for i, s in enumerate(synsets))
    assert len({s.name for s in synsets}) == 1000
    assert all(s.lemmas and s.gloss for s in synsets)


def test_duplicate_names_stay_distinguishable() -> None:
    cranes = {by_index(134).name, by_index(517).name}
    maillots = {by_index(638).name, by_index(639).name}
    assert len(cranes) == 2 and len(maillots) == 2
    assert by_index(134).lemmas[0] == by_index(517).lemmas[0] == "crane"


def test_lookups_and_errors() -> None:
    assert by_wnid("n15075141").class_index == 999
    with pytest.raises(DataError, match="n00000000"):
        by_wnid("n00000000")
    with pytest.raises(DataError, match="1000"):
        by_index(1000)
    assert [s.class_index for s in search("goldfish")] == [1]
    assert search("n01443537")[0].name == "goldfish"


def test_table_equals_what_timm_ships() -> None:
    from timm.data.imagenet_info import ImageNetInfo

    info = ImageNetInfo()
    synsets = all_synsets()
    assert [s.wnid for s in synsets] == info.label_names()
    lemma_texts = info.label_descriptions()
    assert [", ".join(s.lemmas) for s in synsets] == [t.strip() for t in lemma_texts]
    detailed = info.label_descriptions(detailed=True)
    glosses = [d[len(t) + 2 :] for d, t in zip(detailed, lemma_texts, strict=True)]
    assert [s.gloss for s in synsets] == [g.strip() for g in glosses]


def test_names_equal_torchvisions_categories() -> None:
    from torchvision.models import ResNet50_Weights

    assert [s.name for s in all_synsets()] == ResNet50_Weights.IMAGENET1K_V1.meta["categories"]


def test_reading_the_table_imports_none_of_the_libraries() -> None:
    code = (
        "import sys; from ilsvrc_bench.synsets import all_synsets; "
        "assert len(all_synsets()) == 1000; "
        "print(sorted(m for m in ('torch', 'torchvision', 'timm') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _table(rows: list[str]) -> str:
    return "\n".join(["\t".join(COLUMNS), *rows]) + "\n"


def _good_rows() -> list[str]:
    return [
        "\t".join([str(s.class_index), s.wnid, s.name, ", ".join(s.lemmas), s.gloss])
        for s in all_synsets()
    ]


def test_the_table_round_trips() -> None:
    assert parse_table(_table(_good_rows())) == all_synsets()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows[:-1], "expected 1000 unique wnids"),
        (lambda rows: [rows[1], rows[0], *rows[2:]], "line 2: class_index '1', expected 0"),
        (lambda rows: [rows[0].replace("n01440764", "x01440764"), *rows[1:]], "line 2: .* wnid"),
        (lambda rows: [rows[0] + "\textra", *rows[1:]], "line 2: 6 fields"),
        (
            lambda rows: [*rows[:4], rows[4].replace("\thammerhead\t", "\t\t"), *rows[5:]],
            "line 6: empty",
        ),
        (
            lambda rows: [rows[0], rows[1].replace("\tgoldfish\t", "\ttench\t"), *rows[2:]],
            "names must be unique",
        ),
        (
            lambda rows: [rows[0], rows[1].replace("n01443537", "n01440764"), *rows[2:]],
            "sorted order",
        ),
    ],
)
def test_a_damaged_table_is_refused_with_the_line(change, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_table(_table(change(_good_rows())), "synsets.tsv")


def test_a_wrong_header_is_refused() -> None:
    with pytest.raises(DataError, match="header"):
        parse_table("index\twnid\n" + "\n".join(_good_rows()))
