"""ICE 287(g) participating and pending agency sheets: the tidy table, the parsed-sheet cache, counts.

:func:`load_sheet` turns one ICE sheet (the 2025 workbooks, the January 2025
web-page scrapes, or a newer sheet a user downloads), as read by
:func:`helpers.sheets.read_raw`, into one tidy table, :data:`SCHEMA`.  One
row is one row of the sheet: for participating sheets, one agreement (an
agency and a support type).

What the normalisation does, and why (each step maps the *distinct* printed
values of a column once and broadcasts the result, never a Python loop per row;
errors name the file and the first row holding the value):

* normalises the state through :func:`helpers.geo.normalize_state`; a row
  printed under another state than its agency's (a whole row misplaced, not a
  misspelling) moves only through ``data/corrections/agency_states.csv``, keyed
  on the printed state and the agency; the
  support type to one of :data:`SUPPORT_TYPES` (misspellings only through
  ``data/corrections/support_types.csv``); anything else raises with the row;
* the agency TYPE to County, Municipality or State (a misspelt TYPE through
  ``data/corrections/agency_type_names.csv``, keyed on the printed value alone;
  ``#NA``, or a TYPE that ICE's other sheets contradict, for one agency through
  ``data/corrections/agency_types.csv``);
* places every agency that is not a state agency in its county: the county ICE
  prints is matched to a Census FIPS code with :func:`helpers.geo.match_county`,
  with the same rules and corrections whatever the agency's type.  A printed
  county that matches no county of the state **stops the load** with an error
  naming the file, the row and ``data/corrections/county_names.csv`` (a typo is
  never dropped silently).  Rows with no county printed, and rows whose county
  the corrections mark as no county of the state, are kept and flagged
  (``county_match``); a state agency serves the whole state, so the county it
  may print (its headquarters) is kept as printed and not used;
* marks the county's own agency (``county_agency``, :func:`is_county_agency`):
  ICE's TYPE County, except that constables go by their name;
* reads SIGNED as a date (typos only through ``data/corrections/signed_dates.csv``,
  keyed on the printed text, or the ISO date of a date cell);
* gives every agency an identity, :func:`agency_key` (the ``agencies`` unit);
* drops **exact duplicate rows** (every printed cell and the MOA link equal to
  an earlier row of the same sheet), keeping the first: ICE's August 2025
  sheets repeat two rows verbatim, and one agency x support type is one
  agreement.  The dropped rows are listed in ``df.attrs["duplicates"]`` and a
  printed line; they are never counted.

Checks that need the file name (:func:`helpers.sheets.parse_sheet_name`):
the layout rule (:func:`helpers.sheets.check_layout`), the list type (the
content decides; a name that says otherwise is reported) and **no agreement
signed after the sheet's publication** (a wrong date in the name, or a SIGNED
typo: the error says which correction file fixes which).

Parsed sheets are cached by content (:func:`cache_key`): the tidy table of
each distinct sha256 is written once to ``data/interim/sheets/`` (git-ignored
Arrow IPC files) and read back with the same columns and dtypes; the name columns
are added on every load.

Finding the sheet (:func:`choose_sheet`, :func:`resolve_sheet`,
:func:`select_sheet`, :func:`catalogue`) and reading the workbook live in
:mod:`helpers.sheets`; they are re-exported here because the notebooks call
them as ``ice.*``.

Counting units are explicit (:func:`count_units`): ``agreements`` (rows),
``agencies`` (distinct :func:`agency_key` per state), ``counties`` (distinct
counties whose own county agency holds an agreement: the article's unit) and
``counties_any`` (distinct counties with an agreement of any agency located
there).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Iterable
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers import data, geo, paths, sheets, table_cache
from helpers.sheets import (  # noqa: F401  (re-exported: notebooks and tests call ice.*)
    ARCHIVE_FOLDER,
    ICE_FOLDER,
    REQUIRED,
    AsOfError,
    SheetChoice,
    SheetFormatError,
    SheetKindError,
    SheetNotFoundError,
    _clean,  # one cleaning rule for printed values
    catalogue,
    choose_sheet,
    parse_as_of,
    parse_sheet_name,
    resolve_sheet,
    select_sheet,
    versions,
)

SUPPORT_TYPES = ("Jail Enforcement Model", "Task Force Model", "Warrant Service Officer")
AGENCY_TYPES = {"county": "County", "municipality": "Municipality", "state": "State", "state agency": "State"}
SCHEMA = {
    "source_file": "file name of the sheet",
    "list": "participating or pending: the list type of the content (a sheet with SIGNED/MOA/ADDENDUM is participating)",
    "published": "publication time from the file name (nominal hour for am/mid/pm; capture time for captures)",
    "published_label": "publication as printed in the file name, e.g. '2025-10-31 pm'; captures say 'capture (upper bound)'",
    "published_kind": "how the time was obtained: 'ice name', 'capture time (upper bound)' or 'corrected'",
    "row": "spreadsheet row number (1-based, as Excel shows it)",
    "state": "state or territory, upper case as ICE prints it (typos and misplaced rows corrected)",
    "state_name": "state display name",
    "usps": "postal code",
    "state_fips": "2-digit state FIPS",
    "state_kind": "state, district or territory",
    "agency": "law enforcement agency, spaces trimmed",
    "agency_key": "agency identity within the state (helpers.ice.agency_key): the same agency under name variants",
    "agency_type": "County, Municipality or State (missing where the sheet has no TYPE column)",
    "county_printed": "county as printed (spaces trimmed; missing if not printed)",
    "county_fips": "5-digit Census county FIPS of the county the agency is in, whatever its type (missing for state agencies, a county not printed, or one the corrections mark as none of the state's)",
    "county_name": "Census county name for county_fips",
    "county_match": "how the county was matched: 'exact', 'base', 'agency', 'correction' (see helpers.geo), or why there is none: 'state agency', 'no county printed', 'no county (correction)', 'no Census counties'",
    "county_agency": "True when the agency is its county's own agency (helpers.ice.is_county_agency), so its county has signed in the article's unit",
    "support_type": "Jail Enforcement Model, Task Force Model or Warrant Service Officer (missing only for a blank cell in a pending sheet)",
    "signed": "date the agreement was signed (participating sheets)",
    "moa_url": "link to the memorandum of agreement (cell hyperlink), if any",
    "addendum": "ADDENDUM column as printed (sheets from July 2025)",
}
#: dtype of every tidy column (text columns are pandas' string dtype, missing values NaN).
DTYPES = {c: "str" for c in SCHEMA} | {
    "row": "int64",
    "published": "datetime64[us]",
    "signed": "datetime64[us]",
    "county_agency": "bool",
}
#: Columns that come from the file name; the rest come from the bytes and are cached by sha256.
NAME_COLUMNS = ["source_file", "published", "published_label", "published_kind"]
CONTENT_COLUMNS = [c for c in SCHEMA if c not in NAME_COLUMNS]
SUPPORT_CORRECTIONS = paths.CORRECTIONS / "support_types.csv"
SIGNED_CORRECTIONS = paths.CORRECTIONS / "signed_dates.csv"
AGENCY_TYPE_CORRECTIONS = paths.CORRECTIONS / "agency_types.csv"
AGENCY_TYPE_NAME_CORRECTIONS = paths.CORRECTIONS / "agency_type_names.csv"
AGENCY_NAME_CORRECTIONS = paths.CORRECTIONS / "agency_names.csv"
AGENCY_STATE_CORRECTIONS = paths.CORRECTIONS / "agency_states.csv"
#: Bump when the tidy table a sheet gives changes in a way the source hash below would not show.
LOADER_VERSION = 3  # 3: county_fips for every local agency, county_agency, unmatched counties refused
#: Parsed-sheet cache folder (git-ignored); ``$ICE287G_SHEET_CACHE`` names another folder, or ``off``.
CACHE_DIR = paths.DATA / "interim" / "sheets"
CACHE_ENV = "ICE287G_SHEET_CACHE"
#: Cached tables are Arrow IPC files, uncompressed: a notebook of the archive reads a few hundred of them, and
#: these read several times faster than Parquet (which earlier caches used; :func:`prune_cache` removes those).
CACHE_SUFFIX = ".arrow"
_CACHE_SUFFIXES = (CACHE_SUFFIX, ".parquet")


@lru_cache(maxsize=1)
def _corrections() -> dict[str, dict]:
    support = pd.read_csv(SUPPORT_CORRECTIONS, dtype=str, keep_default_na=False)
    signed = pd.read_csv(SIGNED_CORRECTIONS, dtype=str, keep_default_na=False)
    types = pd.read_csv(AGENCY_TYPE_CORRECTIONS, dtype=str, keep_default_na=False)
    type_names = pd.read_csv(AGENCY_TYPE_NAME_CORRECTIONS, dtype=str, keep_default_na=False)
    names = pd.read_csv(AGENCY_NAME_CORRECTIONS, dtype=str, keep_default_na=False)
    moved = pd.read_csv(AGENCY_STATE_CORRECTIONS, dtype=str, keep_default_na=False)
    return {
        "support": {geo.key(p): s for p, s in zip(support["printed"], support["support_type"])},
        "signed": dict(zip(signed["printed"].str.strip(), signed["signed"])),
        "types": {
            (st.strip().upper(), geo.key(agency), printed.strip()): kind
            for st, agency, printed, kind in zip(
                types["state"], types["agency"], types["printed"], types["agency_type"]
            )
        },
        "type_names": {p.strip().casefold(): t for p, t in zip(type_names["printed"], type_names["agency_type"])},
        "agency_names": {
            (st.strip().upper(), _clean(printed)): agency
            for st, printed, agency in zip(names["state"], names["printed"], names["agency"])
        },
        "agency_states": {
            (printed.strip().upper(), geo.key(agency)): geo.normalize_state(st)
            for printed, agency, st in zip(moved["printed_state"], moved["agency"], moved["state"])
        },
    }


# --------------------------------------------------------------------------- agency identity

#: Abbreviations written out before comparing ("Kenneth City PD" = "Kenneth City Police Department").
_ABBREVIATIONS = {"dept": "department", "pd": "police department", "pct": "precinct", "twp": "township"}
#: Words that name the kind of organisation after a role word: "Sheriff's Office" = "Sheriff's Department".
_ORG_WORDS = {"office", "offices", "department"}
#: Role words (plural or possessive folded to the singular) after which an organisation word is dropped.
_ROLE_WORDS = {
    "sheriff": "sheriff",
    "sheriffs": "sheriff",
    "police": "police",
    "constable": "constable",
    "constables": "constable",
    "marshal": "marshal",
    "marshals": "marshal",
}


@lru_cache(maxsize=1 << 16)
def _agency_identity(name: str) -> str:
    text = name.casefold().replace("&", " and ")
    text = re.sub(r"[\u2018\u2019'`]", "", text)  # sheriff's -> sheriffs
    text = geo.key(re.sub(r"[^\w\s]", " ", text))  # punctuation separates words; St. = Saint; spacing folded
    words = [w for word in text.split() for w in _ABBREVIATIONS.get(word, word).split()]
    text = re.sub(r"^the ", "", " ".join(words))
    text = re.sub(r"\boffice of the (sheriff|constable|marshal)\b", r"\1", text)
    out: list[str] = []
    for w in text.split():
        if w in _ORG_WORDS and out and out[-1] in _ROLE_WORDS.values():
            continue
        out.append(_ROLE_WORDS.get(w, w))
    return " ".join(out)


@lru_cache(maxsize=1 << 16)
def agency_key(state: object, agency: object) -> str:
    """Identity of an agency within a state: the same agency under its name variants gets the same key.

    The rule: a name in ``data/corrections/agency_names.csv`` (keyed on state
    and printed name, with a reason) is replaced by its canonical name; then
    case, spacing, punctuation and apostrophes are ignored, ``&`` = ``and``,
    ``St.`` = ``Saint``, the abbreviations Dept, PD, Pct and Twp are written
    out, a leading "The" is dropped, and the organisation word
    after a role word is dropped with the role word in the singular:
    "Sheriff's Office" = "Sheriff's Department" = "Sheriffs Office" =
    "Office of the Sheriff" -> ``sheriff``; likewise Police, Constable and
    Marshal.  Everything else is kept, so a county sheriff and a city police
    department of the same place, or two constable precincts, stay apart.
    """
    state_text = str(state or "").strip().upper()
    printed = _clean(agency) if isinstance(agency, str) else None
    if printed is None:
        return ""
    printed = _corrections()["agency_names"].get((state_text, printed), printed)
    return _agency_identity(printed)


# --------------------------------------------------------------------------- per-distinct-value normalisation


def _distinct(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct combinations of the value ``arrays`` (one code per row) and each code's first row."""
    codes, span = np.zeros(len(arrays[0]), dtype=np.int64), 1
    for values in arrays:  # combine per-column codes arithmetically, re-numbering before the product could overflow
        column_codes, uniques = pd.factorize(values, use_na_sentinel=False)
        if span * (len(uniques) + 1) > 2**62:
            codes, kept = pd.factorize(codes)
            span = len(kept)
        codes, span = codes * (len(uniques) + 1) + column_codes, span * (len(uniques) + 1)
    _, first, codes = np.unique(codes, return_index=True, return_inverse=True)
    return codes.reshape(-1), first


