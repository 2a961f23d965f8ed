"""ICE sheet loader, as-of selection, counting units and the article's counts."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from helpers import claims, data, geo, ice, sheets

ARTICLE_DATE = "2025-11-01"
ARTICLE_SHEET = "ice-287g/participatingAgencies10312025pm.xlsx"
HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM"]
GOOD_ROW = ["MINNESOTA", "Cass County Sheriff's Office", "County", "Cass County ", "Task Force Model", date(2025, 2, 28), "link", None]


def _all_sheets() -> list[str]:
    # The 2025 archive is registered (and verified by test_data); reading it is issue #10's loader work.
    return sorted(p for p in data.load_registry() if p.startswith(ice.ICE_FOLDER) and not p.startswith(ice.ARCHIVE_FOLDER))


def _raw_nonblank_state_rows(path: Path) -> int:
    """Independent count: non-blank STATE cells below the header, read straight with calamine."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    header = next(i for i, r in enumerate(rows) if "STATE" in [str(c).strip().upper() for c in r])
    col = [str(c).strip().upper() for c in rows[header]].index("STATE")
    return sum(1 for r in rows[header + 1 :] if str(r[col]).strip() not in ("", "None"))


@pytest.fixture(scope="module")
def article_sheet() -> pd.DataFrame:
    return ice.load_sheet(data.fetch(ARTICLE_SHEET))


@pytest.mark.parametrize("path", _all_sheets())
def test_every_sheet_loads_without_losing_rows(path):
    local = data.fetch(path)
    df = ice.load_sheet(local)
    assert len(df) == _raw_nonblank_state_rows(local)
    assert list(df.columns) == list(ice.SCHEMA)
    if df["list"].iloc[0] == "participating":
        assert set(df["support_type"]) <= set(ice.SUPPORT_TYPES)
    else:
        assert set(df["support_type"].dropna()) <= set(ice.SUPPORT_TYPES)
    assert df["state_fips"].notna().all()
    assert df["published"].nunique() == 1
    if df["list"].iloc[0] == "participating" and df["published"].iloc[0] >= pd.Timestamp("2025-03-01"):
        mn = df[df["state"] == "MINNESOTA"]
        assert mn["county_fips"].notna().all(), "every Minnesota agreement is matched to a county"
        assert df["signed"].notna().all()


def test_article_date_selects_the_last_october_sheet():
    assert ice.select_sheet(ARTICLE_DATE) == ARTICLE_SHEET
    assert ice.select_sheet("2025-10-31") == ARTICLE_SHEET  # pm is the later of the two 10-31 sheets
    assert ice.select_sheet("2025-11-03") == "ice-287g/participatingAgencies11032025am.xlsx"
    assert ice.select_sheet(date(2025, 11, 4)) == "ice-287g/participatingAgencies11042025pm.xlsx"
    assert ice.select_sheet("2025-11-01", kind="pending") == "ice-287g/pendingAgencies10312025pm.xlsx"
    with pytest.raises(LookupError, match="first one is ParticipatingEntities-20250131031421.xlsx"):
        ice.select_sheet("2025-01-01")


def test_sheet_parameter_overrides_as_of(tmp_path):
    assert ice.resolve_sheet("participatingAgencies11042025pm.xlsx", ARTICLE_DATE).name == "participatingAgencies11042025pm.xlsx"
    with pytest.raises(data.UnknownRawFileError, match="Nearest registered names"):
        ice.resolve_sheet("participatingAgencies11042025.xlsx", ARTICLE_DATE)


@pytest.mark.parametrize(
    "name,published,label",
    [
        ("participatingAgencies10312025pm.xlsx", datetime(2025, 10, 31, 16), "2025-10-31 pm"),
        ("participatingAgencies10292025pmB.xlsx", datetime(2025, 10, 29, 17), "2025-10-29 pmB"),
        ("participatingAgencies10212025mid.xlsx", datetime(2025, 10, 21, 12), "2025-10-21 mid"),
        ("pendingAgencies_20250222.xlsx", datetime(2025, 2, 22), "2025-02-22"),
        ("ParticipatingEntities-20250131031421.xlsx", datetime(2025, 1, 31, 3, 14, 21), "2025-01-31 03:14"),
    ],
)
def test_publication_time_from_file_name(name, published, label):
    parsed = ice.parse_sheet_name(name)
    assert (parsed.published, parsed.label) == (published, label)


def test_unparseable_file_name_is_an_error():
    with pytest.raises(ice.SheetFormatError, match="participatingAgencies10312025pm.xlsx"):
        ice.parse_sheet_name("participatingAgencies (1).xlsx")


def test_same_day_sheets_sort_am_mid_pm():
    order = [ice.parse_sheet_name(f"participatingAgencies10222025{s}.xlsx").published for s in ("am", "mid", "pm", "pmB")]
    assert order == sorted(order)


