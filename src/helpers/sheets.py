"""ICE 287(g) sheets as files: names, the catalogue of registered sheets, and reading a workbook.

This module answers "which file, published when, and what does it print?":

* :func:`parse_sheet_name` reads the publication time and list type from a file name;
* :func:`catalogue`, :func:`select_sheet` and :func:`resolve_sheet` find the
  registered sheet in force on a date, or accept a path a user names;
* :func:`read_raw` reads one workbook into a table of *printed* values: it
  finds the header row wherever it is, maps header names through
  :data:`COLUMNS`, checks the layout, strips spaces, skips blank and repeated
  header rows and reads MOA hyperlinks.

What the printed values mean (states, agency types, support types, dates,
counties) is decided in :mod:`helpers.ice`, which turns the raw table into the
tidy schema and counts it.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

from helpers import data, paths

#: Header printed by ICE -> column name in the tidy table.
COLUMNS = {
    "STATE": "state_printed",
    "LAW ENFORCEMENT AGENCY": "agency",
    "TYPE": "agency_type_printed",
    "COUNTY": "county_printed",
    "SUPPORT TYPE": "support_type_printed",
    "SIGNED": "signed_printed",
    "MOA": "moa_printed",
    "ADDENDUM": "addendum",
}
REQUIRED = {
    "participating": ["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "SIGNED"],
    "pending": ["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE"],
}
#: ICE sheets have carried TYPE and COUNTY since the 2025-03-31 sheet; only earlier ones may lack them.
COUNTY_COLUMNS_SINCE = datetime(2025, 3, 1)
#: Nominal clock time for ICE's file-name suffixes, used only to order same-day sheets.
SLOT_HOURS = {"am": 9, "mid": 12, "pm": 16, "pmB": 17, "pm2": 17}
ICE_FOLDER = "ice-287g/"
ARCHIVE_FOLDER = "ice-287g/archive-2025/"


class SheetFormatError(ValueError):
    """A sheet that does not fit the schema; the message names the file and the row or column."""


@dataclass(frozen=True)
class SheetName:
    """What a sheet's file name says."""

    file: str
    list: str  # participating | pending
    published: datetime
    label: str


_NAME_PATTERNS = [
    # participatingAgencies10312025pm.xlsx (ICE's own names)
    re.compile(r"^(?P<list>participating|pending)Agencies(?P<m>\d{2})(?P<d>\d{2})(?P<y>\d{4})(?P<slot>am|mid|pm|pmB|pm2)?$"),
    # participatingAgencies_20250227.xlsx (undated ICE files, named by capture date)
    re.compile(r"^(?P<list>participating|pending)Agencies_(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
    # ParticipatingEntities-20250131031421.xlsx, participatingAgencies-20250226183301.xlsx (capture times)
    re.compile(
        r"^(?P<list>participating|pending)(?:Agencies|Entities)-(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"
        r"(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})$",
        re.IGNORECASE,
    ),
]


def parse_sheet_name(file: str) -> SheetName:
    """Publication time and list type from a sheet's file name.

    ``am``/``mid``/``pm``/``pmB`` get nominal hours (:data:`SLOT_HOURS`) so that
    same-day sheets sort in publication order.
    """
    stem = Path(file).stem
    for pattern in _NAME_PATTERNS:
        m = pattern.match(stem)
        if not m:
            continue
        g = m.groupdict()
        slot = g.get("slot")
        if g.get("H"):
            when = datetime(int(g["y"]), int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]), int(g["S"]))
            label = when.strftime("%Y-%m-%d %H:%M")
        else:
            when = datetime(int(g["y"]), int(g["m"]), int(g["d"]), SLOT_HOURS.get(slot or "", 0))
            label = when.strftime("%Y-%m-%d") + (f" {slot}" if slot else "")
        return SheetName(Path(file).name, g["list"].lower(), when, label)
    raise SheetFormatError(
        f"{Path(file).name}: cannot read the publication time from the file name. ICE names sheets "
        "like participatingAgencies10312025pm.xlsx; rename a downloaded copy to ICE's own name."
    )


# --------------------------------------------------------------------------- catalogue


