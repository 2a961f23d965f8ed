"""ICE sheet loader: every registered sheet, the tidy table, the parsed-sheet cache, agency identity, counts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from python_calamine import CalamineWorkbook

from helpers import claims, data, geo, ice, sheets
from workbooks import GOOD_ROW, HEADER, write_rows, write_worksheets

ARTICLE_DATE = "2025-11-01"
ARTICLE_SHEET = "ice-287g/participatingAgencies10312025pm.xlsx"


def _publications() -> list[str]:
    """Every registered ICE sheet, one path per publication (file name), the 2025 archive included."""
    return sheets.catalogue("all")["path"].tolist()


def _raw_nonblank_state_rows(path: Path) -> int:
    """Independent count: non-blank STATE cells below the header, read straight with calamine."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    header = next(i for i, r in enumerate(rows) if "STATE" in [str(c).strip().upper() for c in r])
    col = [str(c).strip().upper() for c in rows[header]].index("STATE")
    return sum(1 for r in rows[header + 1 :] if str(r[col]).strip() not in ("", "None"))


@pytest.fixture(scope="module")
def article_sheet() -> pd.DataFrame:
    return ice.load_sheet(data.fetch(ARTICLE_SHEET))


@pytest.fixture(scope="module")
def every_sheet() -> pd.DataFrame:
    """All registered publications in one table (each content parsed once, or read from the cache)."""
    return ice.load_sheets(_publications())


@pytest.mark.parametrize("path", _publications())
def test_every_sheet_loads_without_losing_rows(path, every_sheet):
    file = Path(path).name
    df = every_sheet[every_sheet["source_file"] == file]
    attrs = next(a for a in every_sheet.attrs["sheets"] if a["file"] == file)
    assert len(df) + len(attrs["duplicates"]) == _raw_nonblank_state_rows(data.fetch(path))
    assert df["state_fips"].notna().all() and df["agency_key"].str.len().gt(0).all()
    assert df["published"].nunique() == 1 and df["list"].nunique() == 1
    if attrs["list"] == "participating":
        assert set(df["support_type"]) <= set(ice.SUPPORT_TYPES)
        blank = pd.isna(sheets.read_raw(data.fetch(path)).body.set_index("row").loc[df["row"], "signed_printed"])
        assert (df["signed"].isna().to_numpy() == blank.to_numpy()).all(), (
            "SIGNED is missing only where the cell is blank"
        )
        assert (df["signed"].isna() | (df["signed"].dt.date <= df["published"].dt.date)).all(), (
            "signed after publication"
        )
    else:
        assert set(df["support_type"].dropna()) <= set(ice.SUPPORT_TYPES)


def test_every_sheet_has_the_tidy_columns_and_dtypes(every_sheet, article_sheet):
    for df in (every_sheet, article_sheet):
        assert list(df.columns) == list(ice.SCHEMA)
        assert {c: str(t) for c, t in df.dtypes.items()} == {
            c: str(pd.Series(dtype=t).dtype) for c, t in ice.DTYPES.items()
        }
    mn = every_sheet[
        (every_sheet["state"] == "MINNESOTA")
        & (every_sheet["published"] >= "2025-03-01")
        & (every_sheet["list"] == "participating")
    ]
    assert mn["county_fips"].notna().all(), "every Minnesota agreement is matched to a county"


def test_exact_duplicate_rows_are_dropped_and_reported(every_sheet):
    """The evidence behind the duplicates rule: ICE's August 2025 sheets repeat two rows verbatim."""
    dropped = pd.DataFrame(every_sheet.attrs["duplicates"])
    assert len(dropped) == 16 and dropped["file"].is_unique
    for d in dropped.itertuples():
        raw = sheets.read_raw(data.fetch(d.file)).body.set_index("row")
        assert raw.loc[d.row].equals(raw.loc[d.same_as_row]), d  # every printed cell and the link are equal
        assert not ((every_sheet["source_file"] == d.file) & (every_sheet["row"] == d.row)).any()
    assert ice.duplicates_sentence(every_sheet.attrs["duplicates"]).startswith("Dropped 16 exact duplicate rows")


def test_the_2025_archive_is_read_whole(every_sheet, registry):
    archive = {Path(p).name for p in registry if p.startswith(ice.ARCHIVE_FOLDER)}
    assert archive <= set(every_sheet["source_file"])
    kinds = every_sheet.groupby("source_file")["published_kind"].first()
    assert kinds["participatingAgencies-20250301180751.xlsx"] == "capture time (upper bound)"
    assert kinds["participatingAgencies090022025am.xlsx"] == "corrected"
    pending = every_sheet[every_sheet["source_file"] == "participatingAgencies09222025pm.xlsx"]
    assert set(pending["list"]) == {"pending"}  # the content decides


