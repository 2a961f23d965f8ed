"""ICE detention facilities and their average daily population (ADP), one tidy table.

Every raw file under ``detention/`` in the registry is described once in
:data:`LAYOUTS` (sheet(s), 1-based header row, column mapping, how ADP is
computed).  One reader, :func:`read_layout`, turns any of them into rows of the
facility-year table (:data:`COLUMNS`):

* FY21–FY25 ICE detention-statistics workbooks: one fiscal year per file,
  ``adp = Level A + Level B + Level C + Level D`` (the sheets have no total).
* The 2017 and 2019 facility lists: one ``FYxx ADP`` column per fiscal year,
  melted to one row per facility and year.
* Vera's ``facilities.csv`` has no ADP: it contributes one row per facility
  with an empty ``fiscal_year`` and ``adp`` (facility code and type only).

Several files cover the same fiscal year; every row keeps its ``source_file``
and nothing is merged silently.  :func:`preferred` picks one ADP per
facility-year by a stated rule (:data:`PREFERENCE_RULE`).

Facility identity: the ICE facility code (``DETLOC``) where a file prints it;
for files without codes (the FY21–FY25 workbooks, the 2019 dedicated list) the
code is looked up by state and facility name in the files that print both.
Rows whose code cannot be found keep ``code`` empty and are identified by
``<USPS>:<name key>``.

County: from the facility name (``FREEBORN COUNTY ADULT DETENTION CENTER``,
``Kandiyohi Co. Jail``), else from a printed ``County`` column, else from the
same facility in another file; unmatched rows are kept with ``county_rule =
"unmatched"``.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

import pandas as pd

from helpers import data, geo, paths, table_cache, tables

# --------------------------------------------------------------------------- rules and constants

#: Year the article's "already had long-standing deals" refers to (article: 2025-11-01).
REFERENCE_YEAR = 2025
#: A deal is "long-standing" when the county jail's first recorded ICE use, contract date or
#: first fiscal year with ICE detainees is at least this many years before REFERENCE_YEAR ...
LONG_STANDING_YEARS = 10
#: ... and the jail still held ICE detainees (ADP > 0) in this fiscal year, the last full one
#: before the reference year (ICE's workbooks list only facilities in use).
ACTIVE_FISCAL_YEAR = REFERENCE_YEAR - 1
#: Facility types that are detention agreements with a local jail (not holds, hospitals, BOP,
#: juvenile or family centres).
JAIL_TYPES = ("IGSA", "DIGSA", "USMS IGA")
PREFERENCE_RULE = (
    "one ADP per facility and fiscal year: the row from the file with the latest data cut-off "
    "(an end-of-year file beats a year-to-date one; a later list beats an earlier one); "
    "ties are broken by source file name"
)

COLUMNS = [
    "facility_id",
    "code",
    "name",
    "city",
    "state",
    "county_fips",
    "county_rule",
    "type_detailed",
    "fiscal_year",
    "adp",
    "period",
    "first_use",
    "last_use",
    "contract_date",
    "data_as_of",
    "source_file",
]

LEVELS = ("Level A", "Level B", "Level C", "Level D")


class LayoutError(data.RawDataError, ValueError):
    """A detention file whose layout differs from its declared :class:`Layout`."""


@dataclass(frozen=True)
class Layout:
    """How to read one raw detention file.

    ``columns`` maps canonical names (``name``, ``code``, ``city``, ``state``, ``county``,
    ``type_detailed``, ``first_use``, ``last_use``, ``contract_date``) to the printed header.  ``adp`` is
    ``"levels"`` (sum of ``adp_columns``, fiscal year ``fiscal_year``), ``"fy_columns"``
    (one ``FYxx ADP`` column per year, melted) or ``"none"``.  ``ytd_fiscal_year`` is the
    fiscal year the file covers only in part (``period = "year to date"``).
    """

    path: str
    sheets: tuple[str, ...]
    header_row: int
    columns: Mapping[str, str]
    adp: str
    data_as_of: str
    adp_columns: tuple[str, ...] = ()
    fiscal_year: int | None = None
    ytd_fiscal_year: int | None = None
    kind: str = "xlsx"
    notes: str = field(default="", compare=False)


_WORKBOOK_COLUMNS = {"name": "Name", "city": "City", "state": "State", "type_detailed": "Type Detailed"}


def _workbook(path: str, sheet: str, header: int, fy: int, as_of: str, ytd: bool) -> Layout:
    return Layout(
        path=f"detention/ice_detention_stats/{path}",
        sheets=(sheet,),
        header_row=header,
        columns=_WORKBOOK_COLUMNS,
        adp="levels",
        adp_columns=LEVELS,
        fiscal_year=fy,
        ytd_fiscal_year=fy if ytd else None,
        data_as_of=as_of,
    )


def _fy_cols(first: int, last: int) -> tuple[str, ...]:
    return tuple(f"FY{y % 100:02d} ADP" for y in range(last, first - 1, -1))


#: One declared layout per raw file (see data/raw/detention/PROVENANCE.md).
LAYOUTS: tuple[Layout, ...] = (
    _workbook("FY21-detentionstats_wayback20210113002029.xlsx", "Facilities FY21 YTD", 7, 2021, "2020-12-28", True),
    _workbook("FY21-detentionstats.xlsx", "Facilities FY21 YTD", 7, 2021, "2021-09-27", False),
    _workbook("FY22-detentionStats.xlsx", "Facilities FY22", 7, 2022, "2022-09-19", False),
    _workbook("FY23_detentionStats.xlsx", "Facilities EOFY23", 6, 2023, "2023-09-30", False),
    _workbook("FY24_detentionStats.xlsx", "Facilities EOFY24", 7, 2024, "2024-10-07", False),
    _workbook("FY25_detentionStats09112025.xlsx", "Facilities FY25", 7, 2025, "2025-09-02", True),
    Layout(
        path="detention/ice_facility_lists/Confidential ICE ERO Facility List 07-10-2017.xlsx",
        sheets=("Facility List - Main",),
        header_row=7,
        columns={
            "code": "DETLOC",
            "name": "Name",
            "city": "City",
            "county": "County",
            "state": "State",
            "type_detailed": "Type Detailed",
            "contract_date": "Best Known Contract Initiation Date",
        },
        adp="fy_columns",
        adp_columns=_fy_cols(2010, 2017),
        ytd_fiscal_year=2017,
        data_as_of="2017-07-10",
    ),
    Layout(
        path="detention/ice_facility_lists/ICE_Facility_List_11-06-2017-web.xlsx",
        sheets=("Facility List - Main",),
        header_row=9,
        columns={
            "code": "DETLOC",
            "name": "Name",
            "city": "City",
            "county": "County",
            "state": "State",
            "type_detailed": "Type Detailed",
            "first_use": "Date of First Use",
            "last_use": "Date of Last Use",
            "contract_date": "Best Known Contract Initiation Date",
        },
        adp="fy_columns",
        adp_columns=_fy_cols(2009, 2018),
        ytd_fiscal_year=2018,
        data_as_of="2017-11-06",
    ),
    Layout(
        path="detention/ice_facility_lists/2019-ICFO-31121.xlsx",
        sheets=("2019-ICFO-31121",),
        header_row=7,
        columns={"code": "DETLOC", "name": "Name", "city": "City", "state": "State", "type_detailed": "Type"},
        adp="fy_columns",
        adp_columns=_fy_cols(2011, 2019),
        ytd_fiscal_year=2019,
        data_as_of="2019-03-25",
    ),
    Layout(
        path="detention/ice_facility_lists/dedicatedNonDedicatedFacilityList.xlsx",
        sheets=("ICE Dedicated Facilities", "ICE Non-Dedicated Facilities"),
        header_row=6,
        columns={"name": "NAME", "city": "CITY", "state": "STATE", "type_detailed": "TYPE"},
        adp="fy_columns",
        adp_columns=("FY19 ADP",),
        ytd_fiscal_year=2019,
        data_as_of="2019-08-05",
    ),
    Layout(
        path="detention/vera/facilities.csv",
        sheets=(),
        header_row=1,
        columns={
            "code": "detention_facility_code",
            "name": "detention_facility_name",
            "city": "city",
            "state": "state",
            "type_detailed": "type_detailed",
        },
        adp="none",
        data_as_of="2025-07-15",
        kind="csv",
        notes="facility codes and types only; no ADP, so fiscal_year and adp are empty",
    ),
)


def layouts() -> dict[str, Layout]:
    """The declared layouts keyed by registry path."""
    return {lay.path: lay for lay in LAYOUTS}


def registered_files() -> list[str]:
    """Registry paths of every raw file under ``detention/``."""
    return sorted(p for p in data.load_registry() if p.startswith("detention/"))


# --------------------------------------------------------------------------- reading


def _text(value: object) -> str:
    """A cell as stripped text ('' for empty cells)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return re.sub(r"\s+", " ", str(value)).strip()


