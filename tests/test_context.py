"""Context tables: every join keeps the 50 states + DC, and values match PROVENANCE.md."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import context, data


@pytest.fixture(scope="module")
def agreements() -> pd.DataFrame:
    """A tiny tidy ICE table: two states and a territory (only the columns count_units needs)."""
    return pd.DataFrame(
        {
            "state": ["FLORIDA", "FLORIDA", "FLORIDA", "MINNESOTA", "GUAM"],
            "agency": ["A Sheriff", "A Sheriff", "B Police", "C County", "Guam Customs"],
            "county_fips": ["12001", "12001", None, "27001", None],
        }
    )


def test_trump_share_matches_provenance():
    t = context.trump_share_by_state().set_index("state")["trump_share"]
    assert len(t) == 51
    expected = {"FLORIDA": 0.5661, "MINNESOTA": 0.4783, "TEXAS": 0.5694, "NORTH DAKOTA": 0.6870}
    for state, share in expected.items():
        assert round(t[state], 4) == share


def test_foreign_born_share():
    fb = context.foreign_born_share_by_state([2023]).set_index("state")["foreign_born_share"]
    assert len(fb) == 51 and "PUERTO RICO" not in fb.index
    assert fb["MINNESOTA"] == pytest.approx(0.0863, abs=5e-5)
    assert fb["FLORIDA"] == pytest.approx(0.2210, abs=5e-5)
    three = context.foreign_born_share_by_state([2021, 2022, 2023]).set_index("state")["foreign_born_share"]
    assert three["NORTH DAKOTA"] != fb["NORTH DAKOTA"]
    with pytest.raises(data.RawDataError, match=r"no rows for years \[2020\]"):
        context.foreign_born_share_by_state([2020])  # no 1-year release


def test_mn_county_results_have_87_counties():
    mn = context.county_trump_share("MINNESOTA")
    assert len(mn) == 87
    assert mn["county_fips"].str.startswith("27").all()
    assert mn["trump_share"].between(0, 1).all()


def test_state_table_keeps_all_states_with_zeros(agreements):
    t = context.state_table(agreements, [2023])
    assert len(t) == 51
    assert list(t.columns) == context.STATE_TABLE_COLUMNS
    assert "GUAM" not in set(t["state"])
    row = t.set_index("state")
    assert row.loc["FLORIDA", "agreements"] == 3 and row.loc["FLORIDA", "agencies"] == 2
    assert row.loc["ALABAMA", "agreements"] == 0 and row.loc["ALABAMA", "agreements_per_million"] == 0
    assert t[["population", "trump_share", "foreign_born_share"]].notna().all().all()
    assert context.territory_counts(agreements)["state"].tolist() == ["GUAM"]


def test_missing_state_raises():
    full = context.trump_share_by_state()
    with pytest.raises(context.JoinError, match="MINNESOTA"):
        context.check_states(full[full["state"] != "MINNESOTA"], "test")
    with pytest.raises(context.JoinError, match="duplicated"):
        context.check_states(pd.concat([full, full.head(1)]), "test")


def test_state_table_rejects_unknown_measure(agreements):
    with pytest.raises(ValueError):
        context.state_table(agreements, [2023], measure="counties")


def _population_file(tmp_path, rows: list[tuple[str, str, str]], year_column: str = "POPESTIMATE2024"):
    path = tmp_path / "NST-EST2024-ALLDATA.csv"
    pd.DataFrame(rows, columns=["SUMLEV", "STATE", year_column]).assign(NAME="x").to_csv(path, index=False)
    return path


def test_state_population_from_census_file():
    pop = context.state_population().set_index("state")["population"]
    assert len(pop) == 52  # 50 states, DC, Puerto Rico
    assert pop["MINNESOTA"] > 5_000_000 and pop["WYOMING"] < 1_000_000


@pytest.mark.parametrize(
    "rows,year_column,message",
    [
        ([("040", "27", "5800000")], "POPESTIMATE2023", "column 'POPESTIMATE2024' not found"),
        ([("040", "27", "1"), ("040", "27", "2")], "POPESTIMATE2024", "repeated: \\['27'\\]"),
        ([("040", "27", "1"), ("040", "99", "2")], "POPESTIMATE2024", "not in the reference table: \\['99'\\]"),
    ],
    ids=["renamed column", "repeated state", "unknown FIPS"],
)
def test_state_population_rejects_a_changed_file(tmp_path, monkeypatch, rows, year_column, message):
    path = _population_file(tmp_path, rows, year_column)
    monkeypatch.setattr(context.data, "fetch", lambda name: path)
    with pytest.raises(context.data.RawDataError, match=message):
        context.state_population()


# --------------------------------------------------------------------------- unofficial returns


def test_unofficial_returns_come_from_medsls_own_column():
    t = context.trump_share_by_state()
    flagged = sorted(t.loc[t["unofficial"], "state"])
    assert flagged == ["ARIZONA", "KENTUCKY", "MONTANA", "SOUTH DAKOTA", "WASHINGTON"]  # PROVENANCE.md, file 1
    assert t["unofficial"].dtype == bool


@pytest.mark.parametrize(
    "column,values,message",
    [("unofficial_flag", "FALSE", "column 'unofficial' not found"), ("unofficial", "maybe", "other than TRUE/FALSE")],
    ids=["renamed column", "unknown flag"],
)
def test_a_changed_unofficial_column_is_an_error(tmp_path, monkeypatch, column, values, message):
    rows = pd.DataFrame(
        {
            "state_fips": ["27", "27"],
            "candidate": [context.TRUMP, context.HARRIS],
            "votes": [1, 2],
            column: [values, values],
        }
    )
    path = tmp_path / "president.csv"
    rows.to_csv(path, index=False)
    monkeypatch.setattr(context.data, "fetch", lambda name: path)
    with pytest.raises(context.data.RawDataError, match=message):
        context.trump_share_by_state()


# --------------------------------------------------------------------------- who holds agreements

MIXED = pd.DataFrame(
    {
        "state": ["IOWA", "SOUTH DAKOTA", "SOUTH DAKOTA", "SOUTH DAKOTA", "TEXAS", "TEXAS", "TEXAS"],
        "agency": [
            "Iowa DPS",
            "SD Highway Patrol",
            "SD DCI",
            "Pennington County Sheriff's Office",
            "Harris County Sheriff",
            "Houston PD",
            "Texas Ranger",
        ],
        "agency_type": ["State", "State", "State", "County", "County", "Municipality", None],
        "county_fips": [None, None, None, "46103", "48201", None, None],
        "support_type": [
            "Task Force Model",
            "Task Force Model",
            "Warrant Service Officer",
            "Jail Enforcement Model",
            "Warrant Service Officer",
            "Task Force Model",
            "Task Force Model",
        ],
    }
)


def test_agency_mix_counts_agreements_by_kind_of_agency():
    mix = context.agency_mix(MIXED).set_index("state")
    assert mix.loc["IOWA"].to_dict() == {
        "county": 0,
        "municipal": 0,
        "state_agency": 1,
        "type_not_printed": 0,
        "agreements": 1,
    }
    assert mix.loc["SOUTH DAKOTA", "state_agency"] == 2 and mix.loc["SOUTH DAKOTA", "county"] == 1
    assert mix.loc["TEXAS", "type_not_printed"] == 1
    nation = context.agency_mix(MIXED, by=None).iloc[0]
    assert nation["agreements"] == len(MIXED) and nation["county"] == 2
    assert context.agency_mix(MIXED.head(0), by=None).iloc[0]["agreements"] == 0
    assert context.sheriff_agreements(MIXED) == 2


def test_agency_mix_rejects_an_unknown_type():
    with pytest.raises(ValueError, match="Tribal"):
        context.agency_mix(MIXED.assign(agency_type="Tribal"))


@pytest.mark.parametrize(
    "row,expected",
    [
        ({"county": 0, "municipal": 0, "state_agency": 1, "type_not_printed": 0}, "1 held by a state agency"),
        (
            {"county": 2, "municipal": 0, "state_agency": 4, "type_not_printed": 0},
            "2 held by county and 4 by state agencies",
        ),
        ({"county": 3, "municipal": 0, "state_agency": 0, "type_not_printed": 0}, "3 held by county agencies"),
        (
            {"county": 332, "municipal": 187, "state_agency": 17, "type_not_printed": 0},
            "332 held by county, 187 by municipal and 17 by state agencies",
        ),
        ({"county": 0, "municipal": 0, "state_agency": 0, "type_not_printed": 0}, "none held"),
    ],
)
def test_mix_phrase(row, expected):
    assert context.mix_phrase(row) == expected


POPULATION = pd.DataFrame({"state": ["IOWA", "SOUTH DAKOTA", "TEXAS"], "population": [1_000_000, 2_000_000, 3_000_000]})


def test_group_rates_and_member_rates():
    groups = {"big": ["TEXAS"], "small": ["Iowa", "SOUTH DAKOTA"]}
    rates = context.group_rates(MIXED, POPULATION, groups).set_index("group")
    assert rates.loc["small", "agreements"] == 4 and rates.loc["small", "population"] == 3_000_000
    assert rates.loc["small", "agreements_per_million"] == pytest.approx(4 / 3)
    assert rates.loc["big", "agreements_per_million"] == pytest.approx(1.0)
    counts = pd.DataFrame(
        {
            "state": ["IOWA", "SOUTH DAKOTA", "TEXAS", "GUAM"],
            "name": ["Iowa", "South Dakota", "Texas", "Guam"],
            "kind": ["state", "state", "state", "territory"],
            "agreements": [1, 3, 3, 9],
            "population": [1e6, 2e6, 3e6, None],
            "agreements_per_million": [1.0, 1.5, 1.0, None],
        }
    )
    members = context.member_rates(counts, context.agency_mix(MIXED), groups)
    assert list(members["state"]) == ["TEXAS", "IOWA", "SOUTH DAKOTA"]
    assert members.set_index("state")["rank"].to_dict() == {"TEXAS": 2, "IOWA": 2, "SOUTH DAKOTA": 1}
    crossings = context.rate_crossings(members, high="big", low="small")
    assert list(crossings["low_state"]) == ["South Dakota"] and list(crossings["high_state"]) == ["Texas"]


def test_state_agency_names_only_when_few():
    assert context.state_agency_names(MIXED, "IOWA") == "Iowa DPS"
    assert context.state_agency_names(MIXED, "SOUTH DAKOTA") == "SD DCI; SD Highway Patrol"
    assert context.state_agency_names(MIXED, "SOUTH DAKOTA", up_to=1) == ""
    assert context.state_agency_names(MIXED, "TEXAS") == ""  # no agreement typed State


def test_group_rates_needs_a_population_for_every_member():
    with pytest.raises(context.JoinError, match="GUAM"):
        context.group_rates(MIXED, POPULATION, {"with a territory": ["TEXAS", "GUAM"]})


def test_support_type_settings_read_ices_wording():
    from helpers import timeline

    settings = context.support_type_settings(timeline.SUPPORT_TYPE_DEFINITIONS)
    assert settings == {
        "Jail Enforcement Model": "jail",
        "Task Force Model": "field",
        "Warrant Service Officer": "jail",
    }
    with pytest.raises(ValueError, match="neither"):
        context.support_type_settings({"New Model": "Agencies help ICE."})


def test_state_standing_on_the_articles_sheet():
    from helpers import ice

    agreements = ice.load_as_of("2025-11-01")
    pending = ice.load_as_of("2025-11-01", kind="pending")
    s = context.state_standing(agreements, pending, context.state_population(), "MINNESOTA")
    assert s["ranked"] == 51 and 1 <= s["rank"] <= 51
    assert (s["counties_signed"], s["counties_total"]) == (8, 87)
    assert s["us_counties_total"] == 3144  # 50 states and DC in the 2024 Gazetteer (Puerto Rico left out)
    assert 0 < s["us_counties_signed"] < s["us_counties_total"]
    assert s["pending"] == 0
    with pytest.raises(ValueError, match="50 states or DC"):
        context.state_standing(agreements, pending, context.state_population(), "GUAM")


def test_county_support_types():
    from helpers import ice

    crow_wing = context.county_support_types(ice.load_as_of("2025-11-01"), "MINNESOTA", "Crow Wing")
    assert list(crow_wing["support_type"]) == ["Task Force Model", "Warrant Service Officer"]
    with pytest.raises(ValueError, match="not found"):
        context.county_support_types(crow_wing.assign(state="MINNESOTA", county_fips=None), "MINNESOTA", "Atlantis")
