"""A state's counties by the two county units: one row per Census county, the difference, changes, sentences.

ICE's sheet places every local agency in a county (its COUNTY column, matched
by :mod:`helpers.ice` with the same rules and corrections for every agency
type).  Two questions follow, and every table and sentence here names which
one it answers (:data:`helpers.ice.UNIT_WORDS`):

* **counties whose county agency signed** (``counties``, the article's unit): the
  county's own agency (sheriff's office, jail, county government, a county's
  constable; :func:`helpers.ice.is_county_agency`) holds an agreement;
* **counties with any agreement** (``counties_any``): some agency located in the
  county holds one (city police, constables and other local agencies too).

State agencies serve the whole state and place no county; agreements with no
county printed are kept and counted in :func:`unplaced_sentence`.

* :func:`county_table` - one row per Census county of a state, both units.
* :func:`other_agency_counties` - counties in the second list and not the first.
* :func:`county_changes` - counties added and dropped between two sheets, by unit.
* :func:`constables` - how the constable rule counts each constable's office.
* :func:`counts_sentence`, :func:`unplaced_sentence`, :func:`closing_sentence` -
  sentences built from the counts, grammar following the numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers import geo, ice, paths, tables
from helpers.text import counted, join, plural, verb

#: Columns of :func:`county_table` (and of ``<state>_counties_<sheet>.csv``).
COLUMNS = ["county_fips", "county_name", "county_agency_signed", "any_agreement", "agencies"]
#: The county agency's unit in words, for sentences (the article's unit).
ARTICLE_UNIT = "the county's own agency, such as its sheriff's office, jail or a county constable, holds an agreement"
#: Agencies named in a sentence before the rest are only counted.
NAME_UP_TO = 5
#: Counties named in a sentence before the rest are only counted (the article names eight).
NAME_COUNTIES_UP_TO = 12


def county_table(df: pd.DataFrame, state: str) -> pd.DataFrame:
    """One row per Census county of ``state``: :data:`COLUMNS`, sorted by FIPS.

    ``county_agency_signed``: the county's own agency holds an agreement (the
    article's unit); ``any_agreement``: some agency located in the county holds
    one; ``agencies``: every agency located there that holds one, ``; ``-joined
    (empty when none).  ``df`` is a tidy table of one sheet.  Raises
    :class:`helpers.geo.NoCountiesError` for a place without Census counties.
    """
    census = geo.require_counties(state)[["county_fips", "county_name"]]
    state = geo.normalize_state(state)
    if "source_file" in df.columns and df["source_file"].nunique() > 1:
        raise ValueError("county_table takes one sheet; filter by source_file first")
    placed = ice.counties_with_agreements(df, state, unit="counties_any")
    unknown = sorted(set(placed["county_fips"]) - set(census["county_fips"]))
    if unknown:  # cannot happen after the loader's matching; guards hand-made tables
        raise ValueError(f"county_table: FIPS {unknown} are not counties of {state} in the Census list")
    out = census.merge(
        placed[["county_fips", "county_agency_signed", "agencies"]], on="county_fips", how="left", validate="one_to_one"
    )
    out["any_agreement"] = out["agencies"].notna()
    out["county_agency_signed"] = out["county_agency_signed"].fillna(False).astype(bool)
    out["agencies"] = out["agencies"].fillna("")
    return out[COLUMNS].sort_values("county_fips").reset_index(drop=True)


def other_agency_counties(df: pd.DataFrame, state: str) -> pd.DataFrame:
    """Counties with an agreement only through agencies other than the county's own (in the second list, not the
    first): ``county_fips``, ``county_name``, ``agreements``, ``agencies``, ``support_types``, ``signed``."""
    every = ice.counties_with_agreements(df, state, unit="counties_any")
    return every[~every["county_agency_signed"]].drop(columns=["county_agency_signed"]).reset_index(drop=True)


def write_county_table(table: pd.DataFrame, state: str, sheet_stem: str) -> Path:
    """Write :func:`county_table` to ``<state>_counties_<sheet stem>.csv`` in the processed folder (booleans as
    ``true``/``false``); returns the path."""
    slug = geo.state_info(state)["name"].lower().replace(" ", "_")
    words = {True: "true", False: "false"}
    out = table.assign(
        county_agency_signed=table["county_agency_signed"].map(words), any_agreement=table["any_agreement"].map(words)
    )
    return tables.write_csv(
        out[COLUMNS], paths.processed_dir() / f"{slug}_counties_{sheet_stem}.csv", sort_by="county_fips"
    )


def county_changes(before: pd.DataFrame, after: pd.DataFrame, state: str) -> pd.DataFrame:
    """Counties of ``state`` added to or dropped from each unit between two sheets.

    ``before`` and ``after`` are tidy tables of one sheet each.  One row per
    county and unit that changed: ``county_name``, ``unit`` (the unit's words,
    :data:`helpers.ice.UNIT_WORDS`), ``change`` (``added`` or ``dropped``),
    ``agencies_before``, ``agencies_after`` (agencies located in the county that
    hold an agreement on each sheet).  Sorted by unit (the article's first),
    change (added, then dropped) and county.
    """
    old, new = county_table(before, state), county_table(after, state)
    both = old.merge(new, on=["county_fips", "county_name"], suffixes=("_before", "_after"), validate="one_to_one")
    rows = []
    for unit, column in (("counties", "county_agency_signed"), ("counties_any", "any_agreement")):
        was, now = both[f"{column}_before"], both[f"{column}_after"]
        for change, mask in (("added", now & ~was), ("dropped", was & ~now)):
            for r in both[mask].itertuples():
                rows.append(
                    {
                        "county_name": r.county_name,
                        "unit": ice.UNIT_WORDS[unit],
                        "change": change,
                        "agencies_before": r.agencies_before,
                        "agencies_after": r.agencies_after,
                        "_rank": list(ice.UNIT_WORDS).index(unit),
                    }
                )
    out = pd.DataFrame(rows, columns=["county_name", "unit", "change", "agencies_before", "agencies_after", "_rank"])
    out = out.sort_values(["_rank", "change", "county_name"], kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)


def constables(df: pd.DataFrame, state: str) -> pd.DataFrame:
    """Every constable's office of ``state`` on the sheet and how the constable rule counts it.

    Columns: ``agency``, ``ice_type`` (ICE's TYPE), ``county_name``, ``counted_as``
    (``county agency`` or ``other agency``, :func:`helpers.ice.is_county_agency`),
    ``differs_from_type`` (True when ICE's TYPE alone would count it the other way).
    """
    state = geo.normalize_state(state)
    rows = df[(df["state"] == state) & df["agency"].str.contains(r"\bconstable", case=False, regex=True)]
    out = (
        rows.groupby(["agency", "agency_type", "county_name"], dropna=False, sort=True)["county_agency"]
        .first()
        .reset_index()
        .rename(columns={"agency_type": "ice_type"})
    )
    out["counted_as"] = out["county_agency"].map({True: "county agency", False: "other agency"})
    out["differs_from_type"] = out["county_agency"] != (out["ice_type"] == "County")
    return out[["agency", "ice_type", "county_name", "counted_as", "differs_from_type"]]


def counties_by_type_alone(df: pd.DataFrame, state: str) -> int:
    """Counties of ``state`` whose agency typed County by ICE holds an agreement: the article's unit if ICE's TYPE
    alone decided (to show what the constable rule changes)."""
    rows = df[(df["state"] == geo.normalize_state(state)) & (df["agency_type"] == "County")]
    return int(rows["county_fips"].nunique())


# --------------------------------------------------------------------------- sentences


def _of(n: int, name: str, total: int) -> str:
    """ "8 of Minnesota's 87 counties" / "none of Iowa's 99 counties"."""
    lead = "none" if n == 0 else str(int(n))
    return f"{lead} of {name}'s {counted(total, 'county', 'counties')}"


def _check_counts(n_signed: int, n_any: int, n_total: int) -> None:
    for label, n in (("n_signed", n_signed), ("n_any", n_any), ("n_total", n_total)):
        if isinstance(n, bool) or not float(n).is_integer() or n < 0:
            raise ValueError(f"{label} must be a whole number >= 0, got {n!r}")
    if n_total < 1:
        raise ValueError(f"n_total={n_total}: a place without counties has no county count (geo.require_counties)")
    if not n_signed <= n_any <= n_total:
        raise ValueError(f"need n_signed <= n_any <= n_total, got {n_signed}, {n_any}, {n_total}")


def counts_sentence(name: str, n_signed: int, n_any: int, n_total: int, on_sheet: str) -> str:
    """The two county counts side by side, each naming its unit; ``on_sheet`` says which sheet ("On ICE's sheet
    published 2025-12-30 am").

    >>> print(counts_sentence("Iowa", 0, 0, 99, "On ICE's sheet published 2025-10-31 pm"))  # doctest: +ELLIPSIS
    On ICE's sheet published 2025-10-31 pm, none of Iowa's 99 counties had a county agency with ... none had one either.
    """
    _check_counts(n_signed, n_any, n_total)
    more = n_any - n_signed
    first = (
        f"{on_sheet}, {_of(n_signed, name, n_total)} had a county agency with a 287(g) agreement "
        f"(the article's unit: {ARTICLE_UNIT})."
    )
    every = "Counting every agency located in a county (city police, constables and other local agencies), "
    if n_any == 0:
        second = "none had one either."
    elif more == 0:
        second = f"{counted(n_any, 'county', 'counties')} had one: the same {plural(n_any, 'county', 'counties')}."
    else:
        second = (
            f"{counted(n_any, 'county', 'counties')} had one: {more} more, through agencies other than the "
            f"county's own."
        )
    return f"{first} {every}{second}"


#: Why an agreement is placed in no county (``county_match``), in words for one agreement and for several.
UNPLACED_REASONS = {
    ice.STATE_AGENCY: (
        "held by a state agency, which serves the whole state (a county it prints is not used)",
        "held by state agencies, which serve the whole state (a county they print is not used)",
    ),
    geo.NO_COUNTY_PRINTED: (
        "held by an agency with no county printed, which cannot be placed",
        "held by agencies with no county printed, which cannot be placed",
    ),
    geo.NO_COUNTY_CORRECTION: (
        "whose printed county is none of the state's (the reason is in {file})",
        "whose printed county is none of the state's (the reasons are in {file})",
    ),
    geo.NO_CENSUS_COUNTIES: (
        "in a place with no counties in the Census list",
        "in a place with no counties in the Census list",
    ),
}


def _agreements_of(name: str, n: int, total: int) -> str:
    """ "Iowa's only agreement", "all 3 of Iowa's agreements", "2 of Texas's 259 agreements"."""
    if total == 1:
        return f"{name}'s only agreement"
    if n == total == 2:
        return f"both of {name}'s agreements"
    if n == total:
        return f"all {total} of {name}'s agreements"
    return f"{n} of {name}'s {counted(total, 'agreement')}"


def unplaced_sentence(in_state: pd.DataFrame, name: str) -> str:
    """What the county counts leave out: the state's agreements placed in no county, by reason.

    ``in_state`` is the tidy table of one state on one sheet.  State agencies
    serve the whole state (a county they print is not used); an agency with no
    county printed cannot be placed; a printed county that the corrections mark
    as none of the state's is kept as printed.  Grammar follows the numbers.
    """
    rows = ice.unplaced(in_state)
    total = len(in_state)
    if total == 0:
        return f"{name}'s agencies hold no agreement on this sheet."
    if rows.empty:
        held = f"{name}'s only agreement is" if total == 1 else f"Every one of {name}'s {total} agreements is"
        return f"{held} held by an agency placed in a county."
    parts = []
    for rule, (one, several) in UNPLACED_REASONS.items():
        part = rows[rows["county_match"] == rule]
        if part.empty:
            continue
        agencies = sorted(set(part["agency"]))
        named = (
            f" ({join(agencies)})"
            if len(agencies) <= NAME_UP_TO
            else f" ({counted(len(agencies), 'agency', 'agencies')})"
        )
        words = (one if len(part) == 1 else several).format(file=paths.relative(geo.COUNTY_CORRECTIONS))
        parts.append(f"{'it is' if len(rows) == 1 else len(part)} {words}{named}")
    lead = _agreements_of(name, len(rows), total)
    text = f"{lead[:1].upper()}{lead[1:]} {verb(len(rows), 'is', 'are')} placed in no county: " + "; ".join(parts) + "."
    if (rows["county_match"] == geo.NO_COUNTY_PRINTED).any():
        text += " The count of counties with any agreement is therefore a lower bound."
    return text


def closing_sentence(
    name: str,
    n_signed: int,
    n_any: int,
    n_total: int,
    on_sheet: str,
    signed_names: list[str],
    n_agreements: int,
    listed_in: str | None = None,
) -> str:
    """The notebook's last sentence: the article's unit first, its counties named (up to
    :data:`NAME_COUNTIES_UP_TO`; beyond, ``listed_in`` says where they are), then the count with every agency."""
    _check_counts(n_signed, n_any, n_total)
    if len(signed_names) != n_signed:
        raise ValueError(f"{len(signed_names)} names for {n_signed} counties")
    if not signed_names:
        listed = ""
    elif len(signed_names) <= NAME_COUNTIES_UP_TO:
        listed = f": {join(signed_names)}"
    else:
        listed = f" (listed in {listed_in})" if listed_in else ""
    return (
        f"{on_sheet}, {_of(n_signed, name, n_total)} had signed a 287(g) agreement through "
        f"{plural(max(n_signed, 1), 'its', 'their')} own county agency{listed}; "
        f"counting every agency located in a county, "
        f"{'no county' if n_any == 0 else counted(n_any, 'county', 'counties')} had an agreement; "
        f"{name}'s agencies of every type held {counted(n_agreements, 'agreement')} in all."
    )


def constable_sentence(table: pd.DataFrame, name: str, n_signed: int, n_by_type: int) -> str:
    """What the constable rule decides in one state: ``table`` is :func:`constables`, ``n_signed`` the article's
    unit by the rule, ``n_by_type`` by ICE's TYPE alone (:func:`counties_by_type_alone`)."""
    if table.empty:
        return f"No constable's office in {name} holds an agreement, so the constable rule changes nothing here."
    as_county = int((table["counted_as"] == "county agency").sum())
    differs = int(table["differs_from_type"].sum())
    offices = counted(len(table), "constable's office", "constables' offices")
    others = len(table) - as_county
    parts = []
    if as_county:
        parts.append(
            f"{as_county} counted as {plural(as_county, 'a county agency', 'county agencies')} (named for "
            f"{plural(as_county, 'its', 'their')} county)"
        )
    if others:
        parts.append(
            f"{others} {'as' if parts else 'counted as'} {plural(others, 'another agency', 'other agencies')} "
            f"(a township, borough, ward or state constable)"
        )
    lead = f"{offices} in {name} {verb(len(table), 'holds', 'hold')} an agreement: {join(parts)}"
    lead += f"; ICE's TYPE says the other way for {differs}." if differs else "; ICE's TYPE agrees for every one."
    if n_by_type == n_signed:
        effect = f" The count in the article's unit is {n_signed} by the rule and by ICE's TYPE alone."
    else:
        effect = (
            f" By ICE's TYPE alone the article's unit would count {counted(n_by_type, 'county', 'counties')}; "
            f"the rule counts {n_signed}."
        )
    return lead + effect


def changes_sentence(before: pd.DataFrame, after: pd.DataFrame, state: str, county_moves: pd.DataFrame) -> str:
    """How a state's two county counts and its agreements moved from the ``before`` sheet to the ``after`` sheet;
    ``county_moves`` is :func:`county_changes` of the same sheets."""
    info = geo.state_info(state)
    old = ice.count_units(before[before["state"] == info["state"]], by=None).iloc[0]
    new = ice.count_units(after[after["state"] == info["state"]], by=None).iloc[0]

    def moved(unit: str, words: str) -> str:
        a, b = int(old[unit]), int(new[unit])
        part = f"{words} {'stayed at ' + str(a) if a == b else f'went from {a} to {b}'}"
        if unit in ice.UNIT_WORDS:
            rows = county_moves[county_moves["unit"] == ice.UNIT_WORDS[unit]]
            named = []
            for change in ("added", "dropped"):
                which = rows.loc[rows["change"] == change, "county_name"].tolist()
                if which:
                    named.append(
                        f"{change}: {join(which)}" if len(which) <= NAME_COUNTIES_UP_TO else f"{len(which)} {change}"
                    )
            if named:
                part += f" ({'; '.join(named)})"
        return part

    labels = [" and ".join(sorted(set(df["published_label"]))) for df in (before, after)]
    return (
        f"From ICE's sheet published {labels[0]} to the one published {labels[1]}, {info['name']}'s "
        + "; ".join(
            [
                moved("counties", ice.UNIT_WORDS["counties"]),
                moved("counties_any", ice.UNIT_WORDS["counties_any"]),
                moved("agreements", "agreements"),
            ]
        )
        + "."
    )
