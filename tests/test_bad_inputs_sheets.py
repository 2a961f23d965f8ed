"""Bad sheet input (issue 13, the sheet items), table-driven: each case names the input, the error type and the key
words of its message, or the documented handling that the output reports.

Items 1, 2, 4, 5, 12, 13, 14, 15, 18 and 19 of issue 13; tests/test_bad_inputs.py holds the other items.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from helpers import data, ice, sheets

ARTICLE_DATE = "2025-11-01"
ARTICLE_FILE = "participatingAgencies10312025pm.xlsx"
NEW_NAME = "participatingAgencies02162026am.xlsx"  # a name no registered sheet has
HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM"]
PENDING_HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE"]
ROW = ["MINNESOTA", "Cass County Sheriff's Office", "County", "Cass County", "Task Force Model", date(2025, 2, 28), "link", None]
TEXAS_ROW = ["TEXAS", "Smith County Constable Precinct 4", "County", "Smith County", "Task Force Model", date(2025, 10, 17), "link", None]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(ice.CACHE_ENV, str(tmp_path / "sheet-cache"))


def workbook(folder: Path, sheets_rows: dict[str, list[list]], name: str = NEW_NAME) -> Path:
    """An .xlsx file with one worksheet per entry (title -> rows)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets_rows.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    path = folder / name
    wb.save(path)
    return path


def write_bytes(folder: Path, content: bytes, name: str = NEW_NAME) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("notes.txt", "not a spreadsheet")
    return buffer.getvalue()


def tampered_copy(folder: Path) -> Path:
    """The registered article sheet with one byte changed, saved under its registered name."""
    content = bytearray(data.fetch(ARTICLE_FILE).read_bytes())
    content[-10] ^= 0xFF
    return write_bytes(folder, bytes(content), ARTICLE_FILE)


@dataclass
class Case:
    """One bad input: ``run(tmp_path)`` must raise ``error`` with every word in ``words`` in its message, or (no
    ``error``) return a result that ``check`` accepts."""

    item: str
    run: Callable[[Path], object]
    error: type[BaseException] | None = None
    words: list[str] = field(default_factory=list)
    check: Callable[[object, str], None] | None = None
    warns: str | None = None  # a warning the handling must give (regex)


def _duplicates_reported(df: pd.DataFrame, printed: str) -> None:
    assert len(df) == 2, "the repeated rows are not counted"
    assert [(d["row"], d["same_as_row"]) for d in df.attrs["duplicates"]] == [(4, 2), (5, 3)]
    assert "Dropped 2 exact duplicate rows" in printed and f"{NEW_NAME} row 4 = row 2" in printed
    assert ice.group_totals(df, {"tx": ["TEXAS"]})["agreements"].iloc[0] == 1


def _other_worksheet_read(df: pd.DataFrame, printed: str) -> None:
    assert df.attrs["worksheet"] == "Agencies" and df["agency"].tolist() == [ROW[1]]


def _age_reported(choice: sheets.SheetChoice, printed: str) -> None:
    assert choice.age_days > sheets.STALE_DAYS and f"{choice.age_days} days older than as_of" in choice.sentence


