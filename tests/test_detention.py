"""Tests for helpers.detention: every detention file reads, known Minnesota facts, bad layouts, the claim."""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from helpers import claims, data, detention, geo, paths, table_cache


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


# ----------------------------------------------------------------------------- caveats the data demand


def test_partial_years_mark_year_to_date_rows(mn):
    part = detention.partial_years(mn)
    kandi = part[part["facility_id"].str.startswith("KANDIMN")].set_index("fiscal_year")
    # FY2018 for Kandiyohi comes from the 11/06/2017 list: five weeks of the fiscal year
    assert kandi.loc[2018, "weeks"] == 5 and kandi.loc[2018, "adp"] == pytest.approx(11.2, abs=0.1)
    assert kandi.loc[2025, "data_as_of"] == pd.Timestamp("2025-09-02") and kandi.loc[2025, "weeks"] == 48
    full = detention.preferred(mn)
    assert not part.merge(full[full["period"] == "full year"], on=["facility_id", "fiscal_year"]).shape[0]
    assert detention.fiscal_year_start(2018) == pd.Timestamp("2017-10-01")


def _deals(rows: list[tuple[str, int | None, int | None, float, bool]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["county_name", "since", "first_fy_used", "adp_active_year", "long_standing"])
    for c in ("since", "first_fy_used"):
        frame[c] = frame[c].astype("Int64")
    return frame


DEALS = _deals(
    [
        ("Old County", 1990, 2009, 50.0, True),  # old deal, old holding, busy
        ("Recent County", 1992, 2018, 100.0, True),  # old deal, recent holding
        ("Dormant County", 1991, 2009, 1.35, True),  # old deal, nearly empty last year
        ("New County", 2022, 2023, 5.0, False),
        ("None County", None, None, 0.0, False),
    ]
)


def test_recent_holding_finds_old_deals_with_new_detainees():
    out = detention.recent_holding(DEALS)
    assert out["county_name"].tolist() == ["Recent County"]
    assert detention.recent_holding(DEALS, years=3).empty


@pytest.mark.parametrize(
    "basis,years,adp,expected",
    [
        ("deal", 10, 0.0, "Dormant, Old, Recent"),
        ("deal", 10, 5.0, "Old, Recent"),
        ("deal", 2, 1.0, "Dormant, New, Old, Recent"),
        ("holding", 10, 0.0, "Dormant, Old"),
        ("holding", 10, 5.0, "Old"),
        ("holding", 30, 0.0, "none"),
    ],
)
def test_rule_outcomes_by_threshold(basis, years, adp, expected):
    out = detention.rule_outcomes(DEALS, years=(years,), min_adp=(adp,), bases=(basis,))
    assert out["counties"].item() == expected
    assert out["n"].item() == (0 if expected == "none" else len(expected.split(", ")))


def test_rule_outcomes_mark_the_stated_rule_and_reject_unknown_bases():
    out = detention.rule_outcomes(DEALS)
    stated = out[out["stated"]]
    assert len(stated) == 1
    assert stated[["basis", "since_at_most", "adp_above"]].iloc[0].tolist() == [
        "deal",
        detention.REFERENCE_YEAR - detention.LONG_STANDING_YEARS,
        0.0,
    ]
    with pytest.raises(ValueError, match="unknown basis"):
        detention.rule_outcomes(DEALS, bases=("contract",))


def test_sherburne_is_a_usms_iga_in_2017_and_an_igsa_from_2019(mn):
    history = detention.type_history(mn)
    sherb = history[history["facility_id"].str.startswith("SHERBMN")].set_index("type_detailed")
    assert sherb.loc["USMS IGA", "last_listed"] == pd.Timestamp("2017-11-06")
    assert sherb.loc["IGSA", "first_listed"] == pd.Timestamp("2019-03-25")
    fid = sherb["facility_id"].iloc[0]
    sentence = detention.type_sentence(history, fid)
    assert "USMS IGA" in sentence and "IGSA" in sentence and sentence.index("USMS IGA") < sentence.index("IGSA (")
    freeborn = history.loc[history["facility_id"].str.startswith("FREEBMN"), "facility_id"].iloc[0]
    assert detention.type_sentence(history, freeborn) is None


def test_lowest_dropping_adp_names_the_fragile_counties():
    outcomes = detention.rule_outcomes(DEALS)
    # 1.35 detainees a day pass ADP > 0 and ADP > 1; the lowest threshold that drops it is ADP > 5
    assert detention.lowest_dropping_adp(outcomes) == {"Dormant": 5.0}
    with pytest.raises(ValueError, match="exactly one row"):
        detention.lowest_dropping_adp(outcomes.assign(stated=False))


def test_deal_dates_in_words(mn):
    deals = detention.county_deals(mn, detention.counties_for("MINNESOTA", ["Kandiyohi", "Cass"])).set_index(
        "county_name"
    )
    assert (
        detention.deal_dates(deals.loc["Kandiyohi County"])
        == "first ICE use 1992-03-13; contract initiation 2002-03-21"
    )
    assert detention.deal_dates(deals.loc["Cass County"]) == "no date on file"


def test_type_sentence_keeps_agreement_types_and_says_then_only_in_sequence():
    history = pd.DataFrame(
        {
            "facility_id": ["K"] * 3,
            "name": ["KARNES"] * 3,
            "type_detailed": ["DIGSA", "FAMILY", "IGSA"],
            "first_listed": pd.to_datetime(["2017-11-06", "2017-11-06", "2019-03-25"]),
            "last_listed": pd.to_datetime(["2017-11-06", "2021-09-27", "2025-09-02"]),
        }
    )
    sentence = detention.type_sentence(history, "K")
    assert "FAMILY" not in sentence and "; then as IGSA" in sentence
    overlapping = history.assign(first_listed=pd.to_datetime(["2017-11-06", "2017-11-06", "2017-11-06"]))
    assert "; and as IGSA" in detention.type_sentence(overlapping, "K")
    assert detention.type_sentence(history[history["type_detailed"] != "IGSA"], "K") is None


# ----------------------------------------------------------------------------- the facility-table cache


@pytest.fixture
def table_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(table_cache.ENV, str(tmp_path / "tables"))
    return tmp_path / "tables" / "detention"


def test_the_cached_table_is_the_table_made(table_cache_dir, monkeypatch):
    """Made (cache off), cold (written) and warm (read back): the same rows, values and dtypes."""
    monkeypatch.setenv(table_cache.ENV, "off")
    made = detention.facility_years("MINNESOTA")
    assert not table_cache_dir.exists()
    monkeypatch.setenv(table_cache.ENV, str(table_cache_dir.parent))
    cold = detention.facility_years("MINNESOTA")
    assert [p.name for p in table_cache_dir.iterdir()] == [f"{detention.table_key()}{table_cache.SUFFIX}"]
    warm = detention.facility_years("MINNESOTA")
    for table in (cold, warm):
        pd.testing.assert_frame_equal(table, made, check_exact=True)
    pd.testing.assert_frame_equal(
        table_cache.read("detention", detention.table_key()),
        detention.assign_codes(detention._all_files()),
        check_exact=True,
    )


def _changed_source(tmp_path, module):
    copy = tmp_path / Path(module.__file__).name
    copy.write_text(Path(module.__file__).read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    return copy


def _changed_registry(monkeypatch):
    registry = data.load_registry()
    layout = detention.LAYOUTS[3].path
    registry[layout] = dataclasses.replace(registry[layout], sha256="0" * 64)
    monkeypatch.setattr(data, "load_registry", lambda *a, **k: dict(registry))
    monkeypatch.setattr(data, "fetch", lambda name, **k: Path(name))  # the changed bytes, as if fetched and verified


def _changed_corrections(tmp_path, monkeypatch):
    folder = tmp_path / "corrections"
    shutil.copytree(paths.CORRECTIONS, folder)
    (folder / "state_names.csv").write_text(
        (folder / "state_names.csv").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )
    monkeypatch.setattr(paths, "CORRECTIONS", folder)


CHANGES = [  # what changes -> how the test changes it; each must give a new key
    ("a detention file's bytes", lambda tmp_path, mp: _changed_registry(mp)),
    (
        "the detention code",
        lambda tmp_path, mp: mp.setattr(detention, "__file__", str(_changed_source(tmp_path, detention))),
    ),
    (
        "the geo code (name keys, states)",
        lambda tmp_path, mp: mp.setattr(geo, "__file__", str(_changed_source(tmp_path, geo))),
    ),
    ("a corrections file", _changed_corrections),
    ("the table version", lambda tmp_path, mp: mp.setattr(detention, "TABLE_VERSION", detention.TABLE_VERSION + 1)),
    (
        "a library version",
        lambda tmp_path, mp: mp.setattr(table_cache, "LIBRARIES", (*table_cache.LIBRARIES, "pytest")),
    ),
]


@pytest.mark.parametrize(("what", "change"), CHANGES, ids=[c[0] for c in CHANGES])
def test_the_cache_key_changes_with_every_input(what, change, tmp_path, monkeypatch):
    before = detention.table_key()
    assert detention.table_key() == before  # deterministic
    change(tmp_path, monkeypatch)
    assert detention.table_key() != before, what


def test_a_stale_or_damaged_table_is_made_again(table_cache_dir, monkeypatch):
    detention.facility_years("MINNESOTA")
    key = detention.table_key()
    target = table_cache_dir / f"{key}{table_cache.SUFFIX}"
    target.write_bytes(b"not arrow")  # a damaged file (e.g. written by a foreign tool)
    pd.testing.assert_frame_equal(detention.facility_years("MINNESOTA"), detention.facility_years("MINNESOTA"))
    assert table_cache.read("detention", key) is not None
    monkeypatch.setattr(detention, "TABLE_VERSION", detention.TABLE_VERSION + 1)  # new key: the old file goes
    detention.facility_years("MINNESOTA")
    assert [p.name for p in table_cache_dir.iterdir()] == [f"{detention.table_key()}{table_cache.SUFFIX}"]
    assert not list(table_cache_dir.parent.rglob("*.tmp")), "writes are atomic: no temporary file is left"


def test_a_cached_table_never_skips_the_check_of_the_raw_files(table_cache_dir, monkeypatch):
    """A warm run still checks every detention file against its registered sha256 (helpers.data.fetch), so a
    tampered local copy is refused or replaced as without the cache."""
    detention.facility_years("MINNESOTA")
    fetched, fetch = [], data.fetch
    monkeypatch.setattr(data, "fetch", lambda name, **k: fetched.append(name) or fetch(name, **k))
    monkeypatch.setattr(detention, "_all_files", lambda: pytest.fail("a warm run read the workbooks"))
    detention.facility_years("MINNESOTA")
    assert sorted(fetched) == sorted(lay.path for lay in detention.LAYOUTS)
