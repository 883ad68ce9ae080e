from __future__ import annotations

import pytest

from ilsvrc_bench.errors import DataError
from ilsvrc_bench.synsets import all_synsets, by_index, by_wnid, search


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


def test_unique_name_fallback() -> None:
    from ilsvrc_bench.synsets import _unique_names

    names = _unique_names(["a", "a", "b"], ["n1", "n2", "n3"], [("a",), ("a", "z"), ("b",)])
    assert names == ["a (n1)", "a (z)", "b"]
