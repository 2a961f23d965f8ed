"""A state's counties by the two units (issue 12 parts 1 and 3): tables, the difference, changes, sentences."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from helpers import counties, data, geo, ice, paths, tables
from workbooks import HEADER, write_rows


def _sheet(tmp_path: Path, rows: list[list], name: str = "participatingAgencies02162026am.xlsx") -> pd.DataFrame:
    body = [
        [state, agency, kind, county, support, date(2025, 5, 1), "link", None]
        for state, agency, kind, county, support in rows
    ]
    return ice.load_sheet(write_rows(tmp_path, [HEADER, *body], name))


BEFORE = [
    ("MINNESOTA", "Cass County Sheriff's Office", "County", "Cass County", "Task Force Model"),
    ("MINNESOTA", "Jackson County Sheriff's Office", "County", "Jackson County", "Warrant Service Officer"),
    ("MINNESOTA", "Minnesota State Patrol", "State Agency", None, "Task Force Model"),
]
#: a municipal agency in a county with no county agency (International Falls, Koochiching County), a city
#: police beside its county's sheriff (Pine River, Cass County), Jackson County's sheriff gone.
AFTER = [
    ("MINNESOTA", "Cass County Sheriff's Office", "County", "Cass County", "Task Force Model"),
    ("MINNESOTA", "Pine River Police Department", "Municipality", "Cass County", "Task Force Model"),
    ("MINNESOTA", "International Falls Police Department", "Municipality", "Koochiching", "Task Force Model"),
    ("MINNESOTA", "Minnesota State Patrol", "State Agency", None, "Task Force Model"),
    ("MINNESOTA", "Nowhere Police Department", "Municipality", None, "Task Force Model"),
]


@pytest.fixture
def sheets(tmp_path):
    return (
        _sheet(tmp_path, BEFORE, "participatingAgencies11012025am.xlsx"),
        _sheet(tmp_path, AFTER, "participatingAgencies02162026am.xlsx"),
    )


def test_a_municipal_agency_in_a_county_without_a_county_agency(sheets, tmp_path, monkeypatch):
    _, after = sheets
    units = ice.count_units(after, by=None).iloc[0]
    assert (units["counties"], units["counties_any"]) == (1, 2)
    table = counties.county_table(after, "MINNESOTA")
    assert list(table.columns) == counties.COLUMNS and len(table) == 87 and table["county_fips"].is_monotonic_increasing
    by_name = table.set_index("county_name")
    assert by_name.loc["Cass County", ["county_agency_signed", "any_agreement"]].tolist() == [True, True]
    assert by_name.loc["Cass County", "agencies"] == "Cass County Sheriff's Office; Pine River Police Department"
    assert by_name.loc["Koochiching County", ["county_agency_signed", "any_agreement"]].tolist() == [False, True]
    assert by_name.loc["Koochiching County", "agencies"] == "International Falls Police Department"
    assert by_name.loc["Hennepin County", ["county_agency_signed", "any_agreement", "agencies"]].tolist() == [
        False,
        False,
        "",
    ]
    assert table["county_agency_signed"].sum() == 1 and table["any_agreement"].sum() == 2
    other = counties.other_agency_counties(after, "MINNESOTA")
    assert other[["county_name", "agencies"]].values.tolist() == [
        ["Koochiching County", "International Falls Police Department"]
    ]
    # the CSV: one row per Census county, booleans as true/false
    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path / "out"))
    written = counties.write_county_table(table, "MINNESOTA", "participatingAgencies02162026am")
    assert written == tmp_path / "out" / "data" / "processed" / "minnesota_counties_participatingAgencies02162026am.csv"
    back = tables.read_csv(written)
    assert list(back.columns) == counties.COLUMNS and len(back) == 87
    row = back.set_index("county_name").loc["Koochiching County"]
    assert row.tolist() == ["27071", "false", "true", "International Falls Police Department"]
    assert set(back["county_agency_signed"]) == {"true", "false"}


def test_changes_between_two_sheets_by_unit(sheets):
    before, after = sheets
    changes = counties.county_changes(before, after, "MINNESOTA")
    assert changes[["county_name", "unit", "change"]].values.tolist() == [
        ["Jackson County", "counties whose county agency signed", "dropped"],
        ["Koochiching County", "counties with any agreement", "added"],
        ["Jackson County", "counties with any agreement", "dropped"],
    ]
    assert (
        changes.iloc[0]["agencies_before"] == "Jackson County Sheriff's Office"
        and changes.iloc[0]["agencies_after"] == ""
    )
    assert counties.county_changes(after, after, "MINNESOTA").empty


def test_county_table_refuses_a_place_without_counties_and_several_sheets(sheets):
    before, after = sheets
    with pytest.raises(geo.NoCountiesError, match="Guam has no counties"):
        counties.county_table(after, "GUAM")
    with pytest.raises(ValueError, match="one sheet"):
        counties.county_table(pd.concat([before, after]), "MINNESOTA")


def test_unplaced_agreements_are_counted_by_reason(sheets):
    _, after = sheets
    sentence = counties.unplaced_sentence(after, "Minnesota")
    assert sentence.startswith("2 of Minnesota's 5 agreements are placed in no county: ")
    assert (
        "1 held by a state agency, which serves the whole state (a county it prints is not used) (Minnesota State Patrol)"
        in sentence
    )
    assert "1 held by an agency with no county printed, which cannot be placed (Nowhere Police Department)" in sentence
    assert sentence.endswith("The count of counties with any agreement is therefore a lower bound.")
    placed = after[after["county_fips"].notna()]
    assert (
        counties.unplaced_sentence(placed, "Minnesota")
        == "Every one of Minnesota's 3 agreements is held by an agency placed in a county."
    )
    assert (
        counties.unplaced_sentence(placed.iloc[:1], "Iowa")
        == "Iowa's only agreement is held by an agency placed in a county."
    )
    assert counties.unplaced_sentence(after.iloc[:0], "Iowa") == "Iowa's agencies hold no agreement on this sheet."
    one = after[after["agency"] == "Minnesota State Patrol"]
    assert counties.unplaced_sentence(one, "Iowa") == (
        "Iowa's only agreement is placed in no county: it is held by a state agency, which serves the whole state "
        "(a county it prints is not used) (Minnesota State Patrol)."
    )
    two = pd.concat([one, one])
    assert counties.unplaced_sentence(two, "Iowa").startswith(
        "Both of Iowa's agreements are placed in no county: 2 held by state"
    )


SENTENCES = [
    # (n_signed, n_any, n_total, words that must appear)
    (8, 8, 87, ["8 of Minnesota's 87 counties had a county agency", "8 counties had one: the same counties."]),
    (0, 0, 99, ["none of Minnesota's 99 counties had a county agency", "none had one either."]),
    (1, 1, 99, ["1 of Minnesota's 99 counties had a county agency", "1 county had one: the same county."]),
    (
        0,
        1,
        1,
        ["none of Minnesota's 1 county had", "1 county had one: 1 more, through agencies other than the county's own."],
    ),
    (13, 14, 72, ["13 of Minnesota's 72 counties", "14 counties had one: 1 more, through agencies other than"]),
]


@pytest.mark.parametrize(("n_signed", "n_any", "n_total", "words"), SENTENCES, ids=[str(s[:3]) for s in SENTENCES])
def test_counts_sentence_grammar_follows_the_numbers(n_signed, n_any, n_total, words):
    sentence = counties.counts_sentence("Minnesota", n_signed, n_any, n_total, "On ICE's sheet published 2025-10-31 pm")
    assert sentence.startswith("On ICE's sheet published 2025-10-31 pm, ")
    assert "(the article's unit: the county's own agency" in sentence
    for w in words:
        assert w in sentence, f"{w!r} not in {sentence!r}"


CLOSING = [
    (
        2,
        2,
        87,
        ["Cass", "Itasca"],
        9,
        (
            "2 of Iowa's 87 counties had signed a 287(g) agreement through their own county "
            "agency: Cass and Itasca; counting every agency located in a county, 2 counties "
            "had an agreement; Iowa's agencies of every type held 9 agreements in all."
        ),
    ),
    (
        13,
        14,
        99,
        [f"C{i}" for i in range(13)],
        20,
        (
            "13 of Iowa's 99 counties had signed a 287(g) agreement through their own county agency (listed in x.csv); "
            "counting every agency located in a county, 14 counties had an agreement; Iowa's agencies of every type held "
            "20 agreements in all."
        ),
    ),
    (
        0,
        0,
        99,
        [],
        1,
        (
            "none of Iowa's 99 counties had signed a 287(g) agreement through its own county agency; "
            "counting every agency located in a county, no county had an agreement; Iowa's agencies of "
            "every type held 1 agreement in all."
        ),
    ),
    (
        1,
        2,
        99,
        ["Polk"],
        3,
        (
            "1 of Iowa's 99 counties had signed a 287(g) agreement through its own county agency: "
            "Polk; counting every agency located in a county, 2 counties had an agreement; Iowa's "
            "agencies of every type held 3 agreements in all."
        ),
    ),
]


@pytest.mark.parametrize(
    ("n_signed", "n_any", "n_total", "names", "n_agreements", "expected"), CLOSING, ids=[str(c[:3]) for c in CLOSING]
)
def test_closing_sentence(n_signed, n_any, n_total, names, n_agreements, expected):
    got = counties.closing_sentence("Iowa", n_signed, n_any, n_total, "On ICE's sheet", names, n_agreements, "x.csv")
    assert got == "On ICE's sheet, " + expected


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((9, 8, 87), "n_signed <= n_any <= n_total"),
        ((0, 0, 0), "a place without counties"),
        ((1.5, 2, 3), "whole number"),
        ((True, 2, 3), "whole number"),
    ],
)
def test_sentences_refuse_impossible_counts(args, words):
    with pytest.raises(ValueError, match=words):
        counties.counts_sentence("Minnesota", *args, "On ICE's sheet")


def test_constables_table_shows_where_the_rule_differs_from_ices_type(tmp_path):
    df = _sheet(
        tmp_path,
        [
            ("TEXAS", "Kinney County Constable's Office", "Municipality", "Kinney County", "Task Force Model"),
            ("TEXAS", "Smith County Constable Precinct 4", "County", "Smith County", "Task Force Model"),
            ("TEXAS", "Smith County Sheriff's Office", "County", "Smith County", "Task Force Model"),
        ],
    )
    table = counties.constables(df, "TEXAS")
    assert table.values.tolist() == [
        ["Kinney County Constable's Office", "Municipality", "Kinney County", "county agency", True],
        ["Smith County Constable Precinct 4", "County", "Smith County", "county agency", False],
    ]
    assert counties.counties_by_type_alone(df, "TEXAS") == 1
    assert ice.count_units(df, by=None).iloc[0]["counties"] == 2
    assert counties.constable_sentence(table, "Texas", 2, 1) == (
        "2 constables' offices in Texas hold an agreement: 2 counted as county agencies (named for their county); "
        "ICE's TYPE says the other way for 1. By ICE's TYPE alone the article's unit would count 1 county; the rule "
        "counts 2."
    )


CONSTABLE_SENTENCES = [
    # (counted_as, differs, n_signed, n_by_type, expected)
    (
        ["other agency"],
        [False],
        3,
        3,
        (
            "1 constable's office in Pennsylvania holds an agreement: 1 counted as another agency (a township, borough, ward "
            "or state constable); ICE's TYPE agrees for every one. The count in the article's unit is 3 by the rule and by "
            "ICE's TYPE alone."
        ),
    ),
    (
        ["county agency", "other agency", "other agency"],
        [True, True, False],
        4,
        4,
        (
            "3 constables' offices in Pennsylvania hold an agreement: 1 counted as a county agency (named for its county) and "
            "2 as other agencies (a township, borough, ward or state constable); ICE's TYPE says the other way for 2. The count "
            "in the article's unit is 4 by the rule and by ICE's TYPE alone."
        ),
    ),
]


@pytest.mark.parametrize(("counted_as", "differs", "n_signed", "n_by_type", "expected"), CONSTABLE_SENTENCES)
def test_constable_sentence_grammar(counted_as, differs, n_signed, n_by_type, expected):
    table = pd.DataFrame(
        {
            "agency": "x",
            "ice_type": "County",
            "county_name": "y",
            "counted_as": counted_as,
            "differs_from_type": differs,
        }
    )
    assert counties.constable_sentence(table, "Pennsylvania", n_signed, n_by_type) == expected
    assert counties.constable_sentence(table.iloc[:0], "Iowa", 0, 0) == (
        "No constable's office in Iowa holds an agreement, so the constable rule changes nothing here."
    )


def test_real_sheets_by_both_units():
    """The article's sheet and the 2025-12-30 sheet (numbers checked by hand against ICE's rows)."""
    article = ice.load_sheet(data.fetch("participatingAgencies10312025pm.xlsx"))
    table = counties.county_table(article, "MINNESOTA")
    assert table["county_agency_signed"].sum() == 8 and table["any_agreement"].sum() == 8
    assert counties.other_agency_counties(article, "MINNESOTA").empty
    december = ice.load_sheet(data.fetch("participatingAgencies12302025am.xlsx"))
    other = counties.other_agency_counties(december, "TEXAS")
    assert other["county_name"].tolist() == ["Duval County"] and other["agencies"].tolist() == [
        "Freer Police Department"
    ]
    changes = counties.county_changes(article, december, "MINNESOTA")
    assert ["Jackson County", "counties whose county agency signed", "dropped"] in changes[
        ["county_name", "unit", "change"]
    ].values.tolist()


@pytest.mark.parametrize("sheet", ["participatingAgencies10312025pm.xlsx", "participatingAgencies12302025am.xlsx"])
@pytest.mark.parametrize("state", ["MINNESOTA", "WISCONSIN", "TEXAS"])
def test_two_kind_maps_from_real_data_have_no_overlapping_labels(state, sheet):
    """Notebook 01's map, built as the notebook builds it: both kinds, every county with any agreement labelled."""
    import matplotlib.pyplot as plt

    from helpers import plotting
    from test_plotting import assert_no_overlap_inside

    df = ice.load_sheet(data.fetch(sheet))
    table = counties.county_table(df, state)
    shown = table[table["any_agreement"]]
    kinds = {
        r.county_fips: plotting.COUNTY_AGENCY if r.county_agency_signed else plotting.OTHER_AGENCY
        for r in shown.itertuples()
    }
    names = {r.county_fips: r.county_name.removesuffix(" County") for r in shown.itertuples()}
    units = ice.count_units(df[df["state"] == state], by=None).iloc[0]
    plotting.use_style()
    fig, ax = plt.subplots()
    try:
        title = plotting.county_map_title(
            geo.state_info(state)["name"], int(units["counties"]), len(table), int(units["counties_any"]), published="x"
        )
        result = plotting.county_map(ax, geo.county_shapes(state), kinds, names, title=title)
        assert sorted(label.fips for label in result.labels) == sorted(kinds)
        assert result.counts[plotting.COUNTY_AGENCY] == units["counties"]
        assert result.counts[plotting.OTHER_AGENCY] == units["counties_any"] - units["counties"]
        assert_no_overlap_inside(fig, ax, result.texts)
    finally:
        plt.close(fig)