def catalogue(kind: str = "participating", registry: dict | None = None) -> pd.DataFrame:
    """Registered ICE sheets of one kind, oldest first (path, file, published, label)."""
    if kind not in REQUIRED:
        raise ValueError(f"kind must be 'participating' or 'pending', not {kind!r}")
    registry = registry if registry is not None else data.load_registry()
    rows = []
    for path in registry:
        if not path.startswith(ICE_FOLDER) or path.startswith(ARCHIVE_FOLDER):
            continue  # the 2025 archive is registered and verified, but not yet read (issue #10)
        name = parse_sheet_name(path)
        if name.list == kind:
            rows.append({"path": path, "file": name.file, "published": name.published, "label": name.label})
    return pd.DataFrame(rows).sort_values("published").reset_index(drop=True)


def select_sheet(as_of: str | date, kind: str = "participating", sheets: pd.DataFrame | None = None) -> str:
    """Registry path of the latest sheet published on or before the date ``as_of``."""
    day = pd.Timestamp(as_of).date()
    sheets = sheets if sheets is not None else catalogue(kind)
    eligible = sheets[sheets["published"].dt.date <= day]
    if eligible.empty:
        first = sheets.iloc[0] if len(sheets) else None
        raise LookupError(
            f"no {kind} sheet was published on or before {day}"
            + (f"; the first one is {first['file']} ({first['label']})" if first is not None else "")
        )
    return eligible.iloc[-1]["path"]


def resolve_sheet(sheet: str | Path | None, as_of: str | date, kind: str = "participating") -> Path:
    """Local path of the sheet to analyse.

    ``sheet`` may be a registry path, a registered file name or the path of a
    sheet on disk (e.g. one downloaded today; it cannot be hash-checked, so a
    warning says so).  A relative path is looked up from the working directory
    and then from the project root (notebooks run inside ``notebooks/``, while
    the commands in the README run from the root).  When ``sheet`` is None the
    as-of date chooses.
    """
    if sheet is None:
        return data.fetch(select_sheet(as_of, kind))
    text = str(sheet)
    try:
        return data.fetch(text)
    except data.UnknownRawFileError:
        local = Path(text).expanduser()
        for candidate in (local, paths.ROOT / local):
            if candidate.is_file():
                warnings.warn(f"{candidate.name} is not in the raw-data registry; its bytes are not verified", stacklevel=2)
                return candidate
        raise


# --------------------------------------------------------------------------- reading a workbook


_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)
def _clean_text(value: str) -> str | None:
    value = _SPACES.sub(" ", value).strip()
    return value or None


