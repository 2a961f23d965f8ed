"""Tests for helpers.detention: every detention file reads, known Minnesota facts, bad layouts, the claim."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from helpers import claims, detention


@pytest.fixture(scope="module")
def everything() -> pd.DataFrame:
    """Rows of every declared file (cached in the module, read once per session)."""
    return detention._all_files()


@pytest.fixture(scope="module")
def mn() -> pd.DataFrame:
    return detention.facility_years("MINNESOTA")


def test_every_registered_detention_file_has_a_layout_and_rows(everything):
    assert sorted(detention.layouts()) == detention.registered_files()
    sources = set(everything["source_file"])
    for path in detention.registered_files():
        assert path.rsplit("/", 1)[-1] in sources, path


def test_adp_numeric_non_negative(everything):
    with_fy = everything.dropna(subset=["fiscal_year"])
    assert pd.api.types.is_float_dtype(with_fy["adp"])
    assert with_fy["adp"].notna().all()
    assert (with_fy["adp"] >= 0).all()
    assert everything.loc[everything["fiscal_year"].isna(), "source_file"].eq("facilities.csv").all()
    assert set(everything["state"].dropna()) and everything["state"].notna().all()


# (code, fiscal year, source file, ADP to one decimal) from PROVENANCE.md §5
KNOWN = [
    ("FREEBMN", 2009, "ICE_Facility_List_11-06-2017-web.xlsx", 15.0),
    ("SHERBMN", 2009, "ICE_Facility_List_11-06-2017-web.xlsx", 133.0),
    ("KANDIMN", 2013, "ICE_Facility_List_11-06-2017-web.xlsx", 0.0),
    ("SHERBMN", 2018, "2019-ICFO-31121.xlsx", 269.7),
    ("FREEBMN", 2019, "dedicatedNonDedicatedFacilityList.xlsx", 70.8),
    ("SHERBMN", 2021, "FY21-detentionstats_wayback20210113002029.xlsx", 74.3),
    ("SHERBMN", 2021, "FY21-detentionstats.xlsx", 45.5),
    ("KANDIMN", 2021, "FY21-detentionstats.xlsx", 63.4),
    ("SHERBMN", 2022, "FY22-detentionStats.xlsx", 9.4),
    ("FREEBMN", 2023, "FY23_detentionStats.xlsx", 27.8),
    ("KANDIMN", 2024, "FY24_detentionStats.xlsx", 107.9),
    ("SHERBMN", 2024, "FY24_detentionStats.xlsx", 1.35),
    ("KANDIMN", 2025, "FY25_detentionStats09112025.xlsx", 143.8),
]


@pytest.mark.parametrize("code,fy,source,adp", KNOWN)
def test_known_minnesota_values(mn, code, fy, source, adp):
    hit = mn[(mn["code"] == code) & (mn["fiscal_year"] == fy) & (mn["source_file"] == source)]
    assert len(hit) == 1, (code, fy, source)
    assert hit["adp"].iloc[0] == pytest.approx(adp, abs=0.1)
    assert hit["county_fips"].iloc[0] in {"27047", "27067", "27141"}


def test_deal_jails_present_every_year_they_appear(mn):
    best = detention.preferred(mn)
    for code in ("FREEBMN", "SHERBMN"):
        years = set(best.loc[best["code"] == code, "fiscal_year"])
        assert set(range(2009, 2020)) | set(range(2021, 2026)) <= years
    kandi = set(best.loc[best["code"] == "KANDIMN", "fiscal_year"])
    assert set(range(2009, 2019)) | set(range(2021, 2026)) <= kandi
    assert detention.missing_fiscal_years(mn) == [2020]
    fac = detention.facilities(mn).set_index("code")
    assert fac.loc["SHERBMN", "first_use"] == pd.Timestamp("1991-04-01")
    assert fac.loc["SHERBMN", "contract_date"] == pd.Timestamp("1997-06-05")
    assert fac.loc["KANDIMN", "contract_date"] == pd.Timestamp("2002-03-21")
    assert fac.loc["CROWGMN", "last_use"] == pd.Timestamp("2011-08-25")


def test_preferred_takes_latest_cutoff(mn):
    best = detention.preferred(mn)
    row = best[(best["code"] == "SHERBMN") & (best["fiscal_year"] == 2021)].iloc[0]
    assert row["source_file"] == "FY21-detentionstats.xlsx"
    assert not best.duplicated(["facility_id", "fiscal_year"]).any()


def test_county_from_name_beats_printed_county():
    # the 2017 lists print NICOLLET for Nobles County Jail
    assert detention.facility_county("MINNESOTA", "NOBLES COUNTY JAIL", "NICOLLET") == ("27105", "name")
    assert detention.facility_county("MINNESOTA", "Kandiyohi Co. Jail") == ("27067", "name")
    assert detention.facility_county("MINNESOTA", "DULUTH HOLD ROOM") == (None, "unmatched")


# ----------------------------------------------------------------------------- bad layouts

def _tiny_layout() -> detention.Layout:
    return detention.Layout(
        path="detention/test/tiny.xlsx",
        sheets=("Facilities",),
        header_row=3,
        columns={"name": "Name", "city": "City", "state": "State", "type_detailed": "Type Detailed"},
        adp="levels",
        adp_columns=detention.LEVELS,
        fiscal_year=2024,
        data_as_of="2024-10-01",
    )


def _write(tmp_path, frame: pd.DataFrame, startrow: int):
    path = tmp_path / "tiny.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        frame.to_excel(xl, sheet_name="Facilities", index=False, startrow=startrow)
    return path


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Name": ["FREEBORN COUNTY ADULT DETENTION CENTER"],
            "City": ["ALBERT LEA"],
            "State": ["MN"],
            "Type Detailed": ["IGSA"],
            "Level A": [1.0],
            "Level B": [2.0],
            "Level C": [3.0],
            "Level D": [4.5],
        }
    )


def test_tiny_good_file_reads(tmp_path):
    out = detention.read_layout(_tiny_layout(), _write(tmp_path, _frame(), startrow=2))
    assert out["adp"].tolist() == [10.5]
    assert out["state"].tolist() == ["MINNESOTA"]


def test_renamed_column_names_file_and_column(tmp_path):
    path = _write(tmp_path, _frame().rename(columns={"Level C": "Level-C"}), startrow=2)
    with pytest.raises(detention.LayoutError, match=r"tiny\.xlsx.*'Level C'"):
        detention.read_layout(_tiny_layout(), path)


def test_shifted_header_names_file_and_row(tmp_path):
    path = _write(tmp_path, _frame(), startrow=3)  # header on row 4 instead of 3
    with pytest.raises(detention.LayoutError, match=r"tiny\.xlsx.*'Name'.*row 4"):
        detention.read_layout(_tiny_layout(), path)


def test_negative_adp_is_an_error(tmp_path):
    path = _write(tmp_path, _frame().assign(**{"Level A": [-1.0]}), startrow=2)
    with pytest.raises(detention.LayoutError, match="negative ADP"):
        detention.read_layout(replace(_tiny_layout()), path)


# ----------------------------------------------------------------------------- the claim

def test_claim_reproduces_through_recorder(mn, tmp_path):
    counties = detention.counties_for("MINNESOTA", None)
    deals = detention.county_deals(mn, counties)
    names = detention.long_standing_counties(deals)
    store = tmp_path / "claims_recorded.csv"
    result = claims.record(
        "mn_detention_deals",
        names,
        params={"state": "MINNESOTA", "counties": None},
        inputs=[lay.path for lay in detention.LAYOUTS],
        evidence="test",
        store=store,
    )
    assert result.stored
    stored = claims.load_recorded(store)
    assert stored.loc[stored["claim_id"] == "mn_detention_deals", "value"].item() == "Freeborn; Kandiyohi; Sherburne"
    since = dict(zip(deals["county_name"], deals["since"]))
    assert since["Sherburne County"] == 1991 and since["Kandiyohi County"] == 1992 and since["Freeborn County"] == 1996
    assert not deals.set_index("county_name").loc["Crow Wing County", "long_standing"]


def test_named_counties_parameter():
    out = detention.counties_for("MINNESOTA", ["Freeborn", "Crow Wing County"])
    assert out["county_fips"].tolist() == ["27035", "27047"]
    with pytest.raises(ValueError, match="Atlantis"):
        detention.counties_for("MINNESOTA", ["Atlantis"])


def test_a_state_without_287g_counties_gets_an_empty_deals_table(mn):
    """Iowa's agreements on the article's date are all held by city and state agencies."""
    deals = detention.county_deals(mn, pd.DataFrame(columns=["county_fips", "county_name"]))
    assert deals.empty and list(deals.columns) == detention.DEAL_COLUMNS
    assert deals["first_use"].dt.year.empty and deals["long_standing"].dtype == bool
    assert detention.long_standing_counties(deals) == []
