"""What the tests build: ICE-style workbooks and registry entries (one writer for every test module).

Test modules import it as ``from workbooks import ...`` (pytest puts ``tests/`` on the path).  Nothing here
touches the network, the real registry or the committed outputs.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import openpyxl

from helpers import data

#: The layout of ICE's participating sheets since July 2025 (``helpers.sheets.COLUMNS_SINCE``).
HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM"]
#: A pending sheet has no SIGNED, MOA or ADDENDUM.
PENDING_HEADER = HEADER[:5]
#: One good agreement, with a trailing space in its county as ICE prints some.
GOOD_ROW = [
    "MINNESOTA",
    "Cass County Sheriff's Office",
    "County",
    "Cass County ",
    "Task Force Model",
    date(2025, 2, 28),
    "link",
    None,
]
#: An ICE-style name no registered sheet has.
NEW_NAME = "participatingAgencies02162026am.xlsx"


def write_rows(folder: Path, rows: list[list], name: str = NEW_NAME) -> Path:
    """``rows`` on the only worksheet of a new workbook ``folder/name`` (folders are created)."""
    return write_worksheets(folder, {"Sheet": rows}, name)


def write_worksheets(folder: Path, worksheets: dict[str, list[list]], name: str = NEW_NAME) -> Path:
    """A workbook with one worksheet per entry (title -> rows), in order."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in worksheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wb.save(folder / name)
    return folder / name


def registry_entry(path: str, content: bytes, url: str = "http://127.0.0.1:9/none") -> data.Entry:
    """A registry row for ``content`` (port 9 on loopback refuses connections: a download fails at once)."""
    return data.Entry(
        path=path,
        sha256=hashlib.sha256(content).hexdigest(),
        bytes=len(content),
        url=url,
        original_url=url,
        publisher="test",
        published="2025-01-01",
        license="test",
        description="test file",
    )