def _clean(value: object) -> object:
    """Strip strings and fold runs of spaces; turn blanks into None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return _clean_text(value)
    return value


def _read_grid(path: Path) -> pd.DataFrame:
    """All cells of the first worksheet, no header, as objects (python-calamine)."""
    try:
        grid = pd.read_excel(path, sheet_name=0, header=None, dtype=object, engine="calamine")
    except ValueError as exc:  # calamine: empty workbook / no sheets
        raise SheetFormatError(f"{path.name}: cannot read a worksheet ({exc})") from exc
    return grid.map(_clean)


def _find_header(grid: pd.DataFrame, file: str) -> int:
    for i in range(min(len(grid), 50)):
        cells = {str(v).upper() for v in grid.iloc[i] if _clean(v) is not None}
        if {"STATE", "LAW ENFORCEMENT AGENCY"} <= cells:
            return i
    raise SheetFormatError(
        f"{file}: no header row with STATE and LAW ENFORCEMENT AGENCY in the first 50 rows"
        + (" (the worksheet is empty)" if grid.empty else "")
    )


def _hyperlinks(path: Path) -> dict[str, str]:
    """Cell reference (e.g. ``G12``) -> hyperlink target, for the first worksheet."""
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    ns_pkg = "{http://schemas.openxmlformats.org/package/2006/relationships}"
    try:
        with zipfile.ZipFile(path) as zf:
            wb = ElementTree.fromstring(zf.read("xl/workbook.xml"))
            first = wb.find(f"{ns_main}sheets/{ns_main}sheet")
            rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{ns_pkg}Relationship")}
            target = targets[first.get(f"{ns_rel}id")].lstrip("/")
            sheet_path = target if target.startswith("xl/") else f"xl/{target}"
            rels_path = str(Path(sheet_path).parent / "_rels" / (Path(sheet_path).name + ".rels"))
            if rels_path not in zf.namelist():
                return {}
            sheet_rels = ElementTree.fromstring(zf.read(rels_path))
            links = {r.get("Id"): r.get("Target") for r in sheet_rels.iter(f"{ns_pkg}Relationship")}
            out = {}
            for _, elem in ElementTree.iterparse(zf.open(sheet_path)):
                if elem.tag == f"{ns_main}hyperlink" and elem.get(f"{ns_rel}id") in links:
                    out[elem.get("ref")] = links[elem.get(f"{ns_rel}id")]
                elif elem.tag == f"{ns_main}row":
                    elem.clear()
            return out
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        return {}


@lru_cache(maxsize=1 << 14)
def clean_link(url: str | None) -> str | None:
    """An MOA link without the wrappers ICE staff pasted along with it.

    Two wrappers occur: Outlook "safelinks" (the real address is the ``url``
    query parameter) and a PDF-viewer browser extension
    (``chrome-extension://<id>/https:/www.ice.gov/...``).
    """
    if not url:
        return None
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(url)
    if parsed.netloc.endswith("safelinks.protection.outlook.com"):
        inner = parse_qs(parsed.query).get("url")
        if inner:
            return inner[0]
    m = re.match(r"^chrome-extension://[a-z]+/(https?):/+(.*)$", url)
    if m:
        return f"{m.group(1)}://{m.group(2)}"
    return url


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


#: Columns of :attr:`RawSheet.body`: the spreadsheet row number and the printed values.
RAW_COLUMNS = ["row", *COLUMNS.values(), "moa_url"]


@dataclass(frozen=True)
class RawSheet:
    """One workbook as printed: what its name says, and its data rows (:data:`RAW_COLUMNS`, strings stripped)."""

    name: SheetName
    header: list[str]
    body: pd.DataFrame


def read_raw(path: str | Path, name: str | None = None) -> RawSheet:
    """Read one ICE participating or pending sheet into its printed values.

    ``name`` is the file name to parse the publication time from (defaults to
    the path's own name).  Raises :class:`SheetFormatError` for a layout that
    does not fit, naming the file and the row or column.
    """
    path = Path(path)
    sheet = parse_sheet_name(name or path.name)
    file = sheet.file
    grid = _read_grid(path)
    header_row = _find_header(grid, file)
    header = [None if _clean(v) is None else str(v).upper() for v in grid.iloc[header_row]]

    unknown = [h for h in header if h is not None and h not in COLUMNS]
    missing = [h for h in REQUIRED[sheet.list] if h not in header]
    if sheet.published >= COUNTY_COLUMNS_SINCE:
        missing += [h for h in ("TYPE", "COUNTY") if h not in header]
    if unknown or missing:
        raise SheetFormatError(
            f"{file}: header row {header_row + 1} does not fit the ICE layout"
            + (f"; missing column(s) {missing}" if missing else "")
            + (f"; unknown column(s) {unknown}" if unknown else "")
            + f". Columns found: {[h for h in header if h]}. If ICE renamed a column, add the new "
            "name to helpers.sheets.COLUMNS."
        )
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise SheetFormatError(f"{file}: column(s) {dupes} appear twice in header row {header_row + 1}")

    body = grid.iloc[header_row + 1 :]
    keep = {i: COLUMNS[h] for i, h in enumerate(header) if h is not None}
    unnamed_with_data = [
        _column_letter(i) for i, h in enumerate(header) if h is None and body.iloc[:, i].notna().any()
    ]
    if unnamed_with_data:
        raise SheetFormatError(f"{file}: column(s) {unnamed_with_data} hold data but have no header")
    body = body[list(keep)].rename(columns=keep)
    body.insert(0, "row", body.index + 1)
    blank = body.drop(columns="row").isna().all(axis=1)
    repeated_header = body["state_printed"].astype(str).str.upper().eq("STATE") & body["agency"].astype(
        str
    ).str.upper().eq("LAW ENFORCEMENT AGENCY")
    body = body[~blank & ~repeated_header]
    no_state = body[body["state_printed"].isna()]
    if len(no_state):
        raise SheetFormatError(f"{file}, row {int(no_state['row'].iloc[0])}: the row has data but no STATE")

    links = _hyperlinks(path)
    moa_col = header.index("MOA") if "MOA" in header else None
    moa = []
    for row, printed in zip(body["row"], body["moa_printed"] if "moa_printed" in body else [None] * len(body)):
        link = links.get(f"{_column_letter(moa_col)}{row}") if moa_col is not None else None
        if link is None and isinstance(printed, str) and printed.startswith("http"):
            link = printed
        moa.append(clean_link(link))
    body = body.assign(moa_url=moa).reindex(columns=RAW_COLUMNS)
    return RawSheet(name=sheet, header=[h for h in header if h], body=body.reset_index(drop=True))
