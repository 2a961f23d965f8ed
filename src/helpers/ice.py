"""ICE 287(g) participating and pending agency sheets: the tidy table, as-of selection, counts.

:func:`load_sheet` turns one ICE sheet (the 2025 workbooks, the January 2025
web-page scrape, or a newer sheet a user downloads), as read by
:func:`helpers.sheets.read_raw`, into one tidy table, :data:`SCHEMA`.  One
row is one row of the sheet: for participating sheets, one agreement (an
agency and a support type).

What the normalisation does, and why:

* normalises the state through :func:`helpers.geo.normalize_state` and the
  support type to one of :data:`SUPPORT_TYPES` (misspellings only through
  ``data/corrections/support_types.csv``); anything else raises with the row;
* matches the county of county agencies to a Census FIPS code with
  :func:`helpers.geo.match_county`; unmatched rows are kept and flagged;
  state, municipal and other agencies are not a county's own agency;
* reads SIGNED as a date (typos only through ``data/corrections/signed_dates.csv``).

Finding the sheet (:func:`resolve_sheet`, :func:`select_sheet`,
:func:`catalogue`) and reading the workbook live in :mod:`helpers.sheets`; they
are re-exported here because the notebooks call them as ``ice.*``.

Counting units are explicit (:func:`count_units`): ``agreements`` (rows),
``agencies`` (distinct agency names per state) and ``counties`` (distinct
matched county FIPS codes of county agencies).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import pandas as pd

from helpers import data, geo, paths, sheets
from helpers.sheets import (  # noqa: F401  (re-exported: notebooks and tests call ice.*)
    ARCHIVE_FOLDER,
    ICE_FOLDER,
    REQUIRED,
    SheetFormatError,
    catalogue,
    parse_sheet_name,
    resolve_sheet,
    select_sheet,
)
from helpers.sheets import _clean  # one cleaning rule for printed values

SUPPORT_TYPES = ("Jail Enforcement Model", "Task Force Model", "Warrant Service Officer")
AGENCY_TYPES = {"county": "County", "municipality": "Municipality", "state": "State", "state agency": "State"}
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
SUPPORT_CORRECTIONS = paths.CORRECTIONS / "support_types.csv"
SIGNED_CORRECTIONS = paths.CORRECTIONS / "signed_dates.csv"
AGENCY_TYPE_CORRECTIONS = paths.CORRECTIONS / "agency_types.csv"



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
    raw = sheets.read_raw(path, name)
    sheet = raw.name
    file = sheet.file
    records = []
    for rec in raw.body.to_dict("records"):
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
                "moa_url": rec.get("moa_url"),
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