CASES = [
    # 1. A pending list where participating agreements are needed, however it arrives.
    Case("1 registered pending sheet passed as sheet",
         lambda tmp: ice.load_as_of(ARTICLE_DATE, sheet="pendingAgencies10312025pm.xlsx"),
         ice.SheetKindError, ["pendingAgencies10312025pm.xlsx", "is a pending list", "participating list is needed"]),
    Case("1 pending content saved under a participating name",
         lambda tmp: ice.resolve_sheet(str(workbook(tmp, {"Sheet 1": [PENDING_HEADER, ROW[:5]]})), ARTICLE_DATE),
         ice.SheetKindError, [NEW_NAME, "is a pending list (its name says participating)", "lack SIGNED/MOA"]),
    Case("1 the archive's pending list under a participating name",
         lambda tmp: ice.resolve_sheet("participatingAgencies09222025pm.xlsx", ARTICLE_DATE),
         ice.SheetKindError, ["participatingAgencies09222025pm.xlsx", "pending list (its name says participating)"]),
    Case("1 pending list asked for as pending is fine",
         lambda tmp: ice.choose_sheet("pendingAgencies10312025pm.xlsx", ARTICLE_DATE, kind="pending"),
         check=lambda choice, printed: choice.list == "pending" or pytest.fail("pending list refused")),
    # 2. Exact duplicate rows: dropped by the stated rule, listed in attrs and a printed line, never counted.
    Case("2 every Texas row doubled",
         lambda tmp: ice.load_sheet(workbook(tmp, {"Sheet 1": [HEADER, ROW, TEXAS_ROW, ROW, TEXAS_ROW]})),
         check=_duplicates_reported),
    # 4. A file named like a registered raw file must hold its registered bytes.
    Case("4 tampered copy passed by path", lambda tmp: ice.resolve_sheet(str(tampered_copy(tmp)), ARTICLE_DATE),
         data.HashMismatchError, [ARTICLE_FILE, "registered raw file", "bytes differ", f"sheet='{ARTICLE_FILE}'"]),
    Case("4 tampered copy through load_as_of", lambda tmp: ice.load_as_of(ARTICLE_DATE, sheet=str(tampered_copy(tmp))),
         data.HashMismatchError, ["bytes differ", "not used"]),
    # 5. A future as_of is an error; an as_of long after the newest sheet says how old the sheet is.
    Case("5 future as_of", lambda tmp: ice.resolve_sheet(None, "2030-01-01"),
         ice.AsOfError, ["as_of=2030-01-01", "after today", "no sheet can be in force on a future date"]),
    Case("5 as_of long after the newest registered sheet", lambda tmp: ice.choose_sheet(None, date.today()),
         check=_age_reported, warns="older than as_of.*download ICE's current sheet"),
    # 12. Not a workbook, whatever the extension says.
    Case("12 CSV text saved as .xlsx",
         lambda tmp: ice.load_sheet(write_bytes(tmp, b"STATE,LAW ENFORCEMENT AGENCY\nTEXAS,Smith County\n")),
         ice.SheetFormatError, [NEW_NAME, "not a workbook", "CSV or other plain text", "Download the sheet again"]),
    Case("12 Access Denied page saved as .xlsx",
         lambda tmp: ice.load_sheet(write_bytes(tmp, b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>x</BODY></HTML>")),
         ice.SheetFormatError, [NEW_NAME, "an HTML page, an 'Access Denied' page"]),
    Case("12 other HTML page", lambda tmp: ice.load_sheet(write_bytes(tmp, b"<!DOCTYPE html><html><body>Error</body></html>")),
         ice.SheetFormatError, ["an HTML page, perhaps an 'Access Denied' or error page"]),
    Case("12 empty file", lambda tmp: ice.load_sheet(write_bytes(tmp, b"")),
         ice.SheetFormatError, [NEW_NAME, "an empty file"]),
    Case("12 zip archive that holds no workbook", lambda tmp: ice.load_sheet(write_bytes(tmp, zip_without_workbook())),
         ice.SheetFormatError, [NEW_NAME, "a zip archive that holds no Excel workbook"]),
    Case("12 truncated workbook", lambda tmp: ice.load_sheet(write_bytes(tmp, data.fetch(ARTICLE_FILE).read_bytes()[:5000])),
         ice.SheetFormatError, [NEW_NAME, "damaged zip archive, perhaps an interrupted download"]),
    # 13. A file name that cannot be dated.
    Case("13 impossible date in the name",
         lambda tmp: ice.load_sheet(workbook(tmp, {"Sheet 1": [HEADER, ROW]}, "participatingAgencies13452025am.xlsx")),
         ice.SheetFormatError, ["participatingAgencies13452025am.xlsx", "not a calendar date", "Rename the file"]),
    Case("13 name without a date",
         lambda tmp: ice.load_sheet(workbook(tmp, {"Sheet 1": [HEADER, ROW]}, "287g participating agencies.xlsx")),
         ice.SheetFormatError, ["287g participating agencies.xlsx", "cannot read the publication time"]),
    Case("13 a name whose date is too early for its agreements (wrong year)",
         lambda tmp: ice.load_sheet(workbook(tmp, {"Sheet 1": [HEADER, ROW]}, "participatingAgencies01052025pm.xlsx")),
         ice.SheetFormatError, ["participatingAgencies01052025pm.xlsx", "signed after the sheet's publication",
                                "sheet_names.csv"]),
    # 14. as_of that is not a date names the parameter.
    Case("14 as_of='not a date'", lambda tmp: ice.load_as_of("not a date"),
         ice.AsOfError, ["as_of='not a date' is not a date", "YYYY-MM-DD"]),
    Case("14 as_of='2025-02-30'", lambda tmp: ice.resolve_sheet(None, "2025-02-30"),
         ice.AsOfError, ["as_of='2025-02-30' is not a date", "day is out of range"]),
    Case("14 as_of=20251101 (a number)", lambda tmp: ice.select_sheet(20251101),
         ice.AsOfError, ["as_of=20251101 is not a date"]),
    # 15. sheet naming a file that does not exist.
    Case("15 sheet path that does not exist", lambda tmp: ice.resolve_sheet(str(tmp / NEW_NAME), ARTICLE_DATE),
         ice.SheetNotFoundError, [NEW_NAME, "no such file", "no registered raw file has that name"]),
    Case("15 relative path that does not exist", lambda tmp: ice.load_as_of(ARTICLE_DATE, sheet=f"output/{NEW_NAME}"),
         ice.SheetNotFoundError, [f"sheet='output/{NEW_NAME}'", "no such file"]),
    # 18. The data is not on the first worksheet.
    Case("18 ICE's header on the second worksheet",
         lambda tmp: ice.load_sheet(workbook(tmp, {"Notes": [["read me"]], "Agencies": [HEADER, ROW]})),
         check=_other_worksheet_read, warns="worksheet 'Agencies', which is read.*'Notes', 'Agencies'"),
    Case("18 no worksheet holds ICE's header",
         lambda tmp: ice.load_sheet(workbook(tmp, {"Notes": [["read me"]], "Other": [["a", "b"], [1, 2]]})),
         ice.SheetFormatError, [NEW_NAME, "no worksheet holds ICE's header row", "worksheets: ['Notes', 'Other']"]),
    # 19. Data in an unnamed column says what to do.
    Case("19 data in an unnamed column",
         lambda tmp: ice.load_sheet(workbook(tmp, {"Sheet 1": [HEADER, ROW + ["stray note"]]})),
         ice.SheetFormatError, [NEW_NAME, "['I']", "no header", "first at row(s) [2]", "delete it",
                                "add the header to helpers.sheets.COLUMNS"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.item for c in CASES])
def test_bad_sheet_input(case, tmp_path, capsys):
    if case.error is not None:
        with pytest.raises(case.error) as err, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "(?s).*not in the raw-data registry")  # said before the refusal
            case.run(tmp_path)
        for word in case.words:
            assert word in str(err.value), f"{case.item}: {word!r} not in {err.value}"
        return
    if case.warns:
        with pytest.warns(UserWarning, match=case.warns):
            result = case.run(tmp_path)
    else:
        result = case.run(tmp_path)
    case.check(result, capsys.readouterr().out)


def test_every_issue_13_sheet_item_has_a_case():
    items = {c.item.split()[0] for c in CASES}
    assert items == {"1", "2", "4", "5", "12", "13", "14", "15", "18", "19"}