# ---------------------------------------------------------------- the article's counts


def test_minnesota_counties(article_sheet):
    signed = ice.counties_with_agreements(article_sheet, "MINNESOTA")
    assert len(signed) == 8
    assert len(geo.state_counties("MINNESOTA")) == 87
    assert list(signed["county_name"].str.removesuffix(" County")) == [
        "Cass",
        "Crow Wing",
        "Freeborn",
        "Itasca",
        "Jackson",
        "Kandiyohi",
        "Mille Lacs",
        "Sherburne",
    ]
    crow_wing = signed.set_index("county_name").loc["Crow Wing County"]
    assert crow_wing["support_types"] == "Task Force Model; Warrant Service Officer"


def test_regional_totals(article_sheet):
    totals = ice.group_totals(
        article_sheet,
        {"fl_tx": ["TEXAS", "FLORIDA"], "um": ["WISCONSIN", "IOWA", "NORTH DAKOTA", "SOUTH DAKOTA"]},
    ).set_index("group")
    assert totals.loc["fl_tx", "agreements"] == 536
    assert totals.loc["um", "agreements"] == 31


def test_claims_reproduce_through_the_recorder(article_sheet, tmp_path):
    store = tmp_path / "recorded.csv"
    registry = claims.load_claims()
    params = {"state": "MINNESOTA", "as_of": ARTICLE_DATE, "sheet": None}
    signed = ice.counties_with_agreements(article_sheet, "MINNESOTA")
    claims.record("mn_counties_signed", len(signed), params=params, store=store, claims=registry)
    claims.record(
        "mn_counties_total", len(geo.state_counties("MINNESOTA")), params=params, store=store, claims=registry
    )
    claims.record("mn_counties_named", list(signed["county_name"]), params=params, store=store, claims=registry)
    for label, states in {
        "a": ["FLORIDA", "TEXAS"],
        "b": ["WISCONSIN", "IOWA", "NORTH DAKOTA", "SOUTH DAKOTA"],
    }.items():
        total = int(ice.group_totals(article_sheet, {label: states})["agreements"].iloc[0])
        recorded = claims.record_matching(
            "02_regional_comparison",
            total,
            store=store,
            claims=registry,
            params={"as_of": ARTICLE_DATE, "sheet": None, "states": states},
        )
        assert len(recorded) == 1
    report = claims.build_report(registry, claims.load_recorded(store)).set_index("claim_id")
    for cid in (
        "mn_counties_signed",
        "mn_counties_total",
        "mn_counties_named",
        "fl_tx_agreements",
        "upper_midwest_agreements",
    ):
        assert report.loc[cid, "verdict"] == "reproduced", cid


def test_other_groups_record_nothing(tmp_path):
    recorded = claims.record_matching(
        "02_regional_comparison",
        5,
        store=tmp_path / "r.csv",
        params={"as_of": ARTICLE_DATE, "sheet": None, "states": ["OHIO"]},
    )
    assert recorded == [] and not (tmp_path / "r.csv").exists()


# ---------------------------------------------------------------- counting units


def test_counting_units_on_a_small_table():
    df = pd.DataFrame(
        {
            "state": ["MINNESOTA"] * 3 + ["IOWA"],
            "agency": ["Crow Wing County Sheriff's Office", "Crow Wing County Sheriff's Office ", "City PD", "X"],
            "county_fips": ["27035", "27035", None, "19001"],
        }
    )
    units = ice.count_units(df).set_index("state")
    assert units.loc["MINNESOTA"].to_dict() == {"agreements": 3, "agencies": 2, "counties": 1, "counties_any": 1}
    assert ice.count_units(df, by=None).iloc[0].to_dict() == {
        "agreements": 4,
        "agencies": 3,
        "counties": 2,
        "counties_any": 2,
    }
    # with county_agency, a city's police places its county in counties_any only
    placed = df.assign(county_fips=["27035", "27035", "27071", "19001"], county_agency=[True, True, False, False])
    units = ice.count_units(placed).set_index("state")
    assert units.loc["MINNESOTA", ["counties", "counties_any"]].tolist() == [1, 2]
    assert units.loc["IOWA", ["counties", "counties_any"]].tolist() == [0, 1]


def test_an_empty_group_counts_zero(article_sheet):
    totals = ice.group_totals(article_sheet[article_sheet["state"] == "IOWA"], {"none": ["MINNESOTA"]})
    assert totals.iloc[0][["agreements", "agencies", "counties", "counties_any"]].tolist() == [0, 0, 0, 0]