def _read_raw(path: Path, layout: Layout, sheet: str | None) -> pd.DataFrame:
    """The sheet (or CSV) as a grid of cells without a header."""
    if layout.kind == "csv":
        return pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    return pd.read_excel(path, sheet_name=0 if sheet is None else sheet, header=None, engine="calamine")


def check_header(grid: pd.DataFrame, layout: Layout, where: str) -> list[str]:
    """Header names at the declared row; raises :class:`LayoutError` naming missing columns."""
    row = layout.header_row - 1
    header = [_text(v) for v in grid.iloc[row]] if len(grid) > row else []
    expected = list(layout.columns.values()) + list(layout.adp_columns)
    missing = [c for c in expected if c not in header]
    if missing:
        hint = ""
        for i in range(min(len(grid), 30)):
            cells = {_text(v) for v in grid.iloc[i]}
            if i != row and all(c in cells for c in expected):
                hint = f" The expected header is at row {i + 1}: the header row has moved."
                break
        if not hint:
            near = [h for h in header if h and h not in expected]
            hint = f" Columns found in that row: {near[:40]}."
        raise LayoutError(
            f"{where}: expected column(s) {missing} in header row {layout.header_row}, "
            f"not found (renamed or moved?).{hint} Update the declared layout in "
            "helpers.detention.LAYOUTS after checking the file."
        )
    return header