def _per_distinct(
    rows: np.ndarray,
    arrays: list[np.ndarray],
    func: Callable[..., object],
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``func(label, *values)`` once per distinct combination of the value ``arrays``, broadcast to every row.

    ``rows`` labels the rows (e.g. their positions, for error messages): ``label`` is that of the
    combination's first occurrence.  ``distinct`` reuses :func:`_distinct` of the same arrays.
    """
    if len(rows) == 0:
        return np.empty(0, dtype=object)
    codes, first = distinct if distinct is not None else _distinct(arrays)
    results = np.empty(len(first), dtype=object)
    for code, i in enumerate(first):
        results[code] = func(int(rows[i]), *(a[i] for a in arrays))
    return results[codes]


def _columns_per_distinct(
    rows: np.ndarray, arrays: list[np.ndarray], func: Callable[..., tuple], width: int
) -> list[np.ndarray]:
    """Like :func:`_per_distinct` for a ``func`` that returns a tuple of ``width`` values: one array per value."""
    if len(rows) == 0:
        return [np.empty(0, dtype=object) for _ in range(width)]
    codes, first = _distinct(arrays)
    results = [func(int(rows[i]), *(a[i] for a in arrays)) for i in first]
    table = np.empty((len(results), width), dtype=object)
    table[:] = results
    return [table[:, j][codes] for j in range(width)]


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


def _type_name(printed: object) -> str | None:
    """County, Municipality or State for a printed TYPE (misspellings through the printed-value corrections);
    None when blank or not recognised."""
    text = _clean(printed)
    if not isinstance(text, str):
        return None
    text = _corrections()["type_names"].get(text.casefold(), text)
    return AGENCY_TYPES.get(text.casefold())


def _agency_type(state: str, agency: str, printed: object, where: str) -> str | None:
    text = _clean(printed)
    if text is None:
        return None
    fixed = _corrections()["types"].get((state, geo.key(agency), text))
    if fixed:
        return fixed
    canonical = _type_name(text)
    if canonical is None:
        raise SheetFormatError(
            f"{where}: unknown agency TYPE {text!r}; expected County, Municipality or State Agency. A misspelt "
            f"TYPE goes in {paths.relative(AGENCY_TYPE_NAME_CORRECTIONS)}; a placeholder such as #NA for one "
            f"agency in {paths.relative(AGENCY_TYPE_CORRECTIONS)}; each with a reason."
        )
    return canonical


def _signed_text(printed: object) -> str:
    if isinstance(printed, datetime) and printed == datetime(printed.year, printed.month, printed.day):
        return printed.date().isoformat()
    if isinstance(printed, (date, datetime)):
        return printed.isoformat()
    return str(printed).strip()


def _signed(printed: object, where: str) -> pd.Timestamp | None:
    if printed is None:
        return None
    text = _signed_text(printed)
    fixed = _corrections()["signed"].get(text)
    if fixed:
        return pd.Timestamp(fixed)
    if isinstance(printed, (datetime, date, pd.Timestamp)):
        return pd.Timestamp(printed).normalize()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"):
        try:
            return pd.Timestamp(datetime.strptime(text, fmt))
        except ValueError:
            continue
    raise SheetFormatError(
        f"{where}: SIGNED {text!r} is not a date. A typo goes in {paths.relative(SIGNED_CORRECTIONS)} with a reason."
    )


# Pure functions of printed values, cached across sheets (the same values recur on every sheet).


@lru_cache(maxsize=1 << 12)
def _state(printed: object) -> str:
    return geo.normalize_state(printed)


#: ``county_match`` of a state agency: it serves the whole state; a county it prints is kept as printed, not used.
STATE_AGENCY = "state agency"


@lru_cache(maxsize=1 << 16)
def _county_of(state: str, printed: object, agency: str, agency_type: object) -> tuple[str | None, str | None, str]:
    """County FIPS, Census name and matching rule of an agency that is not a state agency (same rules for every
    type); ``unmatched`` is returned for the caller to refuse with the row."""
    if agency_type == "State":
        return None, None, STATE_AGENCY
    fips, rule = geo.match_county(state, printed, agency)
    if rule == geo.UNMATCHED and not isinstance(printed, str) and agency_type != "County":
        rule = geo.NO_COUNTY_PRINTED  # a name that only looks like a county's ("Police Authority of X County")
    return fips, _county_names().get(fips) if fips else None, rule


#: A constable's office named for its county: "Galveston County Constable's Office Pct.1", "Harris County Pct. 4
#: Constable" (the name starts with the county).
_COUNTY_CONSTABLE = re.compile(r"^(?:the\s+)?(.+?\s+county)\b.*\bconstable", re.IGNORECASE)
_CONSTABLE = re.compile(r"\bconstable", re.IGNORECASE)


@lru_cache(maxsize=1 << 16)
def is_county_agency(state: str, agency: str, agency_type: str | None, placed: bool = True) -> bool:
    """True when ``agency`` is its county's own agency: its agreement makes its county one that has signed.

    The rule, in order:

    1. a state agency (TYPE State) is not;
    2. **constables go by their name, not by ICE's TYPE**, which is not stable
       for them (ICE types Galveston County Constable's Office Pct.1 County on
       some sheets and Municipality on others): a constable's office whose name
       starts with a county of its state ("<Name> County Constable ...",
       "<Name> County Pct. 4 Constable", as in Texas and Tennessee, where
       constables are county officers elected in the county's precincts or
       districts) is a county agency; any other constable (a township, borough,
       ward or state constable, as in Pennsylvania) is not;
    3. otherwise ICE's TYPE decides: County is, Municipality is not;
    4. on sheets without a TYPE column (January and February 2025), an agency
       whose county was found (``placed``; the county then comes from its name,
       "<Name> County ...") is taken as that county's agency, as before.
    """
    if agency_type == "State":
        return False
    if _CONSTABLE.search(agency):
        m = _COUNTY_CONSTABLE.match(agency.strip())
        return m is not None and geo.match_county(state, m.group(1))[0] is not None
    if agency_type is None:
        return bool(placed)
    return agency_type == "County"


def _unmatched_error(where: str, state: str, printed: object, agency: str, agency_type: object) -> SheetFormatError:
    name = geo.state_info(state)["name"]
    what = f"county {printed!r}" if isinstance(printed, str) else f"no county, and the agency's name, {agency!r},"
    return SheetFormatError(
        f"{where}: {what} matches no county of {name} (agency {agency!r}, TYPE {agency_type or 'not printed'}). "
        f"Add the printed county to {paths.relative(geo.COUNTY_CORRECTIONS)} (state, printed, county_fips, reason): "
        f"the Census FIPS of the county meant, or an empty county_fips if it is none of {name}'s counties."
    )


def _duplicates(raw: sheets.RawSheet) -> tuple[np.ndarray, list[list[int]]]:
    """Rows to keep, and ``[[row, first_row], ...]`` for rows whose every printed cell (and MOA link) equals an
    earlier row's."""
    if len(raw.rows) == 0:
        return np.ones(0, dtype=bool), []
    codes = np.zeros(len(raw.rows), dtype=np.int64)
    for values in raw.cells.values():  # re-factorize at each step: nine columns could overflow the product
        column_codes, uniques = pd.factorize(values, use_na_sentinel=False)
        codes, _ = pd.factorize(codes * (len(uniques) + 1) + column_codes)
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    first_of = first[inverse.reshape(-1)]
    repeated = np.flatnonzero(first_of != np.arange(len(codes)))
    pairs = [[int(raw.rows[i]), int(raw.rows[first_of[i]])] for i in repeated]
    keep = np.ones(len(codes), dtype=bool)
    keep[repeated] = False
    return keep, pairs


def _arrow_type(column: str) -> pa.DataType:
    return {
        "row": pa.int64(),
        "published": pa.timestamp("us"),
        "signed": pa.timestamp("us"),
        "county_agency": pa.bool_(),
    }.get(column, pa.string())


def _arrow_schema(columns: list[str]) -> pa.Schema:
    return pa.schema([pa.field(c, _arrow_type(c)) for c in columns])


def _normalise(raws: list[sheets.RawSheet]) -> list[tuple]:
    """The content columns of the tidy table (:data:`CONTENT_COLUMNS`) of each raw sheet, as Arrow tables, and
    the facts the name checks need (``meta``).

    The sheets are normalised together: every distinct printed value (or combination) of all of them is mapped
    once, so a value that recurs on many sheets costs one lookup.  Errors name the file and the row of the value's
    first occurrence.
    """
    kept: list[np.ndarray] = []
    metas: list[dict[str, Any]] = []
    for raw in raws:
        keep, duplicates = _duplicates(raw)
        rows = raw.rows[keep]
        missing_agency = np.flatnonzero(pd.isna(raw.cells["agency"][keep]))
        if len(missing_agency):
            raise SheetFormatError(f"{raw.file}, row {int(rows[missing_agency[0]])}: no LAW ENFORCEMENT AGENCY")
        kept.append(keep)
        metas.append(
            {
                "file": raw.file,
                "list": raw.list,
                "header": raw.header,
                "worksheet": raw.worksheet,
                "worksheets": raw.worksheets,
                "duplicates": duplicates,
                "rows": int(keep.sum()),
            }
        )
    sizes = [int(m["rows"]) for m in metas]
    sheet_of = np.repeat(np.arange(len(raws)), sizes)
    rows = np.concatenate([raw.rows[k] for raw, k in zip(raws, kept)]) if raws else np.empty(0, dtype=np.int64)
    col = {
        c: np.concatenate([raw.cells[c][k] for raw, k in zip(raws, kept)]) if raws else np.empty(0, dtype=object)
        for c in sheets.RAW_COLUMNS[1:]
    }
    kinds = np.array([raw.list for raw in raws], dtype=object)[sheet_of]
    position = np.arange(len(rows))

    def where(i: int) -> str:
        return f"{raws[sheet_of[i]].file}, row {int(rows[i])}"

    def state_of(i: int, printed: object) -> str:
        try:
            return _state(printed)
        except geo.UnknownStateError as exc:
            raise SheetFormatError(f"{where(i)}: {exc}") from exc

    state = _per_distinct(position, [col["state_printed"]], state_of)
    agency = col["agency"]
    if _corrections()["agency_states"]:  # a row printed under another state than its agency's
        moved = _per_distinct(
            position, [state, agency], lambda i, s, a: _corrections()["agency_states"].get((s, geo.key(a)))
        )
        hit = pd.notna(moved)
        state[hit] = moved[hit]
    # TYPE: each printed value once; a value that is not a TYPE (e.g. #NA) only through the per-agency corrections.
    printed_type = col["agency_type_printed"]
    agency_type = _per_distinct(position, [printed_type], lambda i, t: _type_name(t))
    odd = np.flatnonzero(pd.isna(agency_type) & pd.notna(printed_type))
    if len(odd):
        agency_type[odd] = _per_distinct(
            odd, [state[odd], agency[odd], printed_type[odd]], lambda i, s, a, t: _agency_type(s, a, t, where(i))
        )
    if _corrections()["types"]:  # a TYPE that ICE's other sheets contradict, for one agency
        fixed = _per_distinct(
            position,
            [state, agency, printed_type],
            lambda i, s, a, t: _corrections()["types"].get((s, geo.key(a), _clean(t))) if isinstance(t, str) else None,
        )
        hit = pd.notna(fixed)
        agency_type[hit] = fixed[hit]
    county = col["county_printed"].copy()
    county[
        _per_distinct(position, [county], lambda i, c: isinstance(c, str) and c.upper() in ("#NA", "N/A", "NA")).astype(
            bool
        )
    ] = None
    # The agency name matters for the county only when none is printed (the agency-name rule of helpers.geo).
    agency_for_county = np.where(pd.isna(county), agency, "")
    county_fips, county_name, county_match = _columns_per_distinct(
        position, [state, county, agency_for_county, agency_type], lambda i, s, c, a, t: _county_of(s, c, a, t), 3
    )
    unmatched_rows = np.flatnonzero(county_match == geo.UNMATCHED)
    if len(unmatched_rows):
        i = int(unmatched_rows[0])
        raise _unmatched_error(where(i), state[i], county[i], agency[i], agency_type[i])
    county_agency = _per_distinct(
        position,
        [state, agency, agency_type, pd.notna(county_fips)],
        lambda i, s, a, t, placed: is_county_agency(s, a, t, bool(placed)),
    ).astype(bool)
    refs = _state_columns()
    state_name, usps, state_fips, state_kind = _columns_per_distinct(position, [state], lambda i, s: refs[s], 4)
    signed = _per_distinct(position, [col["signed_printed"]], lambda i, p: _signed(p, where(i)))
    content = {
        "list": kinds,
        "row": rows.astype(np.int64),
        "state": state,
        "state_name": state_name,
        "usps": usps,
        "state_fips": state_fips,
        "state_kind": state_kind,
        "agency": agency,
        "agency_key": _per_distinct(position, [state, agency], lambda i, s, a: agency_key(s, a)),
        "agency_type": agency_type,
        "county_printed": county,
        "county_fips": county_fips,
        "county_name": county_name,
        "county_match": county_match,
        "county_agency": county_agency,
        "support_type": _per_distinct(
            position,
            [col["support_type_printed"], kinds],
            lambda i, p, k: canonical_support_type(p, where(i), blank_ok=k == "pending"),
        ),
        "signed": signed,
        "moa_url": col["moa_url"],
        "addendum": _per_distinct(position, [col["addendum"]], lambda i, v: None if v is None else _signed_text(v)),
    }
    table = pa.table(
        {c: pa.array(content[c], type=_arrow_type(c), from_pandas=True) for c in CONTENT_COLUMNS},
        schema=_arrow_schema(CONTENT_COLUMNS),
    )
    out, offset = [], 0
    for i, meta in enumerate(metas):
        part = table.slice(offset, sizes[i])
        latest = pc.max(part.column("signed")).as_py()
        meta["max_signed"] = None if latest is None else latest.date().isoformat()
        out.append((part, meta))
        offset += sizes[i]
    return out


@lru_cache(maxsize=1)
def _state_columns() -> dict[str, tuple[str, str, str, str]]:
    return {r["state"]: (r["name"], r["usps"], r["fips"], r["kind"]) for r in geo.states().to_dict("records")}


@lru_cache(maxsize=1)
def _county_names() -> dict[str, str]:
    return dict(zip(geo.counties()["county_fips"], geo.counties()["county_name"]))


# --------------------------------------------------------------------------- parsed-sheet cache


def _cache_dir() -> Path | None:
    env = os.environ.get(CACHE_ENV)
    if env and env.strip().lower() == "off":
        return None
    return Path(env) if env else CACHE_DIR


def cache_key(registry: dict | None = None) -> str:
    """What the cached tidy table of a sheet depends on besides its bytes (16 hex digits).

    The hash covers :data:`LOADER_VERSION`, the source of the loading modules
    (``sheets``, ``ice``, ``geo``), every correction file, the states reference
    table and the registered sha256 of the Census county list.  Any change gives
    a new key, so a stale table is never read.
    """
    digest = hashlib.sha256(f"loader {LOADER_VERSION}\n".encode())
    for source in (sheets.__file__, geo.__file__, __file__):
        digest.update(Path(source).read_bytes())
    for path in sorted(paths.CORRECTIONS.glob("*.csv")) + [geo.STATES_CSV]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    try:
        digest.update(data.resolve(geo.GAZETTEER, registry).sha256.encode())
    except data.RawDataError:
        pass
    return digest.hexdigest()[:16]


def cache_path(sha256: str, key: str | None = None, folder: Path | None = None) -> Path | None:
    """Cache file of one content: ``<folder>/<sha256>-<key>.arrow`` (None when the cache is off)."""
    folder = folder if folder is not None else _cache_dir()
    if folder is None:
        return None
    return folder / f"{sha256}-{key or cache_key()}{CACHE_SUFFIX}"


def _cache_read(target: Path) -> tuple[pa.Table, dict[str, Any]] | None:
    table = table_cache.read_arrow(target)
    if table is None:
        return None  # missing, half-written by a crashed process, or foreign: parse again
    try:
        meta = json.loads(table.schema.metadata[b"ice287g"])
    except (KeyError, ValueError, TypeError):  # no or foreign metadata
        return None
    table = table.replace_schema_metadata(None)
    if not table.schema.equals(_arrow_schema(CONTENT_COLUMNS)):
        return None
    return table, meta


def _cache_write(target: Path, table: pa.Table, meta: dict[str, Any]) -> None:
    """Write ``table`` with its ``meta`` atomically (:func:`helpers.table_cache.write_arrow`)."""
    table_cache.write_arrow(target, table.replace_schema_metadata({b"ice287g": json.dumps(meta).encode()}))


def prune_cache(key: str | None = None, folder: Path | None = None) -> int:
    """Delete cached tables made under another :func:`cache_key` (stale: another loader or corrections) or in
    the earlier Parquet format; returns how many were deleted."""
    folder = folder if folder is not None else _cache_dir()
    key = key or cache_key()
    if folder is None or not folder.is_dir():
        return 0
    stale = [
        e.path
        for e in os.scandir(folder)
        if e.name.endswith(_CACHE_SUFFIXES) and not e.name.endswith(f"-{key}{CACHE_SUFFIX}")
    ]
    for path in stale:
        Path(path).unlink(missing_ok=True)
    return len(stale)


def _contents(files: dict[str, tuple[Path, str]], key: str | None) -> dict[str, tuple]:
    """The content part of the tidy table (Arrow) and its meta for each sha256 in ``files`` (-> local path, file
    name): from the cache, or parsed together (:func:`_normalise`) and cached."""
    out, todo = {}, []
    for sha, (path, file) in files.items():
        target = cache_path(sha, key)
        cached = _cache_read(target) if target is not None else None
        if cached is not None:
            out[sha] = cached
        else:
            todo.append((sha, sheets.read_raw(path, file)))
    for (sha, _), (table, meta) in zip(todo, _normalise([raw for _, raw in todo])):
        meta["sha256"] = sha
        target = cache_path(sha, key)
        if target is not None:
            _cache_write(target, table, meta)
        out[sha] = (table, meta)
    return out


# --------------------------------------------------------------------------- loading


@lru_cache(maxsize=1 << 12)
def _name(file: str, sha256: str) -> sheets.SheetName:
    return sheets.parse_sheet_name(file, sha256)


def _check_publication(
    file: str, sha256: str, table: pa.Table, meta: dict[str, Any]
) -> tuple[sheets.SheetName, dict[str, Any]]:
    """The checks that need the file name; returns the parsed name and the sheet's attrs."""
    name = _name(file, sha256)
    sheets.check_layout(meta["header"], meta["list"], name.published, file)
    if (
        meta["max_signed"]
        and meta["list"] == "participating"
        and meta["max_signed"] > name.published.date().isoformat()
    ):
        content = table.to_pandas()
        late = content[content["signed"].dt.date > name.published.date()]
        shown = "; ".join(f"row {r.row}: {r.agency} signed {r.signed:%Y-%m-%d}" for r in late.head(3).itertuples())
        raise SheetFormatError(
            f"{file}: {len(late)} agreement(s) signed after the sheet's publication ({name.label}), e.g. "
            f"{shown}. A sheet cannot list agreements signed after it was published: if the name's date is "
            f"wrong, correct it in {paths.relative(sheets.SHEET_NAME_CORRECTIONS)}; if a SIGNED cell is a "
            f"typo, in {paths.relative(SIGNED_CORRECTIONS)}; each with a reason."
        )
    attrs = {
        "file": file,
        "sha256": sha256,
        "list": meta["list"],
        "name_list": name.list,
        "published_label": name.label,
        "published_kind": name.published_kind,
        "header": Report(meta["header"]),
        "worksheet": meta["worksheet"],
        "worksheets": Report(meta["worksheets"]),
        "duplicates": Report({"file": file, "row": r, "same_as_row": f} for r, f in meta["duplicates"]),
    }
    return name, attrs


def _assemble(publications: list[tuple[str, str]], contents: dict) -> pd.DataFrame:
    """One tidy table for ``publications`` (file, sha256): the cached contents, one after the other, with the
    name columns added; ``attrs["sheets"]`` holds each publication's attrs."""
    names, all_attrs, counts = [], [], []
    for file, sha in publications:
        table, meta = contents[sha]
        name, attrs = _check_publication(file, sha, table, meta)
        names.append(name)
        all_attrs.append(attrs)
        counts.append(table.num_rows)
    if publications:
        table = pa.concat_tables([contents[sha][0] for _, sha in publications])
    else:
        table = _arrow_schema(CONTENT_COLUMNS).empty_table()
    which = pa.array(np.repeat(np.arange(len(publications)), counts))
    named = {
        "source_file": pa.array([n.file for n in names], pa.string()).take(which),
        "published": pa.array([n.published for n in names], pa.timestamp("us")).take(which),
        "published_label": pa.array([n.label for n in names], pa.string()).take(which),
        "published_kind": pa.array([n.published_kind for n in names], pa.string()).take(which),
    }
    columns = [named[c] if c in named else table.column(c) for c in SCHEMA]
    out = pa.Table.from_arrays(columns, schema=_arrow_schema(list(SCHEMA))).to_pandas()
    out.attrs = {"sheets": Report(all_attrs), "duplicates": Report(d for a in all_attrs for d in a["duplicates"])}
    return out


class Report(list):
    """A read-only list kept in ``df.attrs``: pandas deep-copies attrs on every operation, so a report of
    hundreds of sheets would slow every later step; this list is shared instead of copied."""

    def __deepcopy__(self, memo: dict) -> Report:
        return self


def _report(attrs: dict, stacklevel: int = 3) -> None:
    """Say what the loader did that a reader must know (list-type mismatch, another worksheet)."""
    file = attrs["file"]
    if attrs["name_list"] != attrs["list"]:
        warnings.warn(
            f"{file}: the name says {attrs['name_list']} but the content is a {attrs['list']} list "
            f"({'no' if attrs['list'] == 'pending' else 'a'} SIGNED/MOA column); the content decides, and the "
            f"rows are marked list={attrs['list']}.",
            stacklevel=stacklevel,
        )
    if attrs["worksheet"] != attrs["worksheets"][0]:
        warnings.warn(
            f"{file}: ICE's header is on worksheet '{attrs['worksheet']}', which is read (worksheets: "
            f"{attrs['worksheets']}).",
            stacklevel=stacklevel,
        )


def duplicates_sentence(duplicates: list[dict]) -> str:
    """One line on the exact duplicate rows dropped (empty when there were none)."""
    if not duplicates:
        return ""
    files = sorted({d["file"] for d in duplicates})
    shown = "; ".join(f"{d['file']} row {d['row']} = row {d['same_as_row']}" for d in duplicates[:3])
    more = f"; and {len(duplicates) - 3} more" if len(duplicates) > 3 else ""
    return (
        f"Dropped {len(duplicates)} exact duplicate row{'s' if len(duplicates) != 1 else ''} "
        f"(every cell equal to an earlier row of the same sheet; one agency x support type is one agreement) "
        f"in {len(files)} sheet{'s' if len(files) != 1 else ''}: {shown}{more}."
    )


def load_sheet(
    path: str | Path, name: str | None = None, *, sha256: str | None = None, report: bool = True
) -> pd.DataFrame:
    """Read one ICE participating or pending sheet into the tidy :data:`SCHEMA` table.

    ``name`` is the file name to parse the publication time from (defaults to
    the path's own name); ``sha256`` the file's hash when the caller has
    verified it (otherwise it is computed).  The content is read from the
    parsed-sheet cache when it holds these bytes.  Raises
    :class:`SheetFormatError` for anything that does not fit the schema, naming
    the file and the row or column.  ``df.attrs`` says which list type the
    content holds (``list``; ``name_list`` is what the name says), which
    worksheet was read and which exact duplicate rows were dropped
    (``duplicates``); with ``report`` a dropped duplicate is also printed and a
    name/content mismatch or another worksheet is warned about.
    """
    path = Path(path)
    file = Path(name).name if name else path.name
    if not path.is_file():
        raise FileNotFoundError(
            f"{file}: no such file ({path}); check the path, or run `make data` for a registered sheet"
        )
    sha256 = sha256 or data.file_sha256(path)
    _name(file, sha256)  # an undatable name fails before any parsing
    out = _assemble([(file, sha256)], _contents({sha256: (path, file)}, None))
    attrs = {**out.attrs["sheets"][0], "duplicates": out.attrs["duplicates"]}
    if report:
        _report(attrs)
        if attrs["duplicates"]:
            print(duplicates_sentence(attrs["duplicates"]))
    out.attrs = attrs
    return out


def load_sheets(names: Iterable[str], registry: dict | None = None) -> pd.DataFrame:
    """Load several registered sheets (fetched and verified) into one table; each content is parsed once.

    ``df.attrs["duplicates"]`` lists the exact duplicate rows dropped in any of
    them (one printed line says how many); ``df.attrs["sheets"]`` has each
    sheet's attrs.
    """
    registry = registry if registry is not None else data.load_registry()
    key = cache_key(registry)
    prune_cache(key)
    publications: list[tuple[str, str]] = []
    files: dict[str, tuple[Path, str]] = {}
    for n in names:
        entry = data.resolve(str(n), registry)
        path = data.fetch(entry.path, registry=registry)
        file = Path(entry.path).name
        files.setdefault(entry.sha256, (path, file))
        publications.append((file, entry.sha256))
    out = _assemble(publications, _contents(files, key))
    for attrs in out.attrs["sheets"]:
        _report(attrs)
    if out.attrs["duplicates"]:
        print(duplicates_sentence(out.attrs["duplicates"]))
    return out


def load_as_of(as_of: str | date, sheet: str | Path | None = None, kind: str = "participating") -> pd.DataFrame:
    """The tidy table of the sheet in force on ``as_of`` (or of ``sheet`` when given).

    The sheet is chosen by :func:`choose_sheet` (which refuses a sheet of the
    wrong list type, a future ``as_of`` and a tampered registered file);
    ``df.attrs["sheet_choice"]`` says which sheet was used and how old it is
    relative to ``as_of`` (its ``sentence`` is ready to print).
    """
    choice = choose_sheet(sheet, as_of, kind)
    out = load_sheet(choice.path, choice.file, sha256=choice.sha256)
    out.attrs["sheet_choice"] = choice.as_dict()
    return out


# --------------------------------------------------------------------------- counting units

UNITS = {
    "agreements": "rows of the sheet (one agency x support type)",
    "agencies": "distinct agencies per state, by identity (helpers.ice.agency_key: name variants such as Sheriff's Office/Department are one agency)",
    "counties": "distinct Census counties whose own county agency holds at least one agreement (the article's unit; helpers.ice.is_county_agency)",
    "counties_any": "distinct Census counties with at least one agreement of any agency located there (county, municipal, constable and other local agencies; state agencies place no county)",
}
#: How each county unit is named in sentences, tables and figure titles.
UNIT_WORDS = {
    "counties": "counties whose county agency signed",
    "counties_any": "counties with any agreement",
}


def _county_agency(df: pd.DataFrame) -> pd.Series:
    """``county_agency`` of a tidy table; a hand-made table without it counts every placed row as a county
    agency's (the meaning ``county_fips`` had before other agencies were placed)."""
    if "county_agency" in df.columns:
        return df["county_agency"].astype(bool)
    return pd.Series(True, index=df.index)


def count_units(df: pd.DataFrame, by: str | list[str] | None = "state") -> pd.DataFrame:
    """Agreements, agencies, counties and counties_any, grouped by ``by`` (None for one overall row).

    Column names are the units (see :data:`UNITS`): ``counties`` is the
    article's unit (the county's own agency holds an agreement), ``counties_any``
    counts a county where any agency located there holds one.
    """
    if by is None and df.empty:  # an empty selection counts zero of every unit
        return pd.DataFrame([{unit: 0 for unit in UNITS}])
    if "agency_key" in df.columns:
        keys = df["agency_key"]
    else:  # a hand-made table: the same identity rule
        keys = pd.Series(
            _per_distinct(
                np.zeros(len(df), dtype=np.int64),
                [df["state"].to_numpy(dtype=object), df["agency"].to_numpy(dtype=object)],
                lambda r, s, a: agency_key(s, a),
            ),
            index=df.index,
            dtype="str",
        )
    by_columns = [] if by is None else [by] if isinstance(by, str) else list(by)
    work = pd.DataFrame(
        {
            **{c: df[c] for c in by_columns},
            "_agency": df["state"] + "|" + keys,
            "county_fips": df["county_fips"].where(_county_agency(df)),
            "county_any": df["county_fips"],
        },
        index=df.index,
    )  # only the columns counted
    if by is None:
        work["_all"] = "all"
        by = "_all"
    grouped = work.groupby(by, sort=True)
    out = pd.DataFrame(
        {
            "agreements": grouped.size(),
            "agencies": grouped["_agency"].nunique(),
            "counties": grouped["county_fips"].nunique(),
            "counties_any": grouped["county_any"].nunique(),
        }
    )
    return out.reset_index().drop(columns=["_all"], errors="ignore")


def _joined(values: Iterable[object]) -> str:
    return "; ".join(sorted({str(v) for v in values if isinstance(v, str) and v}))


def counties_with_agreements(df: pd.DataFrame, state: str, unit: str = "counties") -> pd.DataFrame:
    """One row per county of ``state`` counted by ``unit``: its agreements, agencies, support types, signing dates.

    ``unit="counties"`` (the article's unit): counties whose own county agency
    holds an agreement, with that agency's agreements only.  ``unit="counties_any"``:
    counties where any agency located there holds one, with every such
    agreement, and ``county_agency_signed`` saying whether the county's own
    agency is among them.  Sorted by county name.
    """
    if unit not in UNIT_WORDS:
        raise ValueError(f"unit must be one of {list(UNIT_WORDS)}, got {unit!r}")
    state = geo.normalize_state(state)
    rows = df[(df["state"] == state) & df["county_fips"].notna()]
    own = _county_agency(rows)
    if unit == "counties":
        rows, own = rows[own], own[own]
    rows = rows.assign(_own=own)
    if rows.empty:
        empty = {
            "county_fips": "str",
            "county_name": "str",
            "agreements": "int64",
            "agencies": "str",
            "support_types": "str",
            "signed": "str",
        }
        if unit == "counties_any":
            empty["county_agency_signed"] = "bool"
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in empty.items()})
    out = (
        rows.sort_values(["county_name", "signed", "support_type", "agency"])
        .groupby(["county_fips", "county_name"], sort=True)
        .agg(
            agreements=("support_type", "size"),
            agencies=("agency", _joined),
            support_types=("support_type", lambda s: "; ".join(s)),
            signed=("signed", lambda s: "; ".join(d.strftime("%Y-%m-%d") for d in s if pd.notna(d))),
            county_agency_signed=("_own", "any"),
        )
        .reset_index()
    )
    if unit == "counties":
        out = out.drop(columns=["county_agency_signed"])
    return out.sort_values("county_name").reset_index(drop=True)