def test_state_counts_cover_every_state_with_zeros(article_sheet):
    table = ice.state_counts(article_sheet)
    assert len(table) == 56
    assert table["agreements"].sum() == len(article_sheet)
    assert table.set_index("state").loc["IOWA", "agreements"] == 1
    assert (table.set_index("state").loc["CALIFORNIA", ["agreements", "agencies", "counties"]] == 0).all()


# ---------------------------------------------------------------- bad sheets


def test_missing_column_names_file_and_column(tmp_path):
    path = write_rows(tmp_path, [[h for h in HEADER if h != "SUPPORT TYPE"], GOOD_ROW[:4] + GOOD_ROW[5:]])
    with pytest.raises(
        ice.SheetFormatError, match=r"participatingAgencies02162026am.xlsx.*missing column\(s\) \['SUPPORT TYPE'\]"
    ):
        ice.load_sheet(path)


def test_renamed_header_is_reported(tmp_path):
    renamed = ["STATE", "LAW ENFORCEMENT AGENCY", "AGENCY TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM"]
    path = write_rows(tmp_path, [renamed, GOOD_ROW])
    with pytest.raises(ice.SheetFormatError) as err:
        ice.load_sheet(path)
    assert "unknown column(s) ['AGENCY TYPE']" in str(err.value) and "helpers.sheets.COLUMNS" in str(err.value)


def test_blank_rows_and_header_rows_in_odd_places(tmp_path):
    rows = [
        ["287(g) Participating Agencies"],
        [],
        HEADER,
        GOOD_ROW,
        [],
        HEADER,  # a repeated header row is skipped
        [
            "IOWA",
            "Polk County Sheriff's Office",
            "County",
            "Polk County",
            "Jail Enforcement Model ",
            date(2025, 5, 1),
            "link",
            None,
        ],
        [None] * 8,
    ]
    df = ice.load_sheet(write_rows(tmp_path, rows))
    assert list(df["state"]) == ["MINNESOTA", "IOWA"]
    assert list(df["row"]) == [4, 7]  # spreadsheet rows, as Excel shows them
    assert list(df["county_name"]) == ["Cass County", "Polk County"]
    assert list(df["support_type"]) == ["Task Force Model", "Jail Enforcement Model"]


def test_unknown_support_type_names_the_row(tmp_path):
    bad = GOOD_ROW[:4] + ["Border Patrol Model"] + GOOD_ROW[5:]
    with pytest.raises(
        ice.SheetFormatError,
        match=r"participatingAgencies02162026am.xlsx, row 3: unknown support type 'Border Patrol Model'",
    ):
        ice.load_sheet(write_rows(tmp_path, [HEADER, GOOD_ROW, bad]))


def test_unknown_state_names_the_row(tmp_path):
    bad = ["ATLANTIS"] + GOOD_ROW[1:]
    with pytest.raises(ice.SheetFormatError, match=r"row 2: unknown state or territory 'ATLANTIS'"):
        ice.load_sheet(write_rows(tmp_path, [HEADER, bad]))


def test_empty_workbook_is_an_error(tmp_path):
    with pytest.raises(ice.SheetFormatError, match="no worksheet holds ICE.s header row"):
        ice.load_sheet(write_rows(tmp_path, []))


def test_header_only_sheet_gives_an_empty_table(tmp_path):
    df = ice.load_sheet(write_rows(tmp_path, [HEADER]))
    assert df.empty and list(df.columns) == list(ice.SCHEMA)


def test_data_in_an_unnamed_column_is_an_error(tmp_path):
    with pytest.raises(ice.SheetFormatError, match=r"column\(s\) \['I'\] hold data but have no header"):
        ice.load_sheet(write_rows(tmp_path, [HEADER, GOOD_ROW + ["stray note"]]))


def test_row_without_state_is_an_error(tmp_path):
    with pytest.raises(ice.SheetFormatError, match="row 3: the row has data but no STATE"):
        ice.load_sheet(write_rows(tmp_path, [HEADER, GOOD_ROW, [None] + GOOD_ROW[1:]]))


def _totals_sheet(label, states):
    """A sheet of one agreement per entry of ``states`` (agencies A0, A1, ...), for ice.compare_totals."""
    return pd.DataFrame(
        {
            "state": states,
            "agency": [f"A{i}" for i in range(len(states))],
            "county_fips": [None] * len(states),
            "published_label": label,
        }
    )


