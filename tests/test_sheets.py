"""helpers.sheets: file names, the catalogue (publications and content versions), as-of choice, workbook reading."""

from __future__ import annotations

import hashlib
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from helpers import data, ice, sheets
from workbooks import GOOD_ROW, HEADER, write_rows

ARTICLE_DATE = "2025-11-01"
ARTICLE_SHEET = "ice-287g/participatingAgencies10312025pm.xlsx"


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return sheets.catalogue("all")


# ---------------------------------------------------------------- file-name rules, one case per variant

NAMES = [
    # (file name, published, label, published_kind)
    ("participatingAgencies10312025pm.xlsx", datetime(2025, 10, 31, 16), "2025-10-31 pm", "ice name"),
    ("participatingAgencies10292025pmB.xlsx", datetime(2025, 10, 29, 17), "2025-10-29 pmB", "ice name"),
    ("participatingAgencies10212025mid.xlsx", datetime(2025, 10, 21, 12), "2025-10-21 mid", "ice name"),
    ("participatingAgencies05122025amB.xlsx", datetime(2025, 5, 12, 10), "2025-05-12 amB", "ice name"),
    ("participatingAgencies07242025pm_b.xlsx", datetime(2025, 7, 24, 17), "2025-07-24 pm_b", "ice name"),
    ("participatingAgencies12042025pm2.xlsx", datetime(2025, 12, 4, 17), "2025-12-04 pm2", "ice name"),
    ("participatingAgencies11122025.xlsx", datetime(2025, 11, 12), "2025-11-12", "ice name"),
    ("participatingAgencies06112025pm copy.xlsx", datetime(2025, 6, 11, 16), "2025-06-11 pm (copy)", "ice name"),
    ("participatingAgencies10312025pm (1).xlsx", datetime(2025, 10, 31, 16), "2025-10-31 pm (copy)", "ice name"),
    (
        "pendingAgencies_20250222.xlsx",
        datetime(2025, 2, 22),
        "2025-02-22 capture (upper bound)",
        "capture time (upper bound)",
    ),
    (
        "ParticipatingEntities-20250131031421.xlsx",
        datetime(2025, 1, 31, 3, 14, 21),
        "2025-01-31 03:14 capture (upper bound)",
        "capture time (upper bound)",
    ),
    (
        "participatingAgencies-20250317231040.xlsx",
        datetime(2025, 3, 17, 23, 10, 40),
        "2025-03-17 23:10 capture (upper bound)",
        "capture time (upper bound)",
    ),
]


@pytest.mark.parametrize("name,when,label,kind", NAMES, ids=[n[0] for n in NAMES])
def test_publication_time_from_file_name(name, when, label, kind):
    parsed = sheets.parse_sheet_name(name)
    assert (parsed.published, parsed.label, parsed.published_kind) == (when, label, kind)
    assert parsed.list == "participating" if name.lower().startswith("participating") else "pending"


def test_same_day_slots_sort_in_a_stated_order():
    slots = ["", "am", "amB", "mid", "pm", "pmB"]
    order = [sheets.parse_sheet_name(f"participatingAgencies10222025{s}.xlsx").published for s in slots]
    assert order == sorted(order) and len(set(order)) == len(order)
    same = {sheets.parse_sheet_name(f"participatingAgencies10222025{s}.xlsx").published for s in ("pmB", "pm_b", "pm2")}
    assert len(same) == 1


CORRECTED = [
    # (registered file, corrected publication, why the name cannot be read as it is)
    ("participatingAgencies090022025am.xlsx", datetime(2025, 9, 2, 9), "9 digits"),
    ("participatingAgencies08022025pm.xlsx", datetime(2025, 9, 2, 16), "signed after"),
    ("participatingAgencies01052025pm.xlsx", datetime(2026, 1, 5, 16), "signed after"),
    ("participatingAgencies01062025pm.xlsx", datetime(2026, 1, 6, 16), "signed after"),
    ("participatingAgencies01092025pm.xlsx", datetime(2026, 1, 9, 16), "signed after"),
    ("participatingAgencies04212025am.xlsx", datetime(2025, 3, 6, 9), "missing column"),
]