def unplaced(df: pd.DataFrame) -> pd.DataFrame:
    """Agreements placed in no county (kept in the data, flagged here): state agencies, rows with no county
    printed, and rows whose printed county the corrections mark as none of the state's.  ``county_match`` says
    which."""
    return df[df["county_fips"].isna()]


def group_totals(df: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Counting units summed over each named group of states (states normalised and checked)."""
    rows = []
    counted = df[[c for c in ("state", "agency", "agency_key", "county_fips", "county_agency") if c in df.columns]]
    for label, members in groups.items():
        members = sorted(geo.normalize_state(s) for s in members)
        part = counted[counted["state"].isin(members)]
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


def compare_totals(
    before: pd.DataFrame, after: pd.DataFrame, groups: dict[str, list[str]], state: str | None = None
) -> pd.DataFrame:
    """Agreements nationwide, in ``state`` (when given) and in each group on two sheets, and the change.

    ``before`` and ``after`` are tidy tables of one sheet each (e.g. the sheet
    in force on the article's date and one downloaded today).  Columns:
    ``area`` (Nationwide, the state's name, the group labels), ``before``,
    ``after``, ``change``; the sheets' publication labels are in
    ``attrs["before"]`` and ``attrs["after"]``.
    """
    areas = dict(groups)
    if state is not None:
        info = geo.state_info(state)
        label = info["name"] if info["name"] not in areas else f"{info['name']} (the chosen state)"
        areas = {label: [info["state"]], **areas}
    (old_national, old), (new_national, new) = agreement_totals(before, areas), agreement_totals(after, areas)
    out = pd.DataFrame(
        {
            "area": ["Nationwide", *areas],
            "before": [old_national, *old.values()],
            "after": [new_national, *new.values()],
        }
    )
    out["change"] = out["after"] - out["before"]
    out.attrs = {
        side: "; ".join(sorted(set(df["published_label"]))) for side, df in (("before", before), ("after", after))
    }
    return out