# ---------------------------------------------------------------- the article's counts


def test_minnesota_counties(article_sheet):
    signed = ice.counties_with_agreements(article_sheet, "MINNESOTA")
    assert len(signed) == 8
    assert len(geo.state_counties("MINNESOTA")) == 87
    assert list(signed["county_name"].str.removesuffix(" County")) == [
        "Cass", "Crow Wing", "Freeborn", "Itasca", "Jackson", "Kandiyohi", "Mille Lacs", "Sherburne"
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
    claims.record("mn_counties_total", len(geo.state_counties("MINNESOTA")), params=params, store=store, claims=registry)
    claims.record("mn_counties_named", list(signed["county_name"]), params=params, store=store, claims=registry)
    for label, states in {"a": ["FLORIDA", "TEXAS"], "b": ["WISCONSIN", "IOWA", "NORTH DAKOTA", "SOUTH DAKOTA"]}.items():
        total = int(ice.group_totals(article_sheet, {label: states})["agreements"].iloc[0])
        recorded = claims.record_matching("02_regional_comparison", total, store=store, claims=registry,
                                          params={"as_of": ARTICLE_DATE, "sheet": None, "states": states})
        assert len(recorded) == 1
    report = claims.build_report(registry, claims.load_recorded(store)).set_index("claim_id")
    for cid in ("mn_counties_signed", "mn_counties_total", "mn_counties_named", "fl_tx_agreements", "upper_midwest_agreements"):
        assert report.loc[cid, "verdict"] == "reproduced", cid


def test_other_groups_record_nothing(tmp_path):
    recorded = claims.record_matching("02_regional_comparison", 5, store=tmp_path / "r.csv",
                                      params={"as_of": ARTICLE_DATE, "sheet": None, "states": ["OHIO"]})
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
    assert units.loc["MINNESOTA"].to_dict() == {"agreements": 3, "agencies": 2, "counties": 1}
    assert ice.count_units(df, by=None).iloc[0].to_dict() == {"agreements": 4, "agencies": 3, "counties": 2}


def test_an_empty_group_counts_zero(article_sheet):
    totals = ice.group_totals(article_sheet[article_sheet["state"] == "IOWA"], {"none": ["MINNESOTA"]})
    assert totals.iloc[0][["agreements", "agencies", "counties"]].tolist() == [0, 0, 0]


def test_state_counts_cover_every_state_with_zeros(article_sheet):
    table = ice.state_counts(article_sheet)
    assert len(table) == 56
    assert table["agreements"].sum() == len(article_sheet)
    assert table.set_index("state").loc["IOWA", "agreements"] == 1
    assert (table.set_index("state").loc["CALIFORNIA", ["agreements", "agencies", "counties"]] == 0).all()


def test_moa_links_come_from_cell_hyperlinks(article_sheet):
    links = article_sheet["moa_url"].dropna()
    assert len(links) > 0.8 * len(article_sheet)
    assert links.str.match(r"https?://").all()
    assert not links.str.contains("safelinks|chrome-extension").any()


def test_clean_link_unwraps_pasted_wrappers():
    assert sheets.clean_link("https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib%2Fa.pdf&data=05") == "https://www.ice.gov/doclib/a.pdf"
    assert sheets.clean_link("chrome-extension://efaidnbmnnnibpcajpcglclefindmkaj/https:/www.ice.gov/doclib/b.pdf") == "https://www.ice.gov/doclib/b.pdf"
    assert sheets.clean_link("https://www.ice.gov/doclib/c.pdf") == "https://www.ice.gov/doclib/c.pdf"
    assert sheets.clean_link(None) is None


# ---------------------------------------------------------------- bad sheets


def _write(tmp_path: Path, rows: list[list], name: str = "participatingAgencies12012025am.xlsx") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    path = tmp_path / name
    wb.save(path)
    return path


def test_missing_column_names_file_and_column(tmp_path):
    path = _write(tmp_path, [[h for h in HEADER if h != "SUPPORT TYPE"], GOOD_ROW[:4] + GOOD_ROW[5:]])
    with pytest.raises(ice.SheetFormatError, match=r"participatingAgencies12012025am.xlsx.*missing column\(s\) \['SUPPORT TYPE'\]"):
        ice.load_sheet(path)


def test_renamed_header_is_reported(tmp_path):
    renamed = ["STATE", "LAW ENFORCEMENT AGENCY", "AGENCY TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM"]
    path = _write(tmp_path, [renamed, GOOD_ROW])
    with pytest.raises(ice.SheetFormatError) as err:
        ice.load_sheet(path)
    assert "missing column(s) ['TYPE']" in str(err.value) and "unknown column(s) ['AGENCY TYPE']" in str(err.value)


def test_blank_rows_and_header_rows_in_odd_places(tmp_path):
    rows = [
        ["287(g) Participating Agencies"],
        [],
        HEADER,
        GOOD_ROW,
        [],
        HEADER,  # a repeated header row is skipped
        ["IOWA", "Polk County Sheriff's Office", "County", "Polk County", "Jail Enforcement Model ", date(2025, 5, 1), "link", None],
        [None] * 8,
    ]
    df = ice.load_sheet(_write(tmp_path, rows))
    assert list(df["state"]) == ["MINNESOTA", "IOWA"]
    assert list(df["row"]) == [4, 7]  # spreadsheet rows, as Excel shows them
    assert list(df["county_name"]) == ["Cass County", "Polk County"]
    assert list(df["support_type"]) == ["Task Force Model", "Jail Enforcement Model"]


def test_unknown_support_type_names_the_row(tmp_path):
    bad = GOOD_ROW[:4] + ["Border Patrol Model"] + GOOD_ROW[5:]
    with pytest.raises(ice.SheetFormatError, match=r"participatingAgencies12012025am.xlsx, row 3: unknown support type 'Border Patrol Model'"):
        ice.load_sheet(_write(tmp_path, [HEADER, GOOD_ROW, bad]))


def test_unknown_state_names_the_row(tmp_path):
    bad = ["ATLANTIS"] + GOOD_ROW[1:]
    with pytest.raises(ice.SheetFormatError, match=r"row 2: unknown state or territory 'ATLANTIS'"):
        ice.load_sheet(_write(tmp_path, [HEADER, bad]))


def test_empty_workbook_is_an_error(tmp_path):
    with pytest.raises(ice.SheetFormatError, match="no header row"):
        ice.load_sheet(_write(tmp_path, []))


def test_header_only_sheet_gives_an_empty_table(tmp_path):
    df = ice.load_sheet(_write(tmp_path, [HEADER]))
    assert df.empty and list(df.columns) == list(ice.SCHEMA)


def test_data_in_an_unnamed_column_is_an_error(tmp_path):
    with pytest.raises(ice.SheetFormatError, match=r"column\(s\) \['I'\] hold data but have no header"):
        ice.load_sheet(_write(tmp_path, [HEADER, GOOD_ROW + ["stray note"]]))


def test_row_without_state_is_an_error(tmp_path):
    with pytest.raises(ice.SheetFormatError, match="row 3: the row has data but no STATE"):
        ice.load_sheet(_write(tmp_path, [HEADER, GOOD_ROW, [None] + GOOD_ROW[1:]]))


def test_a_newer_sheet_on_disk_can_be_analysed(tmp_path):
    path = _write(tmp_path, [HEADER, GOOD_ROW])
    with pytest.warns(UserWarning, match="not in the raw-data registry"):
        resolved = ice.resolve_sheet(str(path), ARTICLE_DATE)
    assert ice.load_sheet(resolved)["county_fips"].tolist() == ["27021"]


def test_a_relative_sheet_path_is_found_from_the_project_root(tmp_path, monkeypatch):
    """Notebooks run inside notebooks/; a path typed at the project root must still be found."""
    root, elsewhere = tmp_path / "root", tmp_path / "root" / "notebooks"
    elsewhere.mkdir(parents=True)
    (root / "output").mkdir()
    path = _write(root / "output", [HEADER, GOOD_ROW])
    monkeypatch.setattr(ice.paths, "ROOT", root)
    monkeypatch.chdir(elsewhere)
    with pytest.warns(UserWarning, match="not in the raw-data registry"):
        assert ice.resolve_sheet(str(path.relative_to(root)), ARTICLE_DATE) == root / path.relative_to(root)
    with pytest.raises(data.UnknownRawFileError, match="not in the raw-data registry"):
        ice.resolve_sheet("output/participatingAgencies01012026am.xlsx", ARTICLE_DATE)


def test_compare_totals_counts_both_sheets_with_the_same_helpers():
    def sheet(label, states):
        return pd.DataFrame({"state": states, "agency": [f"A{i}" for i in range(len(states))],
                             "county_fips": [None] * len(states), "published_label": label})

    before = sheet("2025-10-31 pm", ["TEXAS", "TEXAS", "IOWA", "OHIO"])
    after = sheet("2025-12-30 am", ["TEXAS", "TEXAS", "TEXAS", "OHIO", "OHIO"])
    table = ice.compare_totals(before, after, {"Texas": ["TEXAS"], "Iowa": ["iowa"]})
    assert table.to_dict("records") == [
        {"area": "Nationwide", "before": 4, "after": 5, "change": 1},
        {"area": "Texas", "before": 2, "after": 3, "change": 1},
        {"area": "Iowa", "before": 1, "after": 0, "change": -1},
    ]
    assert table.attrs == {"before": "2025-10-31 pm", "after": "2025-12-30 am"}
    with pytest.raises(geo.UnknownStateError):
        ice.compare_totals(before, after, {"x": ["TEXASS"]})