def test_compare_totals_counts_both_sheets_with_the_same_helpers():
    before = _totals_sheet("2025-10-31 pm", ["TEXAS", "TEXAS", "IOWA", "OHIO"])
    after = _totals_sheet("2025-12-30 am", ["TEXAS", "TEXAS", "TEXAS", "OHIO", "OHIO"])
    table = ice.compare_totals(before, after, {"Texas": ["TEXAS"], "Iowa": ["iowa"]})
    assert table.to_dict("records") == [
        {"area": "Nationwide", "before": 4, "after": 5, "change": 1},
        {"area": "Texas", "before": 2, "after": 3, "change": 1},
        {"area": "Iowa", "before": 1, "after": 0, "change": -1},
    ]
    assert table.attrs == {"before": "2025-10-31 pm", "after": "2025-12-30 am"}
    with pytest.raises(geo.UnknownStateError):
        ice.compare_totals(before, after, {"x": ["TEXASS"]})


def test_an_agreement_signed_after_publication_is_an_error(tmp_path):
    late = GOOD_ROW[:5] + [date(2026, 6, 1)] + GOOD_ROW[6:]
    with pytest.raises(ice.SheetFormatError) as err:
        ice.load_sheet(write_rows(tmp_path, [HEADER, GOOD_ROW, late]))
    for words in (
        "participatingAgencies02162026am.xlsx",
        "row 3",
        "signed 2026-06-01",
        "sheet_names.csv",
        "signed_dates.csv",
    ):
        assert words in str(err.value)


def test_a_misspelt_type_is_corrected_by_its_printed_value_for_any_agency(tmp_path):
    rows = [
        HEADER,
        GOOD_ROW,
        [
            "IOWA",
            "Any Town Police Department",
            "Muncipality",
            "Polk County",
            "Task Force Model",
            date(2025, 5, 1),
            "link",
            None,
        ],
    ]
    df = ice.load_sheet(write_rows(tmp_path, rows))
    assert df["agency_type"].tolist() == ["County", "Municipality"]
    assert df["county_match"].tolist() == ["exact", "exact"]  # every local agency is placed in its county
    assert df["county_agency"].tolist() == [True, False]


def test_a_sheet_on_a_later_worksheet_is_found_and_reported(tmp_path):
    path = write_worksheets(tmp_path, {"Notes": [["Read me first"]], "Agencies": [HEADER, GOOD_ROW]})
    with pytest.warns(UserWarning, match="worksheet 'Agencies', which is read"):
        df = ice.load_sheet(path)
    assert df.attrs["worksheet"] == "Agencies" and df.attrs["worksheets"] == ["Notes", "Agencies"]
    assert df["county_name"].tolist() == ["Cass County"]


# ---------------------------------------------------------------- parsed-sheet cache


def test_the_cache_is_invisible(tmp_path, monkeypatch):
    """Parsed (cache off), cold (cache written) and warm (cache read) loads give the same table and dtypes."""
    path = data.fetch(ARTICLE_SHEET)
    monkeypatch.setenv(ice.CACHE_ENV, "off")
    parsed = ice.load_sheet(path)
    monkeypatch.setenv(ice.CACHE_ENV, str(tmp_path / "cache"))
    cold = ice.load_sheet(path)
    assert len(list((tmp_path / "cache").glob(f"*{ice.CACHE_SUFFIX}"))) == 1
    monkeypatch.setattr(ice.sheets, "read_raw", lambda *a, **k: pytest.fail("a warm load must not parse"))
    warm = ice.load_sheet(path)
    for df in (cold, warm):
        pd.testing.assert_frame_equal(df, parsed, check_exact=True)
        assert df.attrs == parsed.attrs


def test_the_cache_is_keyed_by_content_and_parses_each_content_once(tmp_path, monkeypatch, registry):
    monkeypatch.setenv(ice.CACHE_ENV, str(tmp_path / "cache"))
    same = ["participatingAgencies10312025pm.xlsx", "participatingAgencies10292025pmB.xlsx"]
    shas = {data.resolve(n, registry).sha256 for n in same}
    calls = []
    real = ice.sheets.read_raw
    monkeypatch.setattr(ice.sheets, "read_raw", lambda *a, **k: calls.append(a) or real(*a, **k))
    ice.load_sheets(same + same)
    assert len(calls) == len(shas)
    key = ice.cache_key()
    assert sorted(p.name for p in (tmp_path / "cache").glob(f"*{ice.CACHE_SUFFIX}")) == sorted(
        f"{s}-{key}{ice.CACHE_SUFFIX}" for s in shas
    )
    assert not list((tmp_path / "cache").glob(".*tmp")), "writes are atomic: no temporary file is left"