@pytest.mark.parametrize("file,when,problem", CORRECTED, ids=[c[0] for c in CORRECTED])
def test_wrong_names_are_corrected_only_for_their_registered_bytes(file, when, problem, registry, tmp_path):
    sha = data.resolve(file, registry).sha256
    fixed = sheets.parse_sheet_name(file, sha)
    assert (fixed.published, fixed.published_kind) == (when, "corrected")
    assert fixed.label.endswith("(name corrected)") and fixed.note
    # Without the registered bytes the correction does nothing: the name's own problem shows.
    if problem == "9 digits":
        with pytest.raises(sheets.SheetFormatError, match=rf"{file}.*9 digits"):
            sheets.parse_sheet_name(file, "0" * 64)
    else:
        path = tmp_path / file
        path.write_bytes(data.fetch(data.resolve(file, registry).path).read_bytes())
        renamed = path.rename(path.with_name(file.replace(".xlsx", " (2).xlsx")))
        with pytest.raises(sheets.SheetFormatError, match=problem):
            ice.load_sheet(renamed)


@pytest.mark.parametrize(
    "name,words",
    [
        ("participatingAgencies (1).xlsx", ["participatingAgencies (1).xlsx", "cannot read the publication time"]),
        ("ICE sheet.xlsx", ["ICE sheet.xlsx", "participatingAgencies10312025pm.xlsx"]),
        ("participatingAgencies13452025am.xlsx", ["participatingAgencies13452025am.xlsx", "not a calendar date"]),
        ("participatingAgencies02302025am.xlsx", ["participatingAgencies02302025am.xlsx", "2025-02-30"]),
        ("participatingAgencies-20251399120000.xlsx", ["not a calendar date"]),
        ("participatingAgencies1031202pm.xlsx", ["7 digits"]),
    ],
)
def test_a_name_that_cannot_be_dated_is_an_error_naming_the_file(name, words):
    with pytest.raises(sheets.SheetFormatError) as err:
        sheets.parse_sheet_name(name)
    for word in words:
        assert word in str(err.value)


# ---------------------------------------------------------------- catalogue: publications and content versions


def test_catalogue_lists_every_registered_sheet_once_per_name(published, registry):
    ice_paths = [p for p in registry if p.startswith(sheets.ICE_FOLDER)]
    assert len(published) == len({Path(p).name for p in ice_paths})
    assert published["file"].is_unique
    assert list(published.columns) == sheets.CATALOGUE_COLUMNS
    assert published["published"].is_monotonic_increasing
    assert set(published["published_kind"]) == set(sheets.PUBLISHED_KINDS)
    assert (
        (published["published_kind"] == "capture time (upper bound)")
        .eq(published["label"].str.contains("capture (upper bound)", regex=False))
        .all()
    )
    archive = [p for p in ice_paths if p.startswith(sheets.ARCHIVE_FOLDER)]
    assert len(archive) == 274 and len({registry[p].sha256 for p in archive}) == 186


def test_same_name_in_two_folders_is_one_publication_under_the_top_level_path(published):
    row = published.set_index("file").loc["participatingAgencies10312025pm.xlsx"]
    assert row["path"] == ARTICLE_SHEET


def test_same_name_with_different_bytes_is_an_error(registry):
    fake = dict(registry)
    entry = registry[ARTICLE_SHEET]
    fake["ice-287g/archive-2025/participatingAgencies10312025pm.xlsx"] = data.Entry(
        **{**entry.__dict__, "path": "ice-287g/archive-2025/participatingAgencies10312025pm.xlsx", "sha256": "1" * 64}
    )
    with pytest.raises(data.RegistryError, match="participatingAgencies10312025pm.xlsx.*different bytes"):
        sheets.catalogue(registry=fake)


def test_catalogue_is_built_once_per_registry_and_returned_as_copies(registry, monkeypatch):
    builds: list[int] = []
    original = sheets._catalogue
    monkeypatch.setattr(sheets, "_CATALOGUES", {})
    monkeypatch.setattr(sheets, "_catalogue", lambda entries: builds.append(len(entries)) or original(entries))
    first = sheets.catalogue("all", registry)
    first.loc[0, "file"] = "changed by a caller"
    first["sha256"] = "0" * 64  # a column replaced in place
    again = sheets.catalogue("all", registry)
    assert len(builds) == 1, "the same registry: built once"
    assert again.equals(original(tuple((p, e) for p, e in registry.items() if p.startswith(sheets.ICE_FOLDER))))
    assert again["file"].iloc[0] != "changed by a caller", "a caller's change does not reach the next caller"
    participating = sheets.catalogue("participating", registry)
    assert len(builds) == 1 and participating.index.equals(pd.RangeIndex(len(participating)))
    assert set(participating["list"]) == {"participating"}
    # A registry whose ICE paths or bytes differ is another catalogue, built from it.
    fewer = {p: e for p, e in registry.items() if p != ARTICLE_SHEET}
    row = sheets.catalogue("all", fewer).set_index("file").loc["participatingAgencies10312025pm.xlsx"]
    assert row["path"] == "ice-287g/archive-2025/participatingAgencies10312025pm.xlsx" and len(builds) == 2
    changed = dict(registry)
    changed[ARTICLE_SHEET] = data.Entry(**{**registry[ARTICLE_SHEET].__dict__, "sha256": "2" * 64})
    with pytest.raises(data.RegistryError, match="different bytes"):  # not the catalogue of the original bytes
        sheets.catalogue("all", changed)
    assert sheets.catalogue("all", registry)["sha256"].equals(again["sha256"]) and len(builds) == 3


