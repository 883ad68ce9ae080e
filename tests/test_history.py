"""The history data's integrity, and placing a score in it."""

from __future__ import annotations

import pytest

from ilsvrc_bench import history


def test_every_year_has_challenge_entries_and_a_winner() -> None:
    years = {e.year for e in history.entries() if e.kind == "challenge"}
    assert years == set(range(2010, 2018))
    for year in history.YEARS:
        assert len(history.team_ranking(year)) >= 1
    for year in history.COMPLETE_RANKINGS:
        assert len(history.team_ranking(year)) >= 5


def test_every_row_is_sourced() -> None:
    for e in history.entries():
        assert e.source.startswith("http"), f"{e.year} {e.team}: no source URL"
        assert e.top5_err is not None or e.top1_err is not None


def test_winner_is_the_minimum_of_its_year() -> None:
    for year in history.YEARS:
        errs = [e.top5_err for e in history.challenge_entries(year)]
        assert history.winner(year).top5_err == min(e for e in errs if e is not None)


@pytest.mark.parametrize(
    ("year", "team", "top5"),
    [
        (2010, "NEC-UIUC", 28.191),
        (2011, "XRCE", 25.77),
        (2012, "SuperVision", 15.315),
        (2012, "SuperVision", 16.422),
        (2012, "ISI", 26.172),
        (2013, "Clarifai", 11.743),
        (2014, "GoogLeNet", 6.656),
        (2014, "VGG", 7.325),
        (2015, "MSRA", 3.567),
        (2016, "Trimps-Soushen", 2.991),
        (2017, "WMW", 2.251),
    ],
)
def test_known_challenge_figures(year: int, team: str, top5: float) -> None:
    found = [
        e
        for e in history.challenge_entries(year)
        if e.team.lower().startswith(team.lower()) and e.top5_err == pytest.approx(top5, abs=0.006)
    ]
    assert found, f"{year} {team} {top5} missing"


def test_winners_by_year() -> None:
    teams = {y: history.winner(y).team.lower() for y in history.YEARS}
    assert teams[2010].startswith("nec")
    assert teams[2011].startswith("xrce")
    assert teams[2012].startswith("supervision")
    assert teams[2013].startswith("clarifai")
    assert teams[2014].startswith("googlenet")
    assert teams[2015].startswith("msra")
    assert teams[2016].startswith("trimps")
    assert teams[2017].startswith("wmw")


def test_human_row() -> None:
    h = history.human()
    assert h.top5_err == pytest.approx(5.1)
    assert h.kind == "human"


def test_paper_rows_hold_the_published_val_figures() -> None:
    papers = [e for e in history.entries() if e.kind == "paper"]
    pairs = {(e.top1_err, e.top5_err) for e in papers}
    for pair in [(40.7, 18.2), (38.1, 16.4), (24.8, 7.5), (24.4, 7.2)]:
        assert pair in pairs
    assert all(e.split == "val" for e in papers if (e.top1_err, e.top5_err) == (24.8, 7.5))


def test_placement_ranks_against_each_teams_best_entry() -> None:
    # AlexNet's published single-crop val top-5 error, torchvision IMAGENET1K_V1
    by_year = {p.year: p for p in history.place(20.934)}
    assert by_year[2010].rank == 1
    assert by_year[2011].rank == 1
    assert by_year[2012].rank == 2  # only SuperVision was better
    assert history.describe_placement(20.934) == "would have won 2011; 2nd in 2012"


def test_placement_in_a_partly_listed_year_is_a_lower_bound() -> None:
    # VGG16's published val top-5 error: only GoogLeNet and VGG are listed for 2014
    assert history.describe_placement(9.618) == "would have won 2013; at best 3rd in 2014"


def test_placement_of_a_score_better_than_every_winner() -> None:
    assert history.describe_placement(1.0) == "would have won every year to 2017"


def test_placement_ties_share_the_rank() -> None:
    by_year = {p.year: p for p in history.place(15.315)}
    assert by_year[2012].rank == 1