@cache
def _state_name(printed: str) -> str | None:
    """Upper-case state name for a USPS code or a printed name; None when unknown."""
    text = printed.strip().upper()
    if not text:
        return None
    by_usps = dict(zip(geo.states()["usps"], geo.states()["state"]))
    if text in by_usps:
        return by_usps[text]
    try:
        return geo.normalize_state(text)
    except geo.UnknownStateError:
        return None


def _date(value: object) -> pd.Timestamp | None:
    """A date cell as a Timestamp (None when empty or not a date)."""
    if isinstance(value, date):  # datetime and pd.Timestamp too
        return pd.Timestamp(value)
    text = _text(value)
    if not text:
        return None
    out = pd.to_datetime(text, errors="coerce")
    return None if pd.isna(out) else out


def fiscal_year_of(column: str) -> int:
    """Fiscal year named by a column such as ``FY09 ADP`` (2009)."""
    m = re.match(r"FY\s*(\d{2})\b", column)
    if not m:
        raise ValueError(f"not a fiscal-year ADP column: {column!r}")
    return 2000 + int(m.group(1))


def _adp(value: object) -> float:
    """An ADP cell as a float; blanks are 0 (facility not used), negatives are an error."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or _text(value) == "":
        return 0.0
    if not isinstance(value, (numbers.Real, str)):
        raise LayoutError(f"ADP {value!r} is not a number")
    out = float(value)
    if out < 0:
        raise LayoutError(f"negative ADP {out}")
    return out


def read_layout(layout: Layout, path: Path | None = None) -> pd.DataFrame:
    """Rows of the facility-year table (:data:`COLUMNS`, without ``facility_id``) for one file.

    ``path`` overrides the fetched registry file (used by tests to read a crafted file).
    Rows without a state (footnotes, totals) are dropped; nothing else is.
    """
    path = Path(path) if path is not None else data.fetch(layout.path)
    source = Path(layout.path).name
    frames = []
    for sheet in layout.sheets or (None,):
        where = f"{source}" + (f", sheet '{sheet}'" if sheet else "")
        grid = _read_raw(path, layout, sheet)
        header = check_header(grid, layout, where)
        body = grid.iloc[layout.header_row :].copy()
        body.columns = [h if h else f"_blank{i}" for i, h in enumerate(header)]
        body = body.loc[:, ~pd.Index(body.columns).duplicated()]
        frames.append(_tidy(body, layout, source, where))
    return pd.concat(frames, ignore_index=True)


def _tidy(body: pd.DataFrame, layout: Layout, source: str, where: str) -> pd.DataFrame:
    """Canonical columns and one row per facility and fiscal year."""
    col = layout.columns
    out = pd.DataFrame(
        {
            "code": body[col["code"]].map(_text) if "code" in col else "",
            "name": body[col["name"]].map(_text),
            "city": body[col["city"]].map(_text),
            "state_printed": body[col["state"]].map(_text),
            "county_printed": body[col["county"]].map(_text) if "county" in col else "",
            "type_detailed": body[col["type_detailed"]].map(_text).str.upper(),
            "first_use": body[col["first_use"]].map(_date) if "first_use" in col else None,
            "last_use": body[col["last_use"]].map(_date) if "last_use" in col else None,
            "contract_date": body[col["contract_date"]].map(_date) if "contract_date" in col else None,
        }
    )
    out["state"] = out["state_printed"].map(_state_name)
    keep = out["state"].notna() & (out["name"] != "")
    out, body = out[keep], body[keep]
    try:
        if layout.adp == "levels":
            adp = body[list(layout.adp_columns)].apply(lambda c: c.map(_adp)).sum(axis=1)
            out = out.assign(fiscal_year=layout.fiscal_year, adp=adp.to_numpy())
        elif layout.adp == "fy_columns":
            parts = [
                out.assign(fiscal_year=fiscal_year_of(c), adp=body[c].map(_adp).to_numpy()) for c in layout.adp_columns
            ]
            out = pd.concat(parts, ignore_index=True)
        elif layout.adp == "none":
            out = out.assign(fiscal_year=None, adp=float("nan"))
        else:
            raise LayoutError(f"{where}: unknown ADP rule {layout.adp!r}")
    except (TypeError, ValueError) as exc:
        raise LayoutError(f"{where}: ADP is not numeric: {exc}") from exc
    out["fiscal_year"] = out["fiscal_year"].astype("Int64")
    out["period"] = [
        "" if pd.isna(fy) else ("year to date" if fy == layout.ytd_fiscal_year else "full year")
        for fy in out["fiscal_year"]
    ]
    out["data_as_of"] = pd.Timestamp(layout.data_as_of)
    out["source_file"] = source
    for c in ("first_use", "last_use", "contract_date"):
        out[c] = pd.to_datetime(out[c])
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- identity and county


_ABBREVIATIONS = {r"\bco\.?(?=\s)": "county", r"^nw\b": "northwest"}


def _name_key(name: str) -> str:
    """Facility-name key: :func:`geo.key` with ``Co.`` spelled ``County`` and ``NW`` ``Northwest``."""
    for pattern, full in _ABBREVIATIONS.items():
        name = re.sub(pattern, full, name, flags=re.IGNORECASE)
    return geo.key(name)


def assign_codes(df: pd.DataFrame) -> pd.DataFrame:
    """Fill empty ``code`` by (state, facility-name key) from rows that print a code.

    Only unambiguous names are used; ``facility_id`` is the code, else ``<USPS>:<name key>``.
    """
    keys = df["state"] + "|" + df["name"].map(_name_key)
    known = pd.DataFrame({"k": keys, "code": df["code"]})[df["code"] != ""].drop_duplicates()
    unique = known.groupby("k")["code"].nunique()
    lookup = known[known["k"].isin(unique[unique == 1].index)].drop_duplicates("k").set_index("k")["code"]
    code = df["code"].where(df["code"] != "", keys.map(lookup).fillna(""))
    usps = df["state"].map(dict(zip(geo.states()["state"], geo.states()["usps"])))
    fid = code.where(code != "", usps + ":" + df["name"].map(_name_key))
    return df.assign(code=code, facility_id=fid)


@cache
def facility_county(state: str, name: str, printed_county: str = "") -> tuple[str | None, str]:
    """County FIPS of a facility and the rule used: ``name``, ``county column``, ``unmatched``.

    The facility name wins over the printed County column (the 2017 lists print
    NICOLLET for Nobles County Jail).
    """
    expanded = re.sub(r"\bco\.?(?=\s)", "County", name, flags=re.IGNORECASE)
    fips, rule = geo.match_county(state, "", agency=expanded)
    if fips:
        return fips, "name"
    if printed_county:
        fips, rule = geo.match_county(state, printed_county)
        if fips:
            return fips, f"county column ({rule})"
    return None, "unmatched"


def assign_counties(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``county_fips`` and ``county_rule``; a facility unmatched in one file borrows its
    county from the same ``facility_id`` in another (rule ``same facility``)."""
    pairs = {
        (s, n, c): facility_county(s, n, c)
        for s, n, c in df[["state", "name", "county_printed"]].drop_duplicates().itertuples(index=False)
    }
    matched = [pairs[(s, n, c)] for s, n, c in df[["state", "name", "county_printed"]].itertuples(index=False)]
    out = df.assign(
        county_fips=pd.Series([m[0] for m in matched], index=df.index, dtype=object),
        county_rule=pd.Series([m[1] for m in matched], index=df.index, dtype=object),
    )
    found = out.dropna(subset=["county_fips"]).sort_values(["facility_id", "county_rule", "source_file"])
    by_id = found.drop_duplicates("facility_id").set_index("facility_id")["county_fips"]
    fill = out["county_fips"].isna() & out["facility_id"].isin(by_id.index)
    out.loc[fill, "county_fips"] = out.loc[fill, "facility_id"].map(by_id)
    out.loc[fill, "county_rule"] = "same facility"
    return out