def test_versions_group_publications_by_content(published):
    versions = sheets.versions("all")
    assert list(versions.columns) == sheets.VERSION_COLUMNS
    assert versions["sha256"].is_unique
    assert versions["publications"].sum() == len(published)
    assert set(versions["sha256"]) == set(published["sha256"])
    many = versions[versions["publications"] > 1].iloc[0]
    files = many["files"].split("; ")
    assert set(published.loc[published["sha256"] == many["sha256"], "file"]) == set(files)


def test_a_name_whose_content_is_the_other_list_is_listed_by_its_content(published):
    row = published.set_index("file").loc["participatingAgencies09222025pm.xlsx"]
    assert (row["list"], row["name_list"]) == ("pending", "participating")
    assert "participatingAgencies09222025pm.xlsx" not in set(sheets.catalogue("participating")["file"])
    assert "participatingAgencies09222025pm.xlsx" in set(sheets.catalogue("pending")["file"])


def test_every_sheet_name_correction_is_keyed_on_a_registered_file(registry):
    table = pd.read_csv(sheets.SHEET_NAME_CORRECTIONS, dtype=str, keep_default_na=False)
    registered = {(Path(p).name, e.sha256) for p, e in registry.items()}
    for row in table.itertuples():
        assert (row.file, row.sha256) in registered, row.file
        assert row.reason.strip(), row.file
        assert row.published or row.list, row.file


# ---------------------------------------------------------------- as-of choice


def test_article_date_selects_the_last_october_sheet():
    assert sheets.select_sheet(ARTICLE_DATE) == ARTICLE_SHEET
    assert sheets.select_sheet("2025-10-31") == ARTICLE_SHEET  # pm is the later of the two 10-31 sheets
    assert sheets.select_sheet("2025-11-03") == "ice-287g/archive-2025/participatingAgencies11032025pm.xlsx"
    assert sheets.select_sheet(date(2025, 11, 4)) == "ice-287g/participatingAgencies11042025pm.xlsx"
    assert sheets.select_sheet("2025-11-01", kind="pending") == "ice-287g/pendingAgencies10312025pm.xlsx"
    with pytest.raises(LookupError, match="first one is ParticipatingEntities-20250104041613.xlsx"):
        sheets.select_sheet("2025-01-01")


def test_as_of_selection_with_capture_times_and_corrected_names(published):
    # A capture time is an upper bound: the capture is chosen from its capture day on, never before.
    assert sheets.select_sheet("2025-03-16").endswith("participatingAgencies-20250309153626.xlsx")
    assert sheets.select_sheet("2025-03-17").endswith("participatingAgencies-20250317231040.xlsx")
    # A corrected name is chosen by its corrected time: the 2026 sheets are not 2025-01 sheets.
    assert sheets.select_sheet("2026-01-07").endswith("participatingAgencies01062025pm.xlsx")
    assert sheets.select_sheet("2025-09-02").endswith("participatingAgencies08022025pm.xlsx")
    # The pending list saved under a participating name is chosen only as a pending list.
    assert sheets.select_sheet("2025-09-22", kind="pending").endswith("participatingAgencies09222025pm.xlsx")
    assert not sheets.select_sheet("2025-09-22").endswith("participatingAgencies09222025pm.xlsx")