def test_the_cache_is_invalidated_when_bytes_loader_or_corrections_change(tmp_path, monkeypatch):
    monkeypatch.setenv(ice.CACHE_ENV, str(tmp_path / "cache"))
    path = write_rows(tmp_path, [HEADER, GOOD_ROW])
    first = ice.load_sheet(path)
    calls = []
    real = ice.sheets.read_raw
    monkeypatch.setattr(ice.sheets, "read_raw", lambda *a, **k: calls.append(a) or real(*a, **k))
    ice.load_sheet(path)
    assert calls == []  # unchanged: read from the cache
    # new bytes under the same name: a new sha256, parsed again, and the new rows are seen
    write_rows(
        tmp_path,
        [
            HEADER,
            GOOD_ROW,
            [
                "IOWA",
                "Polk County Sheriff's Office",
                "County",
                "Polk County",
                "Jail Enforcement Model",
                date(2025, 5, 1),
                "link",
                None,
            ],
        ],
    )
    assert len(ice.load_sheet(path)) == len(first) + 1 and len(calls) == 1
    # a new loader version: a new key
    key = ice.cache_key()
    monkeypatch.setattr(ice, "LOADER_VERSION", ice.LOADER_VERSION + 1)
    assert ice.cache_key() != key
    ice.load_sheet(path)
    assert len(calls) == 2
    # a changed correction file: a new key
    corrections = tmp_path / "corrections"
    corrections.mkdir()
    for f in ice.paths.CORRECTIONS.glob("*.csv"):
        (corrections / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(ice.paths, "CORRECTIONS", corrections)
    key = ice.cache_key()
    with open(corrections / "signed_dates.csv", "a") as fh:
        fh.write('13/13/2025,2025-01-13,"test row"\n')
    assert ice.cache_key() != key
    ice.load_sheet(path)
    assert len(calls) == 3
    assert len(list((tmp_path / "cache").glob(f"*{ice.CACHE_SUFFIX}"))) == 4  # two contents, tables under three keys
    assert ice.prune_cache() == 3 and len(list((tmp_path / "cache").glob(f"*{ice.CACHE_SUFFIX}"))) == 1


def _other_schema(target):
    """A well-formed Arrow file whose columns are not the loader's (e.g. written by an older loader)."""
    table = pa.table({"state": ["IOWA"]}).replace_schema_metadata({b"ice287g": b"{}"})
    with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


DAMAGED_CACHE = [
    ("half-written", lambda t: t.write_bytes(t.read_bytes()[:100])),  # a killed process
    ("empty", lambda t: t.write_bytes(b"")),
    ("foreign-bytes", lambda t: t.write_bytes(b"not an arrow file\n" * 50)),
    ("no-metadata", lambda t: t.write_bytes(t.read_bytes().replace(b"ice287g", b"other00"))),
    ("other-columns", _other_schema),
]


@pytest.mark.parametrize("damage", [d[1] for d in DAMAGED_CACHE], ids=[d[0] for d in DAMAGED_CACHE])
def test_a_damaged_cache_file_is_parsed_again(tmp_path, monkeypatch, damage):
    monkeypatch.setenv(ice.CACHE_ENV, str(tmp_path / "cache"))
    path = write_rows(tmp_path, [HEADER, GOOD_ROW])
    good = ice.load_sheet(path)
    target = ice.cache_path(data.file_sha256(path))
    damage(target)
    assert ice._cache_read(target) is None
    pd.testing.assert_frame_equal(ice.load_sheet(path), good)
    assert ice._cache_read(target) is not None, "the parsed table is cached again"


def test_prune_removes_tables_of_other_keys_and_the_earlier_parquet_files(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(ice.CACHE_ENV, str(cache))
    ice.load_sheet(write_rows(tmp_path, [HEADER, GOOD_ROW]))
    kept = sorted(p.name for p in cache.iterdir())
    for name in (f"{'a' * 64}-{'0' * 16}.parquet", f"{'a' * 64}-{'0' * 16}{ice.CACHE_SUFFIX}"):
        (cache / name).write_bytes(b"stale")
    (cache / "notes.txt").write_text("not a cached table")
    assert ice.prune_cache() == 2
    assert sorted(p.name for p in cache.iterdir()) == sorted(kept + ["notes.txt"])


# ---------------------------------------------------------------- agency identity

SAME_AGENCY = [
    ("WISCONSIN", "Waukesha County Sheriff's Department", "Waukesha County Sheriff's Office"),
    ("TEXAS", "Walker County Sheriff’s Department", "Walker County Sheriff's Office"),
    ("MISSOURI", "Pettis County Sheriff's Department", "  pettis county sheriffs office "),
    ("FLORIDA", "Panama City Police Dept.", "Panama City Police Department"),
    ("FLORIDA", "Kenneth City PD", "Kenneth City Police Department"),
    ("FLORIDA", "Florida Fish & Wildlife Conservation Commission", "Florida Fish and Wildlife Conservation Commission"),
    ("FLORIDA", "St. Johns County Sheriff's Office", "Saint Johns County Sheriff's Office"),
    ("FLORIDA", "The Sheriff's Office of X County", "Sheriff's Office of X County"),
    ("IDAHO", "Idaho State Police", "Idaho State Police Department"),
    ("TEXAS", "Galveston County Constable's Office Pct.1", "Galveston County Constable Precinct 1"),
    ("TEXAS", "Lampass County Sheriff's Office", "Lampasas County Sheriff's Office"),  # a keyed correction
    ("ALASKA", "Department of Corrections", "Alaska Department of Corrections"),  # a keyed correction
]
DIFFERENT_AGENCIES = [
    ("TEXAS", "Walker County Sheriff's Office", "Walker Police Department"),
    ("TEXAS", "Galveston County Constable's Office Pct.1", "Galveston County Constable Precinct 2"),
    ("TEXAS", "Harris County Constable Precinct 4", "Harris County Constable Precinct 5"),
    ("FLORIDA", "Melbourne Police Department", "West Melbourne Police Department"),
    ("FLORIDA", "Palm Beach County Sheriff's Office", "Palm Beach Police Department"),
    (
        "FLORIDA",
        "Florida Department of Financial Services",
        "Florida Department of Financial Services, Criminal Investigation Division",
    ),
    ("MINNESOTA", "Cass County Sheriff's Office", "Cass County Attorney's Office"),
    ("ALABAMA", "Department of Corrections", "Alaska Department of Corrections"),  # corrections are per state
]


@pytest.mark.parametrize("state,a,b", SAME_AGENCY)
def test_agency_name_variants_are_one_agency(state, a, b):
    assert ice.agency_key(state, a) == ice.agency_key(state, b)


@pytest.mark.parametrize("state,a,b", DIFFERENT_AGENCIES)
def test_different_agencies_stay_apart(state, a, b):
    assert ice.agency_key(state, a) != ice.agency_key(state, b)


def test_agencies_are_counted_once_whatever_the_name_variant():
    df = pd.DataFrame(
        {
            "state": ["WISCONSIN", "WISCONSIN", "TEXAS", "TEXAS", "TEXAS"],
            "agency": [
                "Waukesha County Sheriff's Department",
                "Waukesha County Sheriff's Office",
                "Walker County Sheriff’s Department",
                "Walker County Sheriff's Office",
                "Walker Police Department",
            ],
            "county_fips": ["55133", "55133", "48471", "48471", None],
        }
    )
    units = ice.count_units(df).set_index("state")["agencies"].to_dict()
    assert units == {"TEXAS": 2, "WISCONSIN": 1}


def test_every_agency_name_correction_names_printed_and_canonical_names_of_real_sheets(every_sheet):
    table = pd.read_csv(ice.AGENCY_NAME_CORRECTIONS, dtype=str, keep_default_na=False)
    printed = set(zip(every_sheet["state"], every_sheet["agency"]))
    for row in table.itertuples():
        assert (row.state, row.printed) in printed, row.printed
        assert (row.state, row.agency) in printed, row.agency  # the canonical name is one ICE prints too
        assert row.reason.strip()


def test_agency_keys_on_real_sheets_merge_only_name_variants(every_sheet):
    """On any one sheet, two rows with the same agency key and support type are rare and listed here."""
    participating = every_sheet[every_sheet["list"] == "participating"]
    repeated = participating[
        participating.duplicated(["source_file", "state", "agency_key", "support_type"], keep=False)
    ]
    assert set(repeated["agency"]) <= {  # ICE listing one agreement twice (agency_names.csv gives the reasons)
        "Fort Walton Beach Police Department",
        "St. Cloud Police Department",
        "City of St. Cloud Police Department",
        "Zephyrhills Police Department",
        "City of Zephyrhills Police Department",
    }


# ---------------------------------------------------------------- counties of every agency type (issue 12 part 1)


def _row(state, agency, agency_type, county, support="Task Force Model", signed=date(2025, 5, 1)):
    return [state, agency, agency_type, county, support, signed, "link", None]


def test_every_local_agency_is_placed_in_its_county_by_the_same_rules(tmp_path):
    rows = [
        HEADER,
        _row("MINNESOTA", "Cass County Sheriff's Office", "County", "Cass County"),
        _row("MINNESOTA", "International Falls Police Department", "Municipality", "Koochiching County"),
        _row("MINNESOTA", "Minnesota State Patrol", "State Agency", "Ramsey County"),
        _row("TEXAS", "New Berlin Marshal's Office", "Municipality", "Guadalupe Conty"),
        _row("TEXAS", "Marlin Police Department", "Municipality", "Fall County"),
        _row("TEXAS", "Nixon Police Department", "Municipality", None),
    ]
    df = ice.load_sheet(write_rows(tmp_path, rows)).set_index("agency")
    assert df.loc["International Falls Police Department", ["county_fips", "county_match"]].tolist() == [
        "27071",
        "exact",
    ]
    assert df.loc["New Berlin Marshal's Office", ["county_fips", "county_match"]].tolist() == ["48187", "correction"]
    assert df.loc["Marlin Police Department", "county_name"] == "Falls County"
    # a state agency serves the whole state: the county it prints is kept as printed, not used
    assert df.loc["Minnesota State Patrol", "county_printed"] == "Ramsey County"
    assert pd.isna(df.loc["Minnesota State Patrol", "county_fips"])
    assert df.loc["Minnesota State Patrol", "county_match"] == "state agency"
    assert df.loc["Nixon Police Department", "county_match"] == "no county printed"
    assert df["county_agency"].to_dict() == {
        "Cass County Sheriff's Office": True,
        "International Falls Police Department": False,
        "Minnesota State Patrol": False,
        "New Berlin Marshal's Office": False,
        "Marlin Police Department": False,
        "Nixon Police Department": False,
    }
    units = ice.count_units(df.reset_index()).set_index("state")
    assert units.loc["MINNESOTA", ["counties", "counties_any"]].tolist() == [1, 2]
    assert units.loc["TEXAS", ["counties", "counties_any"]].tolist() == [0, 2]
    assert len(ice.unplaced(df[df["state"] == "TEXAS"])) == 1


UNMATCHED_COUNTIES = [
    # (id, row, words the error must hold) - issue 13 item 3 and issue 12 part 1
    (
        "county-agency-Itaska",
        _row("MINNESOTA", "Itasca County Sheriff's Office", "County", "Itaska County"),
        [
            "row 3",
            "county 'Itaska County' matches no county of Minnesota",
            "Itasca County Sheriff's Office",
            "data/corrections/county_names.csv",
            "empty county_fips",
        ],
    ),
    (
        "municipal-misspelt",
        _row("TEXAS", "Seguin Police Department", "Municipality", "Guadalupe Cnty"),
        [
            "row 3",
            "'Guadalupe Cnty' matches no county of Texas",
            "TYPE Municipality",
            "data/corrections/county_names.csv",
        ],
    ),
    (
        "county-agency-name-only",
        _row("GEORGIA", "Nowhere County Sheriff's Office", "County", None),
        ["row 3", "the agency's name, \"Nowhere County Sheriff's Office\"", "data/corrections/county_names.csv"],
    ),
]


@pytest.mark.parametrize(("case_id", "row", "words"), UNMATCHED_COUNTIES, ids=[c[0] for c in UNMATCHED_COUNTIES])
def test_a_county_that_matches_nothing_stops_the_load_naming_row_and_corrections(case_id, row, words, tmp_path):
    with pytest.raises(ice.SheetFormatError) as err:
        ice.load_sheet(write_rows(tmp_path, [HEADER, GOOD_ROW, row]))
    for w in ["participatingAgencies02162026am.xlsx", *words]:
        assert w in str(err.value), f"{w!r} not in {err.value}"


CONSTABLES = [
    # (state, agency, ICE's TYPE, county printed, counted as the county's own agency)
    ("TEXAS", "Kinney County Constable's Office", "Municipality", "Kinney County", True),
    ("TEXAS", "Galveston County Constable's Office Pct.1", "County", "Galveston County", True),
    ("TENNESSEE", "Bradley County Constable District 1", "Municipality", "Bradley County", True),
    ("TEXAS", "Harris County Pct. 4 Constable", "Municipality", "Harris County", True),
    ("TENNESSEE", "Tennessee State Constable 4th District Polk County", "Municipality", "Polk County", False),
    ("TEXAS", "Nowhere County Constable Precinct 1", "County", "Harris County", False),  # no such county in Texas
    ("PENNSYLVANIA", "Office of Constable Monroeville 6th Ward", "County", "Alleghany County", False),
    ("PENNSYLVANIA", "Pennsylvania State Constables Office Cambria County", "County", "Cambria County", False),
    ("TEXAS", "Smiley City Marshal's Office", "Municipality", "Gonzales County", False),
    ("TEXAS", "Kinney County Sheriff's Office", "County", "Kinney County", True),
]


@pytest.mark.parametrize(
    ("state", "agency", "ice_type", "county", "expected"), CONSTABLES, ids=[c[1] for c in CONSTABLES]
)
def test_constables_go_by_their_name_not_by_ices_type(state, agency, ice_type, county, expected, tmp_path):
    df = ice.load_sheet(write_rows(tmp_path, [HEADER, _row(state, agency, ice_type, county)]))
    assert df["county_agency"].tolist() == [expected]
    assert df["county_fips"].notna().all()
    assert ice.is_county_agency(state, agency, ice_type) is expected


def test_a_type_other_sheets_contradict_is_corrected_for_that_agency(tmp_path):
    row = _row("WEST VIRGINIA", "West Virginia State Police Department", "Municipality", "Washington County")
    df = ice.load_sheet(write_rows(tmp_path, [HEADER, row]))
    assert df[["agency_type", "county_match", "county_agency"]].iloc[0].tolist() == ["State", "state agency", False]


def test_a_place_without_census_counties_keeps_its_rows_unplaced(tmp_path):
    df = ice.load_sheet(
        write_rows(tmp_path, [HEADER, _row("GUAM", "Guam Police Department", "Municipality", "Hagatna")])
    )
    assert df[["county_fips", "county_match"]].iloc[0].isna().tolist() == [True, False]
    assert df["county_match"].iloc[0] == "no Census counties"


def test_placement_holds_on_every_registered_sheet(every_sheet):
    placed = every_sheet["county_fips"].notna()
    assert (placed == every_sheet["county_match"].isin(geo.MATCHED_RULES)).all()
    assert not (every_sheet["county_match"] == "unmatched").any()
    state_rows = every_sheet["agency_type"] == "State"
    assert (every_sheet.loc[state_rows, "county_match"] == "state agency").all()
    assert not every_sheet.loc[state_rows, "county_agency"].any()
    assert every_sheet["county_fips"].str[:2].eq(every_sheet["state_fips"]).where(placed, True).all(), (
        "a county is always one of the row's state"
    )
    units = ice.count_units(every_sheet, by=["source_file", "state"])
    assert (units["counties"] <= units["counties_any"]).all()


def test_the_article_sheet_by_both_units(article_sheet):
    units = ice.count_units(article_sheet).set_index("state")
    assert units.loc["MINNESOTA", ["counties", "counties_any"]].tolist() == [8, 8]
    assert units.loc["WISCONSIN", ["counties", "counties_any"]].tolist() == [13, 14]  # Palmyra PD, Jefferson County
    assert units.loc["IOWA", ["counties", "counties_any"]].tolist() == [0, 0]  # one state agency only
    every = ice.counties_with_agreements(article_sheet, "WISCONSIN", unit="counties_any")
    other = every[~every["county_agency_signed"]]
    assert other[["county_name", "agencies"]].values.tolist() == [["Jefferson County", "Palmyra Police Department"]]
    with pytest.raises(ValueError, match="unit must be one of"):
        ice.counties_with_agreements(article_sheet, "WISCONSIN", unit="agencies")


def test_compare_totals_adds_the_chosen_state():
    table = ice.compare_totals(
        _totals_sheet("a", ["TEXAS", "IOWA"]), _totals_sheet("b", ["TEXAS", "TEXAS"]), {"Iowa": ["IOWA"]}, state="TEXAS"
    )
    assert table["area"].tolist() == ["Nationwide", "Texas", "Iowa"]
    assert table["change"].tolist() == [0, 1, -1]
    clash = ice.compare_totals(
        _totals_sheet("a", ["TEXAS"]), _totals_sheet("b", ["TEXAS"]), {"Texas": ["TEXAS"]}, state="TEXAS"
    )
    assert clash["area"].tolist() == ["Nationwide", "Texas (the chosen state)", "Texas"]


def test_a_row_printed_under_another_state_moves_only_by_its_keyed_correction(tmp_path):
    crow_wing = [
        "MASSACHUSETTS",
        "Crow Wing County Sheriff's Office",
        "County",
        None,
        "Warrant Service Officer",
        date(2025, 3, 26),
        "link",
        None,
    ]
    barnstable = [
        "MASSACHUSETTS",
        "Barnstable County Sheriff's Office",
        "County",
        "Barnstable County",
        "Jail Enforcement Model",
        date(2025, 3, 26),
        "link",
        None,
    ]
    df = ice.load_sheet(write_rows(tmp_path, [HEADER, crow_wing, barnstable])).set_index("agency")
    moved = df.loc["Crow Wing County Sheriff's Office"]
    assert (moved["state"], moved["county_name"], moved["county_agency"]) == ("MINNESOTA", "Crow Wing County", True)
    assert moved["agency_key"] == ice.agency_key("MINNESOTA", "Crow Wing County Sheriff's Office")
    assert df.loc["Barnstable County Sheriff's Office", "state"] == "MASSACHUSETTS", "only the keyed agency moves"
