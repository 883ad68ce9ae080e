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
    for year, n in history.CONTIGUOUS_TEAMS.items():
        assert len(history.team_ranking(year)) >= n, year


def test_every_row_has_a_confidence_mark_and_its_data() -> None:
    for e in history.entries():
        assert e.confidence in {"primary", "secondary"}
        assert e.eval_data.startswith("ILSVRC20"), e
        if e.kind == "challenge":
            assert e.eval_data == f"ILSVRC{min(e.year, 2012)} test", e


def test_flags_the_sources_give() -> None:
    def one(year: int, team: str) -> history.Entry:
        return next(
            e for e in history.challenge_entries(year, include_outside_data=True) if e.team == team
        )

    # NEC-UIUC averaged six sparse-coding models (AlexNet paper); the other two are ensembles
    assert one(2010, "NEC-UIUC").ensemble is True
    assert one(2016, "Trimps-Soushen").ensemble is True
    assert one(2017, "WMW").ensemble is True
    # MSRA's own paper: 8.06, third of 38 teams (not the 7.35 of another table)
    assert one(2014, "MSRA Visual Computing").top5_err == pytest.approx(8.06)
    zf = next(e for e in history.entries() if e.entry == "ZF net, 6 convnets")
    assert zf.kind == "paper"
    assert zf.eval_data == "ILSVRC2012 test"
    resnet = next(e for e in history.entries() if "Table 4" in e.entry)
    assert "multi-scale" not in resnet.note.lower()
    assert "fully-convolutional" not in resnet.note.lower()


def test_history_file_errors_name_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from ilsvrc_bench.errors import DataError

    text = (
        "year,kind,team,entry,method,top5_err,top1_err,eval_data,outside_data,ensemble,"
        "post_competition,confidence,source,note\n"
        "2012,challenge,X,e,m,15.0,,ILSVRC2012 test,false,,false,tertiary,http://x,\n"
    )

    class _Files:
        def joinpath(self, _name: str) -> _Files:
            return self

        def read_text(self, encoding: str) -> str:
            return text

    monkeypatch.setattr("ilsvrc_bench.history.resources.files", lambda _pkg: _Files())
    history.entries.cache_clear()
    try:
        with pytest.raises(DataError, match=r"history\.csv line 2: confidence"):
            history.entries()
    finally:
        history.entries.cache_clear()


def test_every_row_is_sourced() -> None:
    for e in history.entries():
        assert e.source.startswith("http"), f"{e.year} {e.team}: no source URL"
        assert e.top5_err is not None or e.top1_err is not None


def test_winner_is_the_minimum_of_its_year() -> None:
    for year in history.YEARS:
        for outside in (False, True):
            listed = history.challenge_entries(year, include_outside_data=outside)
            errs = [e.top5_err for e in listed]
            best = history.winner(year, include_outside_data=outside).top5_err
            assert best == min(e for e in errs if e is not None)


@pytest.mark.parametrize(
    ("year", "team", "top5"),
    [
        (2010, "NEC-UIUC", 28.191),
        (2011, "XRCE", 25.77),
        (2012, "SuperVision", 15.315),
        (2012, "SuperVision", 16.422),
        (2012, "ISI", 26.172),
        (2013, "Clarifai", 11.743),
        (2013, "Clarifai", 11.197),
        (2013, "NUS", 12.953),
        (2013, "ZF", 13.511),
        (2013, "Andrew Howard", 13.55),
        (2014, "MSRA Visual Computing", 8.06),
        (2014, "Andrew Howard", 8.11),
        (2014, "DeeperVision", 9.50),
        (2014, "NUS-BST", 9.79),
        (2014, "TTIC_ECP", 10.22),
        (2015, "ReCeption", 3.581),
        (2016, "ResNeXt", 3.031),
        (2016, "CU-DeepLink", 3.042),
        (2017, "Trimps-Soushen", 2.481),
        (2017, "NUS-Qihoo_DPNs", 2.74),
        (2010, "XRCE", 33.649),
        (2011, "University of Amsterdam", 31.010),
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
        for e in history.challenge_entries(year, include_outside_data=True)
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


def test_placement_is_exact_down_to_the_last_contiguous_team() -> None:
    # 2013: Clarifai (no outside data), NUS, ZF, Andrew Howard are every team better than 13.6
    by_year = {p.year: p for p in history.place(13.0)}
    assert (by_year[2013].rank, by_year[2013].exact) == (3, True)
    assert history.describe_placement(13.0) == "would have won 2012; 3rd in 2013"
    # 2014: the SPP-net paper lists the best entry of the top 7 teams; VGG16's published val
    # top-5 error falls between NUS-BST (9.79) and DeeperVision (9.50)
    assert history.describe_placement(9.618) == "would have won 2013; 6th in 2014"
    assert history.describe_placement(10.0) == "would have won 2013; 7th in 2014"
    # 2016: Trimps-Soushen, ResNeXt, CU-DeepLink
    by_year = {p.year: p for p in history.place(3.035)}
    assert (by_year[2016].rank, by_year[2016].exact) == (3, True)
    assert history.describe_placement(3.035) == "would have won 2015; 3rd in 2016"


def test_placement_below_the_listed_teams_is_a_lower_bound_that_says_how_many() -> None:
    by_year = {p.year: p for p in history.place(10.5)}
    assert (by_year[2014].rank, by_year[2014].exact) == (8, False)
    assert history.describe_placement(10.5) == (
        "would have won 2013; at best 8th in 2014 (7 teams listed)"
    )
    assert history.describe_placement(14.0).endswith("at best 5th in 2013 (5 teams listed)")
    assert history.describe_placement(3.5).endswith("at best 4th in 2016 (3 teams listed)")


def test_a_random_model_is_placed_where_every_team_is_listed() -> None:
    text = history.describe_placement(99.9)
    assert text == "would not have won any year; 7th in 2012 (below all 6 teams)"
    # a lower bound always says how few teams its year lists
    for p in history.place(99.9):
        if not p.exact:
            assert p.n_teams >= 1
    assert "(1 team listed)" in history._rank_text(
        history.Placement(year=2015, rank=2, n_teams=1, exact=False)
    )


def test_2010_and_2011_say_they_used_other_data() -> None:
    assert history.describe_placement(20.934) == (
        "would have won 2011 (2010-11: other test set and classes); 2nd in 2012"
    )
    assert "2010 and 2011" in history.HISTORY_NOTE


def test_outside_data_is_left_out_unless_asked_for() -> None:
    # SuperVision's 15.315 used the Fall 2011 release; its provided-data entry is 16.422
    assert history.winner(2012).top5_err == pytest.approx(16.422)
    assert history.winner(2012, include_outside_data=True).top5_err == pytest.approx(15.315)
    assert history.winner(2013).top5_err == pytest.approx(11.743)
    assert history.winner(2013, include_outside_data=True).top5_err == pytest.approx(11.197)
    assert history.describe_placement(16.0) == (
        "would have won 2012; at best 6th in 2013 (5 teams listed)"
    )
    assert history.describe_placement(16.0, include_outside_data=True).endswith("2nd in 2012")
    # with outside data, 2014's listing (provided-data track only) gives a lower bound
    assert history.describe_placement(9.618, include_outside_data=True) == (
        "would have won 2013; at best 6th in 2014 (7 teams listed)"
    )


def test_placement_of_a_score_better_than_every_winner() -> None:
    assert history.describe_placement(1.0) == "would have won every year to 2017"


def test_placement_ties_share_the_rank() -> None:
    by_year = {p.year: p for p in history.place(16.422)}
    assert by_year[2012].rank == 1