def test_sheet_choice_says_which_sheet_and_how_old():
    choice = sheets.choose_sheet(None, ARTICLE_DATE)
    assert (choice.file, choice.chosen_by, choice.age_days, choice.registry_path) == (
        "participatingAgencies10312025pm.xlsx",
        "as_of",
        1,
        ARTICLE_SHEET,
    )
    assert choice.sentence == (
        "participatingAgencies10312025pm.xlsx (published 2025-10-31 pm), the latest participating sheet published "
        "on or before as_of 2025-11-01; 1 day older than as_of."
    )
    assert sheets.resolve_sheet(None, ARTICLE_DATE) == choice.path  # the old interface gives the same path
    named = sheets.choose_sheet("participatingAgencies11042025pm.xlsx", ARTICLE_DATE)
    assert named.chosen_by == "sheet" and named.age_days == -3 and "3 days after as_of" in named.sentence
    capture = sheets.choose_sheet(None, "2025-01-10")
    assert "captured 2025-01-07 02:18 (published on or before then)" in capture.sentence
    # how a sentence opens with the sheet (issue 12 part 4): the publication, never the file name
    assert choice.on_sheet == "On ICE's sheet published 2025-10-31 pm, in force on 2025-11-01"
    assert named.on_sheet == "On ICE's sheet published 2025-11-04 pm"
    assert capture.on_sheet == (
        "On ICE's sheet captured 2025-01-07 02:18 (published on or before then), in force on 2025-01-10"
    )


def test_a_sheet_much_older_than_as_of_is_warned_about():
    with pytest.warns(UserWarning, match="older than as_of.*download ICE's current sheet"):
        choice = sheets.choose_sheet(None, date.today())
    assert choice.age_days > sheets.STALE_DAYS


def test_sheet_parameter_names_a_registered_file():
    assert sheets.resolve_sheet("participatingAgencies11042025pm.xlsx", ARTICLE_DATE).name == (
        "participatingAgencies11042025pm.xlsx"
    )
    with pytest.raises(
        data.UnknownRawFileError,
        match="(?i)no such file.*nearest registered names: participatingAgencies11042025pm.xlsx",
    ):
        sheets.resolve_sheet("participatingAgencies11042025", ARTICLE_DATE)


def test_a_newer_sheet_on_disk_can_be_analysed(tmp_path):
    path = write_rows(tmp_path, [HEADER, GOOD_ROW])
    with pytest.warns(UserWarning, match="not in the raw-data registry"):
        choice = sheets.choose_sheet(str(path), ARTICLE_DATE)
    assert choice.registry_path is None and choice.list == "participating"
    assert ice.load_sheet(choice.path)["county_fips"].tolist() == ["27021"]