# --------------------------------------------------------------------------- public table


@lru_cache(maxsize=1)
def _all_files() -> pd.DataFrame:
    frames = [read_layout(lay) for lay in LAYOUTS]
    return pd.concat(frames, ignore_index=True)


#: Raise to rebuild cached facility tables when their meaning changes without a change of the code's bytes.
TABLE_VERSION = 1


def table_key() -> str:
    """What the national facility table depends on (:func:`helpers.table_cache.key`): every declared file's bytes (its
    registered sha256, checked by :func:`helpers.data.fetch`), this module's and :mod:`helpers.geo`'s source
    (layouts, reading rules, name keys, state names), the correction files and the states table."""
    registry = data.load_registry()
    shas = []
    for lay in LAYOUTS:
        data.fetch(lay.path, registry=registry)  # the local copy is checked against its registered sha256
        shas.append(f"{lay.path} {data.resolve(lay.path, registry).sha256}")
    sources = [Path(__file__), Path(geo.__file__), geo.STATES_CSV, *sorted(paths.CORRECTIONS.glob("*.csv"))]
    return table_cache.key([f"detention facility table {TABLE_VERSION}", *shas, *sources])


def _national() -> pd.DataFrame:
    """Every declared file's rows with facility codes (:func:`assign_codes`), from the table cache while neither
    the files' bytes nor the code and corrections that shape them changed (:func:`table_key`)."""
    return table_cache.cached("detention", table_key(), lambda: assign_codes(_all_files()))


