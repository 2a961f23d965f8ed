"""ICE 287(g) participating and pending agency sheets: one loader, as-of selection, counts.

:func:`load_sheet` reads any ICE sheet (the 2025 workbooks, the January 2025
web-page scrape, or a newer sheet a user downloads) into one tidy table,
:data:`SCHEMA`.  One row is one row of the sheet: for participating sheets,
one agreement (an agency and a support type).

What the loader does, and why:

* finds the header row wherever it is (a row holding ``STATE`` and
  ``LAW ENFORCEMENT AGENCY``) and maps header names through :data:`COLUMNS`;
  a missing required column or an unknown named column raises
  :class:`SheetFormatError` naming the file and the columns found;
* strips spaces from every value (ICE prints ``'County '`` and
  ``'Jail Enforcement Model '``); skips blank rows and repeated header rows
  (documented below); a row with data but no state raises;
* normalises the state through :func:`helpers.geo.normalize_state` and the
  support type to one of :data:`SUPPORT_TYPES` (misspellings only through
  ``data/corrections/support_types.csv``); anything else raises with the row;
* matches the county of county agencies to a Census FIPS code with
  :func:`helpers.geo.match_county`; unmatched rows are kept and flagged;
  state, municipal and other agencies have no county of their own;
* reads the MOA link from the cell's hyperlink (the cell text is just ``link``);
* parses the publication time from the file name (:func:`parse_sheet_name`).

Counting units are explicit (:func:`count_units`): ``agreements`` (rows),
``agencies`` (distinct agency names per state) and ``counties`` (distinct
matched county FIPS codes of county agencies).
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Iterable
from xml.etree import ElementTree

import pandas as pd

from helpers import data, geo, paths

SUPPORT_TYPES = ("Jail Enforcement Model", "Task Force Model", "Warrant Service Officer")
AGENCY_TYPES = {"county": "County", "municipality": "Municipality", "state": "State", "state agency": "State"}
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
SCHEMA = {
    "source_file": "file name of the sheet",
    "list": "participating or pending",
    "published": "publication time parsed from the file name (nominal hour for am/mid/pm)",
    "published_label": "publication as printed in the file name, e.g. '2025-10-31 pm'",
    "row": "spreadsheet row number (1-based, as Excel shows it)",
    "state": "state or territory, upper case as ICE prints it (typos corrected)",
    "state_name": "state display name",
    "usps": "postal code",
    "state_fips": "2-digit state FIPS",
    "state_kind": "state, district or territory",
    "agency": "law enforcement agency, spaces trimmed",
    "agency_type": "County, Municipality or State (None where the sheet has no TYPE column)",
    "county_printed": "county as printed (spaces trimmed; None if not printed)",
    "county_fips": "5-digit Census county FIPS of a county agency (None if not a county agency or unmatched)",
    "county_name": "Census county name for county_fips",
    "county_match": "rule that matched the county (see helpers.geo), 'unmatched', or 'not a county agency'",
    "support_type": "Jail Enforcement Model, Task Force Model or Warrant Service Officer (None only for a blank cell in a pending sheet)",
    "signed": "date the agreement was signed (participating sheets)",
    "moa_url": "link to the memorandum of agreement (cell hyperlink), if any",
    "addendum": "ADDENDUM column as printed (sheets from July 2025)",
}
ICE_FOLDER = "ice-287g/"
ARCHIVE_FOLDER = "ice-287g/archive-2025/"
SUPPORT_CORRECTIONS = paths.CORRECTIONS / "support_types.csv"
SIGNED_CORRECTIONS = paths.CORRECTIONS / "signed_dates.csv"
AGENCY_TYPE_CORRECTIONS = paths.CORRECTIONS / "agency_types.csv"


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


# --------------------------------------------------------------------------- loading


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


@lru_cache(maxsize=1)
def _corrections() -> dict[str, dict]:
    support = pd.read_csv(SUPPORT_CORRECTIONS, dtype=str, keep_default_na=False)
    signed = pd.read_csv(SIGNED_CORRECTIONS, dtype=str, keep_default_na=False)
    types = pd.read_csv(AGENCY_TYPE_CORRECTIONS, dtype=str, keep_default_na=False)
    return {
        "support": {geo.key(p): s for p, s in zip(support["printed"], support["support_type"])},
        "signed": dict(zip(signed["printed"].str.strip(), signed["signed"])),
        "types": {
            (r.state.strip().upper(), geo.key(r.agency), r.printed.strip()): r.agency_type for r in types.itertuples()
        },
    }


def canonical_support_type(printed: object, where: str, blank_ok: bool = False) -> str | None:
    """One of :data:`SUPPORT_TYPES` for a printed support type; raises naming ``where``.

    A blank cell gives None when ``blank_ok`` (pending sheets leave a few blank:
    the agency has applied but the model is not shown); otherwise it raises.
    """
    text = _clean(printed)
    if text is None and blank_ok:
        return None
    k = geo.key(text)
    for canonical in SUPPORT_TYPES:
        if k == geo.key(canonical):
            return canonical
    fixed = _corrections()["support"].get(k)
    if fixed:
        return fixed
    raise SheetFormatError(
        f"{where}: unknown support type {text!r}; expected one of {SUPPORT_TYPES}. "
        f"A spelling variant goes in {paths.relative(SUPPORT_CORRECTIONS)} with a reason."
    )


def _agency_type(state: str, agency: str, printed: object, where: str) -> str | None:
    text = _clean(printed)
    if text is None:
        return None
    fixed = _corrections()["types"].get((state, geo.key(agency), text))
    if fixed:
        return fixed
    canonical = AGENCY_TYPES.get(text.casefold())
    if canonical is None:
        raise SheetFormatError(
            f"{where}: unknown agency TYPE {text!r}; expected County, Municipality or State Agency. "
            f"Add a row to {paths.relative(AGENCY_TYPE_CORRECTIONS)} with a reason."
        )
    return canonical


def _signed(printed: object, where: str) -> pd.Timestamp | None:
    if printed is None:
        return None
    if isinstance(printed, (datetime, date, pd.Timestamp)):
        return pd.Timestamp(printed).normalize()
    text = str(printed).strip()
    fixed = _corrections()["signed"].get(text)
    if fixed:
        return pd.Timestamp(fixed)
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"):
        try:
            return pd.Timestamp(datetime.strptime(text, fmt))
        except ValueError:
            continue
    raise SheetFormatError(
        f"{where}: SIGNED {text!r} is not a date. A typo goes in "
        f"{paths.relative(SIGNED_CORRECTIONS)} with a reason."
    )


def load_sheet(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """Read one ICE participating or pending sheet into the tidy :data:`SCHEMA` table.

    ``name`` is the file name to parse the publication time from (defaults to
    the path's own name).  Raises :class:`SheetFormatError` for anything that
    does not fit the schema, naming the file and the row or column.
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
            "name to helpers.ice.COLUMNS."
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
    records = []
    for rec in body.to_dict("records"):
        rec = {k: _clean(v) for k, v in rec.items()}
        where = f"{file}, row {rec['row']}"
        try:
            state = geo.normalize_state(rec["state_printed"])
        except geo.UnknownStateError as exc:
            raise SheetFormatError(f"{where}: {exc}") from exc
        agency = rec["agency"]
        if agency is None:
            raise SheetFormatError(f"{where}: no LAW ENFORCEMENT AGENCY")
        agency_type = _agency_type(state, agency, rec.get("agency_type_printed"), where)
        county_printed = rec.get("county_printed")
        if county_printed is not None and county_printed.upper() in ("#NA", "N/A", "NA"):
            county_printed = None
        if agency_type in (None, "County"):
            county_fips, rule = geo.match_county(state, county_printed, agency)
            if agency_type is None and rule == "no county printed":
                rule = "not a county agency"
        else:
            county_fips, rule = None, "not a county agency"
        moa = links.get(f"{_column_letter(moa_col)}{rec['row']}") if moa_col is not None else None
        printed_moa = rec.get("moa_printed")
        if moa is None and isinstance(printed_moa, str) and printed_moa.startswith("http"):
            moa = printed_moa
        records.append(
            {
                "row": rec["row"],
                "state": state,
                "agency": agency,
                "agency_type": agency_type,
                "county_printed": county_printed,
                "county_fips": county_fips,
                "county_match": rule,
                "support_type": canonical_support_type(
                    rec["support_type_printed"], where, blank_ok=sheet.list == "pending"
                ),
                "signed": _signed(rec.get("signed_printed"), where),
                "moa_url": clean_link(moa),
                "addendum": None if rec.get("addendum") is None else str(rec.get("addendum")),
            }
        )
    out = pd.DataFrame.from_records(records, columns=list(records[0]) if records else None)
    if out.empty:
        return pd.DataFrame(columns=list(SCHEMA))
    ref = geo.states().rename(columns={"name": "state_name", "fips": "state_fips", "kind": "state_kind"})
    out = out.merge(ref, on="state", how="left", validate="many_to_one")
    names = geo.counties().set_index("county_fips")["county_name"]
    out["county_name"] = out["county_fips"].map(names)
    out["source_file"] = file
    out["list"] = sheet.list
    out["published"] = pd.Timestamp(sheet.published)
    out["published_label"] = sheet.label
    out["signed"] = pd.to_datetime(out["signed"])
    return out[list(SCHEMA)].sort_values("row").reset_index(drop=True)


def load_sheets(names: Iterable[str]) -> pd.DataFrame:
    """Load several registered sheets (fetched and verified) into one table."""
    frames = [load_sheet(data.fetch(n)) for n in names]
    return pd.concat(frames, ignore_index=True)


def load_as_of(as_of: str | date, sheet: str | Path | None = None, kind: str = "participating") -> pd.DataFrame:
    """The tidy table of the sheet in force on ``as_of`` (or of ``sheet`` when given)."""
    path = resolve_sheet(sheet, as_of, kind)
    return load_sheet(path)


# --------------------------------------------------------------------------- counting units

UNITS = {
    "agreements": "rows of the sheet (one agency x support type)",
    "agencies": "distinct agencies (names, spaces and case ignored) per state",
    "counties": "distinct Census counties whose county agency holds at least one agreement",
}


def count_units(df: pd.DataFrame, by: str | list[str] | None = "state") -> pd.DataFrame:
    """Agreements, agencies and counties, grouped by ``by`` (None for one overall row).

    Column names are the units (see :data:`UNITS`).
    """
    if by is None and df.empty:  # an empty selection counts zero of every unit
        return pd.DataFrame([{unit: 0 for unit in UNITS}])
    work = df.assign(_agency=df["state"] + "|" + df["agency"].map(geo.key))
    if by is None:
        work = work.assign(_all="all")
        by = "_all"
    grouped = work.groupby(by, sort=True)
    out = pd.DataFrame(
        {
            "agreements": grouped.size(),
            "agencies": grouped["_agency"].nunique(),
            "counties": grouped["county_fips"].nunique(),
        }
    )
    return out.reset_index().drop(columns=["_all"], errors="ignore")


def counties_with_agreements(df: pd.DataFrame, state: str) -> pd.DataFrame:
    """One row per county of ``state`` with an agreement: agencies, support types, signing dates."""
    state = geo.normalize_state(state)
    rows = df[(df["state"] == state) & df["county_fips"].notna()]
    out = (
        rows.sort_values(["county_name", "signed", "support_type"])
        .groupby(["county_fips", "county_name"], sort=True)
        .agg(
            agreements=("support_type", "size"),
            agencies=("agency", lambda s: "; ".join(sorted(set(s)))),
            support_types=("support_type", lambda s: "; ".join(s)),
            signed=("signed", lambda s: "; ".join(d.strftime("%Y-%m-%d") for d in s if pd.notna(d))),
        )
        .reset_index()
    )
    return out.sort_values("county_name").reset_index(drop=True)


def unmatched(df: pd.DataFrame) -> pd.DataFrame:
    """County agencies whose county could not be matched (kept in the data, flagged here)."""
    return df[df["county_match"] == "unmatched"]


def group_totals(df: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Counting units summed over each named group of states (states normalised and checked)."""
    rows = []
    for label, members in groups.items():
        members = sorted(geo.normalize_state(s) for s in members)
        part = df[df["state"].isin(members)]
        units = count_units(part, by=None)
        rows.append({"group": label, "states": ", ".join(members), **units.iloc[0].to_dict()})
    return pd.DataFrame(rows)


def state_counts(df: pd.DataFrame, population: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counting units for every state, DC and territory (zeros included), sorted by FIPS.

    With ``population`` (columns state, population) adds ``population`` and
    ``agreements_per_million``; places without a population estimate get NaN.
    """
    ref = geo.states()[["state", "name", "usps", "fips", "kind"]]
    counts = count_units(df, by="state")
    out = ref.merge(counts, on="state", how="left", validate="one_to_one")
    unknown = set(counts["state"]) - set(ref["state"])
    if unknown:  # cannot happen after load_sheet's checks; guards hand-made tables
        raise ValueError(f"states not in the reference table: {sorted(unknown)}")
    for unit in UNITS:
        out[unit] = out[unit].fillna(0).astype(int)
    if population is not None:
        out = out.merge(population[["state", "population"]], on="state", how="left", validate="one_to_one")
        out["agreements_per_million"] = out["agreements"] / out["population"] * 1e6
    return out.sort_values("fips").reset_index(drop=True)


def agreement_totals(df: pd.DataFrame, groups: dict[str, list[str]]) -> tuple[int, dict[str, int]]:
    """Agreements on one sheet: nationwide, and in each group of states (by :func:`group_totals`)."""
    totals = group_totals(df, groups).set_index("group")["agreements"]
    return len(df), {label: int(totals[label]) for label in groups}


def compare_totals(before: pd.DataFrame, after: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Agreements nationwide and in each group on two sheets, and the change.

    ``before`` and ``after`` are tidy tables of one sheet each (e.g. the sheet
    in force on the article's date and one downloaded today).  Columns:
    ``area``, ``before``, ``after``, ``change``; the sheets' publication labels
    are in ``attrs["before"]`` and ``attrs["after"]``.
    """
    (old_national, old), (new_national, new) = agreement_totals(before, groups), agreement_totals(after, groups)
    out = pd.DataFrame(
        {"area": ["Nationwide", *groups], "before": [old_national, *old.values()], "after": [new_national, *new.values()]}
    )
    out["change"] = out["after"] - out["before"]
    out.attrs = {side: "; ".join(sorted(set(df["published_label"]))) for side, df in (("before", before), ("after", after))}
    return out