def test_a_copy_of_a_registered_sheet_under_another_name_counts_as_registered(tmp_path, registry):
    copy = tmp_path / "participatingAgencies10312025pm (1).xlsx"
    copy.write_bytes(data.fetch(ARTICLE_SHEET).read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not verified" warning: the bytes are the registered ones
        choice = sheets.choose_sheet(str(copy), ARTICLE_DATE)
    assert choice.registry_path == ARTICLE_SHEET and choice.sha256 == registry[ARTICLE_SHEET].sha256


def test_a_relative_sheet_path_is_found_from_the_project_root(tmp_path, monkeypatch):
    """Notebooks run inside notebooks/; a path typed at the project root must still be found."""
    root, elsewhere = tmp_path / "root", tmp_path / "root" / "notebooks"
    elsewhere.mkdir(parents=True)
    (root / "output").mkdir()
    path = write_rows(root / "output", [HEADER, GOOD_ROW])
    monkeypatch.setattr(sheets.paths, "ROOT", root)
    monkeypatch.chdir(elsewhere)
    with pytest.warns(UserWarning, match="not in the raw-data registry"):
        assert sheets.resolve_sheet(str(path.relative_to(root)), ARTICLE_DATE) == root / path.relative_to(root)


# ---------------------------------------------------------------- reading a workbook


def test_format_comes_from_the_bytes(tmp_path, registry):
    xlsx = data.fetch(ARTICLE_SHEET)
    assert sheets.sniff_format(xlsx) == "xlsx"
    renamed = tmp_path / "participatingAgencies10312025pm.xls"
    renamed.write_bytes(xlsx.read_bytes())
    assert sheets.sniff_format(renamed) == "xlsx"  # a wrong extension does not matter
    legacy = tmp_path / "legacy.xlsx"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    assert sheets.sniff_format(legacy) == "xls"


def test_moa_links_come_from_cell_hyperlinks():
    raw = sheets.read_raw(data.fetch(ARTICLE_SHEET))
    links = pd.Series(raw.cells["moa_url"]).dropna()
    assert len(links) > 0.8 * len(raw.rows)
    assert links.str.match(r"https?://").all()
    assert not links.str.contains("safelinks|chrome-extension").any()


def test_hyperlinks_are_read_whatever_the_attribute_order(tmp_path):
    path = write_rows(tmp_path, [HEADER, GOOD_ROW, GOOD_ROW[:1] + ["Other County Sheriff's Office"] + GOOD_ROW[2:]])
    wb = openpyxl.load_workbook(path)
    wb.active["G2"].hyperlink = "https://www.ice.gov/doclib/287gMOA/a.pdf"
    wb.active["G3"].hyperlink = "https://www.ice.gov/doclib/287gMOA/b.pdf?x=1&y=2"
    wb.save(path)
    assert sheets._hyperlinks(path, wb.active.title) == {
        "G2": "https://www.ice.gov/doclib/287gMOA/a.pdf",
        "G3": "https://www.ice.gov/doclib/287gMOA/b.pdf?x=1&y=2",
    }
    assert list(sheets.read_raw(path).cells["moa_url"]) == [
        "https://www.ice.gov/doclib/287gMOA/a.pdf",
        "https://www.ice.gov/doclib/287gMOA/b.pdf?x=1&y=2",
    ]


def test_clean_link_unwraps_pasted_wrappers():
    assert (
        sheets.clean_link(
            "https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib%2Fa.pdf&data=05"
        )
        == "https://www.ice.gov/doclib/a.pdf"
    )
    assert (
        sheets.clean_link("chrome-extension://efaidnbmnnnibpcajpcglclefindmkaj/https:/www.ice.gov/doclib/b.pdf")
        == "https://www.ice.gov/doclib/b.pdf"
    )
    assert sheets.clean_link("https://www.ice.gov/doclib/c.pdf") == "https://www.ice.gov/doclib/c.pdf"
    assert sheets.clean_link(None) is None


@pytest.mark.parametrize(
    "columns,kind",
    [
        (["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE"], "pending"),
        (["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "SIGNED", "MOA"], "participating"),
        (["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "MOA"], "participating"),
    ],
)
def test_list_type_comes_from_the_columns(columns, kind):
    assert sheets.content_list(columns) == kind


def test_layout_rule_dates_are_the_first_registered_sheets_carrying_each_column():
    """COLUMNS_SINCE is not typed from memory: each date is the first registered sheet of that list with the column."""
    table = ice.load_sheets(sheets.catalogue("all")["path"])
    first: dict[str, dict[str, datetime]] = {"participating": {}, "pending": {}}
    for attrs, when in zip(
        table.attrs["sheets"],
        table.groupby("source_file", sort=False)["published"]
        .first()
        .reindex([a["file"] for a in table.attrs["sheets"]]),
    ):
        for column in attrs["header"]:
            first[attrs["list"]].setdefault(column, when.to_pydatetime())
            first[attrs["list"]][column] = min(first[attrs["list"]][column], when.to_pydatetime())
    for kind, since in sheets.COLUMNS_SINCE.items():
        for column, when in since.items():
            assert first[kind][column] == when, (kind, column)


def test_a_sheet_that_loses_a_column_is_an_error():
    with pytest.raises(sheets.SheetFormatError, match=r"missing column\(s\) \['COUNTY'\].*2025-03-17"):
        sheets.check_layout(
            ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM"],
            "participating",
            datetime(2026, 2, 1),
            "participatingAgencies02012026am.xlsx",
        )
    sheets.check_layout(
        ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE", "SIGNED", "MOA"],
        "participating",
        datetime(2025, 3, 7, 9),
        "participatingAgencies03072025am.xlsx",
    )


def test_parse_as_of_names_the_parameter():
    assert sheets.parse_as_of("2025-11-01") == date(2025, 11, 1)
    assert sheets.parse_as_of(datetime(2025, 11, 1, 8)) == date(2025, 11, 1)
    assert sheets.parse_as_of(pd.Timestamp("2025-11-01")) == date(2025, 11, 1)
    with pytest.raises(sheets.AsOfError, match="baseline_as_of='11/01/2025' is not a date"):
        sheets.parse_as_of("11/01/2025", "baseline_as_of")


def test_tomorrow_is_in_the_future():
    with pytest.raises(sheets.AsOfError, match="after today"):
        sheets.choose_sheet(None, date.today() + timedelta(days=1))


def test_sha256_of_a_user_file_is_its_bytes(tmp_path):
    path = write_rows(tmp_path, [HEADER, GOOD_ROW])
    with pytest.warns(UserWarning):
        choice = sheets.choose_sheet(str(path), ARTICLE_DATE)
    assert choice.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