def facility_years(state: str | None = None) -> pd.DataFrame:
    """The tidy facility-year table from every registered detention file (optionally one state).

    Counties are matched after the state filter (matching every facility in the country
    takes a while). The national table before it is read from the table cache while the
    files and the code that shape it are unchanged (:func:`table_key`). Raises
    :class:`LayoutError` if a registered detention file has no declared layout.
    """
    undeclared = sorted(set(registered_files()) - set(layouts()))
    if undeclared:
        raise LayoutError(f"detention files without a declared layout in LAYOUTS: {undeclared}")
    df = _national()
    if state is not None:
        df = df[df["state"] == geo.normalize_state(state)]
    return sort_table(assign_counties(df)[COLUMNS])


def sort_table(df: pd.DataFrame) -> pd.DataFrame:
    """Stable row order: facility, fiscal year, source file, name."""
    return df.sort_values(
        ["state", "facility_id", "fiscal_year", "source_file", "name"], na_position="first", kind="mergesort"
    ).reset_index(drop=True)


def preferred(df: pd.DataFrame) -> pd.DataFrame:
    """One row per facility and fiscal year, chosen by :data:`PREFERENCE_RULE`."""
    rows = df.dropna(subset=["fiscal_year"])
    rows = rows.sort_values(["facility_id", "fiscal_year", "data_as_of", "source_file"], kind="mergesort")
    return rows.drop_duplicates(["facility_id", "fiscal_year"], keep="last").reset_index(drop=True)


def facilities(df: pd.DataFrame) -> pd.DataFrame:
    """One row per facility: latest name and type, earliest first use and contract date,
    first and last fiscal year with ADP > 0."""
    pref = preferred(df)
    used = pref[pref["adp"] > 0]
    # name and type from the latest ICE file listing the facility (Vera's names are abbreviated)
    latest = (
        df.assign(_ice=df["fiscal_year"].notna())
        .sort_values(["_ice", "data_as_of", "source_file"], kind="mergesort")
        .drop_duplicates("facility_id", keep="last")
    )
    g = df.groupby("facility_id")
    out = latest.set_index("facility_id")[["code", "name", "city", "county_fips", "type_detailed"]].assign(
        first_use=g["first_use"].min(),
        last_use=g["last_use"].max(),
        contract_date=g["contract_date"].min(),
        first_fy_used=used.groupby("facility_id")["fiscal_year"].min(),
        last_fy_used=used.groupby("facility_id")["fiscal_year"].max(),
        years_used=used.groupby("facility_id")["fiscal_year"].nunique(),
        types_seen=g["type_detailed"].agg(lambda s: "; ".join(sorted(set(s) - {""}))),
    )
    out["years_used"] = out["years_used"].fillna(0).astype(int)
    for c in ("first_fy_used", "last_fy_used"):
        out[c] = out[c].astype("Int64")
    return out.reset_index().sort_values(["name", "facility_id"]).reset_index(drop=True)


def adp_wide(df: pd.DataFrame) -> pd.DataFrame:
    """Preferred ADP as a facility x fiscal-year table (facilities that ever had ADP > 0).

    Fiscal years no file covers (e.g. FY2020) appear as empty columns.
    """
    pref = preferred(df)
    ever = pref.groupby("facility_id")["adp"].max()
    pref = pref[pref["facility_id"].isin(ever[ever > 0].index)]
    wide = pref.pivot(index="facility_id", columns="fiscal_year", values="adp")
    if len(wide.columns):
        wide = wide.reindex(columns=range(int(min(wide.columns)), int(max(wide.columns)) + 1))
    wide.columns = [int(c) for c in wide.columns]
    return wide.sort_index()


def missing_fiscal_years(df: pd.DataFrame) -> list[int]:
    """Fiscal years between the first and last covered that no file covers."""
    years = sorted({int(y) for y in df["fiscal_year"].dropna()})
    return [y for y in range(years[0], years[-1] + 1) if y not in years] if years else []


DEAL_COLUMNS = [
    "county_fips",
    "county_name",
    "facilities",
    "codes",
    "first_use",
    "last_use",
    "contract_date",
    "first_fy_used",
    "years_used",
    "adp_active_year",
    "since",
    "long_standing",
]


def county_deals(df: pd.DataFrame, counties: pd.DataFrame) -> pd.DataFrame:
    """For each county (columns ``county_fips``, ``county_name``): its jail's ICE detention record.

    A county's jail is any facility in that county whose type is one of :data:`JAIL_TYPES`.
    Columns: :data:`DEAL_COLUMNS`; ``since`` is the earliest of first use, contract date
    and first fiscal year used, as a year.
    """
    fac = facilities(df)
    fac = fac[fac["type_detailed"].isin(JAIL_TYPES)]
    pref = preferred(df)
    rows = []
    for c in counties[["county_fips", "county_name"]].drop_duplicates().itertuples(index=False):
        jails = fac[fac["county_fips"] == c.county_fips]
        ids = set(jails["facility_id"])
        active = pref[pref["facility_id"].isin(ids) & (pref["fiscal_year"] == ACTIVE_FISCAL_YEAR)]["adp"].sum()
        first_fy = jails["first_fy_used"].min() if len(jails) else pd.NA
        dates = [d.year for d in (jails["first_use"].min(), jails["contract_date"].min()) if pd.notna(d)]
        if pd.notna(first_fy):
            dates.append(int(first_fy))
        since = min(dates) if dates else pd.NA
        rows.append(
            {
                "county_fips": c.county_fips,
                "county_name": c.county_name,
                "facilities": "; ".join(jails["name"]),
                "codes": "; ".join(jails["code"]),
                "first_use": jails["first_use"].min() if len(jails) else pd.NaT,
                "last_use": jails["last_use"].max() if len(jails) else pd.NaT,
                "contract_date": jails["contract_date"].min() if len(jails) else pd.NaT,
                "first_fy_used": first_fy,
                "years_used": int(jails["years_used"].sum()),
                "adp_active_year": round(float(active), 2),
                "since": since,
                "long_standing": bool(pd.notna(since) and since <= REFERENCE_YEAR - LONG_STANDING_YEARS and active > 0),
            }
        )
    out = pd.DataFrame(rows, columns=DEAL_COLUMNS)  # a state with no 287(g) county gets an empty table
    for column in ("first_fy_used", "since"):
        out[column] = out[column].astype("Int64")
    for column in ("first_use", "last_use", "contract_date"):
        out[column] = pd.to_datetime(out[column])
    out["long_standing"] = out["long_standing"].astype(bool)
    return out.sort_values("county_name").reset_index(drop=True)


def counties_for(state: str, counties: list[str] | None = None, as_of: str = "2025-11-01") -> pd.DataFrame:
    """Counties to examine (``county_fips``, ``county_name``).

    ``None``: the counties of ``state`` whose county agency holds a 287(g) agreement on
    ``as_of`` (:func:`helpers.ice.counties_with_agreements`). Otherwise the named counties,
    matched with :func:`helpers.geo.match_county`; a name that does not match raises ValueError.
    """
    if counties is None:
        from helpers import ice

        return ice.counties_with_agreements(ice.load_as_of(as_of), state)[["county_fips", "county_name"]]
    census = geo.state_counties(state).set_index("county_fips")["county_name"]
    rows = []
    for name in counties:
        fips, _ = geo.match_county(state, name)
        if fips is None:
            raise ValueError(f"county {name!r} not found in {geo.normalize_state(state)}")
        rows.append({"county_fips": fips, "county_name": census[fips]})
    return pd.DataFrame(rows, columns=["county_fips", "county_name"]).drop_duplicates().sort_values("county_name")


def year_ranges(years: list[int]) -> str:
    """Fiscal years as compact ranges: ``[2009, 2010, 2011, 2013]`` -> ``FY2009–FY2011, FY2013``."""
    runs: list[list[int]] = []  # consecutive years
    for y in sorted({int(y) for y in years}):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(f"FY{run[0]}" if len(run) == 1 else f"FY{run[0]}–FY{run[-1]}" for run in runs)


def long_standing_counties(deals: pd.DataFrame) -> list[str]:
    """County names (without ``County``) whose jail had a long-standing ICE detention deal."""
    names = deals.loc[deals["long_standing"], "county_name"]
    return sorted(re.sub(r"\s+County$", "", n) for n in names)


def _fmt_date(value: pd.Timestamp | None) -> str:
    return "no date on file" if value is None or pd.isna(value) else value.strftime("%Y-%m-%d")


def county_sentences(df: pd.DataFrame, deals: pd.DataFrame) -> list[str]:
    """One sentence per county of ``deals`` describing its jail's ICE record, built from data:
    dates, fiscal years with and without detainees, peak and lowest ADP, gaps in coverage."""
    pref = preferred(df)
    gaps = missing_fiscal_years(df)
    out = []
    fac: pd.DataFrame | None = None
    for d in deals.to_dict("records"):
        short = re.sub(r"\s+County$", "", d["county_name"])
        if not d["facilities"]:
            out.append(f"{short}: no facility in {d['county_name']} appears in any ICE detention file read here.")
            continue
        if fac is None:  # one table for every county (it depends on df only)
            fac = facilities(df)
        in_deal = fac["code"].isin(d["codes"].split("; ")) | fac["name"].isin(d["facilities"].split("; "))
        ids = fac.loc[in_deal, "facility_id"]
        rows = pref[pref["facility_id"].isin(ids)].groupby("fiscal_year")["adp"].sum()
        used, zero = rows[rows > 0], rows[rows == 0]
        text = (
            f"{short}: {d['facilities']} — first ICE use {_fmt_date(d['first_use'])}, "
            f"contract initiation {_fmt_date(d['contract_date'])}"
        )
        if pd.notna(d["last_use"]) and d["last_use"].year < REFERENCE_YEAR - LONG_STANDING_YEARS:
            days = (d["last_use"] - d["first_use"]).days if pd.notna(d["first_use"]) else None
            text += f", last use {_fmt_date(d['last_use'])}" + (f" (a span of {days} days)" if days is not None else "")
        if len(used):
            text += (
                f"; detainees (ADP > 0) in {len(used)} fiscal year{'s' if len(used) > 1 else ''} ({year_ranges(list(used.index))}), "
                f"peak {used.max():.1f} in FY{used.idxmax()}"
            )
            later = used[used.index > used.idxmax()]
            if len(later):
                text += f", lowest since then {later.min():.2f} in FY{later.idxmin()}"
        if len(zero):
            text += f"; on file with zero ADP in {year_ranges(list(zero.index))}"
        missing = [y for y in gaps if len(used) and used.index.min() < y]
        if missing:
            text += f"; no file covers {year_ranges(missing)}"
        verdict = "long-standing deal" if d["long_standing"] else "not a long-standing deal by the rule"
        text += f"; FY{ACTIVE_FISCAL_YEAR} ADP {d['adp_active_year']:.2f} → {verdict}."
        out.append(text)
    return out


def to_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write the facility-year table with fixed columns, order and 2-decimal ADP (stable bytes)."""
    out = sort_table(df[COLUMNS]).copy()
    out["adp"] = out["adp"].round(2)
    for c in ("first_use", "last_use", "contract_date", "data_as_of"):
        out[c] = out[c].dt.strftime("%Y-%m-%d")
    return tables.write_csv(out, path, float_format="%.2f")


# --------------------------------------------------------------------------- caveats the data demand


def fiscal_year_start(fiscal_year: int) -> pd.Timestamp:
    """First day of a federal fiscal year (FY2018 starts 2017-10-01)."""
    return pd.Timestamp(year=int(fiscal_year) - 1, month=10, day=1)


def partial_years(df: pd.DataFrame) -> pd.DataFrame:
    """Preferred facility-years that cover only part of the fiscal year (``period = "year to date"``).

    Columns: facility_id, name, fiscal_year, adp, data_as_of, weeks (whole weeks from the
    fiscal year's first day to the file's data cut-off), source_file. An ADP of a
    partial year is an average over those weeks only, not over the whole year.
    """
    pref = preferred(df)
    part = pref[pref["period"] == "year to date"].copy()
    part["weeks"] = [
        int((as_of - fiscal_year_start(fy)).days // 7) for fy, as_of in zip(part["fiscal_year"], part["data_as_of"])
    ]
    cols = ["facility_id", "name", "fiscal_year", "adp", "data_as_of", "weeks", "source_file"]
    return part[cols].sort_values(["facility_id", "fiscal_year"]).reset_index(drop=True)


def recent_holding(deals: pd.DataFrame, years: int = LONG_STANDING_YEARS) -> pd.DataFrame:
    """Long-standing deals whose jail held ICE detainees only recently.

    A county of :func:`county_deals` whose deal is long-standing by the rule but whose
    first fiscal year with ADP > 0 (``first_fy_used``) is later than ``REFERENCE_YEAR - years``:
    the agreement is old, the holding is not. Columns: county_name, since, first_fy_used.
    """
    old = deals[deals["long_standing"] & deals["first_fy_used"].notna()]
    recent = old[old["first_fy_used"] > REFERENCE_YEAR - years]
    return recent[["county_name", "since", "first_fy_used"]].reset_index(drop=True)


#: Thresholds tried by :func:`rule_outcomes`: years before REFERENCE_YEAR, and the ADP the jail must exceed
#: in ACTIVE_FISCAL_YEAR.
RULE_YEARS = (5, 10, 15)
RULE_MIN_ADP = (0.0, 1.0, 5.0, 10.0)
#: What the years count from: the deal's earliest date (the rule) or the first fiscal year with detainees.
RULE_BASES = {
    "deal": "first use, contract date or first fiscal year with detainees",
    "holding": "first fiscal year with detainees (files start at FY2009)",
}


def rule_outcomes(
    deals: pd.DataFrame,
    years: tuple[int, ...] = RULE_YEARS,
    min_adp: tuple[float, ...] = RULE_MIN_ADP,
    bases: tuple[str, ...] = tuple(RULE_BASES),
) -> pd.DataFrame:
    """Which counties a "long-standing deal" rule keeps, for other thresholds than the stated ones.

    For each basis (``deal``: the deal's earliest evidence, ``since``; ``holding``: the first
    fiscal year with detainees, ``first_fy_used``), each number of ``years`` before
    :data:`REFERENCE_YEAR` and each ADP the jail must exceed in :data:`ACTIVE_FISCAL_YEAR`:
    the counties that qualify. ``stated`` marks the package's own rule. Columns: basis,
    since_at_most, adp_above, counties, n, stated.
    """
    unknown = sorted(set(bases) - set(RULE_BASES))
    if unknown:
        raise ValueError(f"unknown basis {unknown}; known: {list(RULE_BASES)}")
    column = {"deal": "since", "holding": "first_fy_used"}
    rows = []
    for basis in bases:
        for y in years:
            for adp in min_adp:
                start = deals[column[basis]]
                ok = start.notna() & (start <= REFERENCE_YEAR - y) & (deals["adp_active_year"] > adp)
                names = sorted(
                    re.sub(r"\s+County$", "", n) for n in deals.loc[ok.fillna(False).astype(bool), "county_name"]
                )
                rows.append(
                    {
                        "basis": basis,
                        "since_at_most": REFERENCE_YEAR - y,
                        "adp_above": adp,
                        "counties": ", ".join(names) or "none",
                        "n": len(names),
                        "stated": basis == "deal" and y == LONG_STANDING_YEARS and adp == 0,
                    }
                )
    return pd.DataFrame(rows)


def type_history(df: pd.DataFrame, facility_ids: list[str] | None = None) -> pd.DataFrame:
    """How each ICE file types a facility (e.g. ``USMS IGA`` in the 2017 lists, ``IGSA`` from 2019).

    One row per facility and printed type: facility_id, name, type_detailed, first_listed,
    last_listed (data cut-offs of the files that print it) and files. ICE's own files only
    (Vera's table is a third party's coding).
    """
    ice_rows = df[df["fiscal_year"].notna()]
    if facility_ids is not None:
        ice_rows = ice_rows[ice_rows["facility_id"].isin(facility_ids)]
    names = facilities(df).set_index("facility_id")["name"]
    out = (
        ice_rows[ice_rows["type_detailed"] != ""]
        .groupby(["facility_id", "type_detailed"])
        .agg(
            first_listed=("data_as_of", "min"),
            last_listed=("data_as_of", "max"),
            files=("source_file", lambda s: "; ".join(sorted(set(s)))),
        )
        .reset_index()
    )
    out.insert(1, "name", out["facility_id"].map(names))
    return out.sort_values(["facility_id", "first_listed", "type_detailed"]).reset_index(drop=True)


#: What the detention agreement types mean (ICE's facility lists).
TYPE_MEANINGS = {
    "IGSA": "an intergovernmental service agreement with ICE",
    "DIGSA": "a dedicated intergovernmental service agreement with ICE",
    "USMS IGA": "a U.S. Marshals Service intergovernmental agreement that ICE also uses",
}


def type_sentence(history: pd.DataFrame, facility_id: str, types: tuple[str, ...] = JAIL_TYPES) -> str | None:
    """``SHERBURNE COUNTY JAIL is listed as USMS IGA (...) in files dated ...; then as IGSA (...) in files dated ...``.

    Only detention-agreement ``types`` count (a family centre's other labels do not); None when
    those files give the facility one type only. "then" joins types whose listings do not overlap.
    """
    rows = history[(history["facility_id"] == facility_id) & history["type_detailed"].isin(types)]
    if rows["type_detailed"].nunique() < 2:
        return None
    parts = []
    previous_last: pd.Timestamp | None = None
    for r in rows.to_dict("records"):
        kind, first, last = r["type_detailed"], pd.Timestamp(r["first_listed"]), pd.Timestamp(r["last_listed"])
        meaning = TYPE_MEANINGS.get(kind, "")
        span = (
            f"in the file dated {first:%Y-%m-%d}"
            if first == last
            else f"in files dated {first:%Y-%m-%d} to {last:%Y-%m-%d}"
        )
        text = f"{kind}{f' ({meaning})' if meaning else ''} {span}"
        if previous_last is not None:
            text = ("then as " if previous_last < first else "and as ") + text
        parts.append(text)
        previous_last = last if previous_last is None else max(previous_last, last)
    return f"{rows['name'].iloc[0]} is listed as " + "; ".join(parts) + "."


def lowest_dropping_adp(outcomes: pd.DataFrame) -> dict[str, float]:
    """For each county the stated rule keeps: the lowest ADP threshold (same basis and years) that drops it.

    ``outcomes`` is :func:`rule_outcomes`. Counties kept at every ADP threshold tried are left out.
    """
    stated = outcomes[outcomes["stated"]]
    if len(stated) != 1:
        raise ValueError("outcomes must hold exactly one row of the stated rule")
    row = stated.iloc[0]
    same = outcomes[(outcomes["basis"] == row["basis"]) & (outcomes["since_at_most"] == row["since_at_most"])]
    out: dict[str, float] = {}
    kept = same["counties"].str.split(", ").tolist()  # the counties each rule keeps
    for county in [c for c in row["counties"].split(", ") if c != "none"]:
        dropping = same[[county not in names for names in kept]]
        if len(dropping):
            out[county] = float(dropping["adp_above"].min())
    return out


def deal_dates(deal: pd.Series) -> str:
    """``first ICE use 1992-03-13; contract initiation 2002-03-21`` for one row of :func:`county_deals`."""
    parts = []
    if pd.notna(deal["first_use"]):
        parts.append(f"first ICE use {pd.Timestamp(deal['first_use']):%Y-%m-%d}")
    if pd.notna(deal["contract_date"]):
        parts.append(f"contract initiation {pd.Timestamp(deal['contract_date']):%Y-%m-%d}")
    return "; ".join(parts) or "no date on file"
