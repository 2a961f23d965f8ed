"""Context data by state (and county): population, election results, foreign-born share.

Every input's state names or FIPS codes are reconciled here, against
:func:`helpers.geo.states`, and every join checks that no state is lost.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers import data, geo, tables

POPULATION = "context/NST-EST2024-ALLDATA.csv"


def state_population(year: int = 2024) -> pd.DataFrame:
    """Census Vintage 2024 resident population by state, DC and Puerto Rico.

    Columns: ``state`` (upper-case name as ICE prints it), ``state_fips``, ``population``.
    """
    path = data.fetch(POPULATION)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    column = f"POPESTIMATE{year}"
    for needed in ("SUMLEV", "STATE", "NAME", column):
        if needed not in df.columns:
            raise data.RawDataError(f"{POPULATION}: column {needed!r} not found (columns: {list(df.columns)[:8]}…)")
    df = df[df["SUMLEV"] == "040"]
    out = df[["STATE", column]].rename(columns={"STATE": "state_fips", column: "population"})
    if out["state_fips"].duplicated().any():
        raise data.RawDataError(
            f"{POPULATION}: state FIPS repeated: {sorted(out.loc[out['state_fips'].duplicated(), 'state_fips'])}"
        )
    out = _reconcile_fips(out, POPULATION)
    out["population"] = out["population"].astype(int)
    return out[["state", "state_fips", "population"]].sort_values("state_fips").reset_index(drop=True)


# --------------------------------------------------------------------------- elections and nativity

PRESIDENT_STATE = "context/2024-president-state.csv"
PRESIDENT_COUNTY = "context/2024_US_County_Level_Presidential_Results.csv"
FOREIGN_BORN = "context/acs_foreign_born_by_state.csv"
#: Candidate lines (as MEDSL prints them) whose votes make the two-party share.
TRUMP = "TRUMP, DONALD J."
HARRIS = "HARRIS, KAMALA D."
#: Raw files every state table is built from (registry paths, for claims.record).
STATE_TABLE_INPUTS = [POPULATION, PRESIDENT_STATE, FOREIGN_BORN]
#: Column order of the state table (and of ``data/processed/state_table_<as_of>.csv``).
STATE_TABLE_COLUMNS = [
    "state",
    "usps",
    "state_fips",
    "agreements",
    "agencies",
    "population",
    "agreements_per_million",
    "agencies_per_million",
    "trump_share",
    "foreign_born_share",
]
MEASURES = ("agreements", "agencies")


class JoinError(ValueError):
    """A join of context tables would lose (or duplicate) a state."""


def _states_and_dc() -> pd.DataFrame:
    """Reference rows of the 50 states and DC (state, usps, state_fips)."""
    ref = geo.states()
    ref = ref[ref["kind"].isin(["state", "district"])]
    return ref[["state", "usps", "fips"]].rename(columns={"fips": "state_fips"}).reset_index(drop=True)


def _reconcile_fips(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Attach the reference ``state`` name to a frame keyed by ``state_fips``; raise on unknown FIPS."""
    ref = geo.states()[["state", "fips"]].rename(columns={"fips": "state_fips"})
    out = df.merge(ref, on="state_fips", how="left", validate="many_to_one")
    if out["state"].isna().any():
        bad = sorted(out.loc[out["state"].isna(), "state_fips"].unique())
        raise data.RawDataError(f"{source}: state FIPS not in the reference table: {bad}")
    return out


def check_states(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Keep the 50 states + DC of ``df`` (column ``state``) and raise if any is missing or duplicated."""
    wanted = set(_states_and_dc()["state"])
    if df["state"].duplicated().any():
        raise JoinError(f"{source}: duplicated states {sorted(df.loc[df['state'].duplicated(), 'state'])}")
    missing = sorted(wanted - set(df["state"]))
    if missing:
        raise JoinError(f"{source}: missing {len(missing)} of the 50 states + DC: {missing}")
    return df[df["state"].isin(wanted)].reset_index(drop=True)


def trump_share_by_state() -> pd.DataFrame:
    """2024 Trump two-party share, Trump / (Trump + Harris), for the 50 states and DC (MEDSL).

    Columns: ``state``, ``state_fips``, ``trump_votes``, ``harris_votes``, ``trump_share``,
    ``unofficial`` (MEDSL's own flag: True where the returns it used were not yet the
    certified, official ones).
    """
    path = data.fetch(PRESIDENT_STATE)
    df = pd.read_csv(path, dtype={"state_fips": str, "candidate": str, "unofficial": str}, keep_default_na=False)
    if "unofficial" not in df.columns:
        raise data.RawDataError(f"{PRESIDENT_STATE}: column 'unofficial' not found (columns: {list(df.columns)})")
    flags = df["unofficial"].str.strip().str.upper()
    if not flags.isin(["TRUE", "FALSE"]).all():
        raise data.RawDataError(
            f"{PRESIDENT_STATE}: 'unofficial' holds values other than TRUE/FALSE: {sorted(set(flags))}"
        )
    unofficial = (flags == "TRUE").groupby(df["state_fips"]).any()
    df = df[df["candidate"].isin([TRUMP, HARRIS])]
    wide = df.pivot_table(index="state_fips", columns="candidate", values="votes", aggfunc="sum").reset_index()
    wide = wide.rename(columns={TRUMP: "trump_votes", HARRIS: "harris_votes"})
    if wide[["trump_votes", "harris_votes"]].isna().any().any():
        raise data.RawDataError(f"{PRESIDENT_STATE}: a state lacks a Trump or Harris line")
    wide = _reconcile_fips(wide, PRESIDENT_STATE)
    wide["trump_votes"] = wide["trump_votes"].astype(int)
    wide["harris_votes"] = wide["harris_votes"].astype(int)
    wide["trump_share"] = wide["trump_votes"] / (wide["trump_votes"] + wide["harris_votes"])
    wide["unofficial"] = wide["state_fips"].map(unofficial).astype(bool)
    out = wide[["state", "state_fips", "trump_votes", "harris_votes", "trump_share", "unofficial"]]
    return check_states(out, PRESIDENT_STATE).sort_values("state_fips").reset_index(drop=True)


def foreign_born_share_by_state(years: list[int] | None = None) -> pd.DataFrame:
    """ACS 1-year (B05002) foreign-born share of the population, averaged over ``years``.

    The share of each year is ``foreign_born / total_pop``; the result is the mean
    of those yearly shares (default ``[2023]``; there is no 2020 1-year release).
    Columns: ``state``, ``state_fips``, ``foreign_born_share`` (50 states + DC).
    """
    years = [2023] if years is None else [int(y) for y in years]
    if not years:
        raise ValueError("years must name at least one ACS year")
    path = data.fetch(FOREIGN_BORN)
    df = pd.read_csv(path, dtype={"state_fips": str}, keep_default_na=False)
    missing_years = sorted(set(years) - set(df["year"]))
    if missing_years:
        raise data.RawDataError(
            f"{FOREIGN_BORN}: no rows for years {missing_years} (available: {sorted(set(df['year']))})"
        )
    df = df[df["year"].isin(years)].copy()
    df["share"] = df["foreign_born"].astype(float) / df["total_pop"].astype(float)
    counts = df.groupby("state_fips")["year"].nunique()
    incomplete = sorted(counts[counts != len(years)].index)
    if incomplete:
        raise data.RawDataError(f"{FOREIGN_BORN}: states without every year {years}: {incomplete}")
    out = df.groupby("state_fips")["share"].mean().rename("foreign_born_share").reset_index()
    out = _reconcile_fips(out, FOREIGN_BORN)[["state", "state_fips", "foreign_born_share"]]
    return check_states(out, FOREIGN_BORN).sort_values("state_fips").reset_index(drop=True)


def county_trump_share(state: str) -> pd.DataFrame:
    """2024 Trump two-party share by county for one state (tonmcg county results).

    Columns: ``county_fips`` (5-digit str), ``county_name``, ``trump_share`` = gop / (gop + dem).
    """
    fips = geo.state_info(state)["fips"]
    path = data.fetch(PRESIDENT_COUNTY)
    df = pd.read_csv(path, dtype={"county_fips": str}, keep_default_na=False)
    df = df[df["county_fips"].str[:2] == fips].copy()
    if df.empty:
        raise data.RawDataError(f"{PRESIDENT_COUNTY}: no counties for {state}")
    if df["county_fips"].duplicated().any():
        raise data.RawDataError(f"{PRESIDENT_COUNTY}: duplicated county FIPS in {state}")
    gop, dem = df["votes_gop"].astype(float), df["votes_dem"].astype(float)
    df["trump_share"] = gop / (gop + dem)
    return df[["county_fips", "county_name", "trump_share"]].sort_values("county_fips").reset_index(drop=True)


def state_table(
    agreements_df: pd.DataFrame,
    fb_years: list[int] | None = None,
    measure: str = "agreements",
    population_year: int = 2024,
) -> pd.DataFrame:
    """One row per state + DC: 287(g) agreements and agencies, per-million rates and both shares.

    ``agreements_df`` is a tidy ICE table (:func:`helpers.ice.load_as_of`). States
    without an agreement get 0. Territories are left out (see :func:`territory_counts`).
    ``measure`` (``agreements`` or ``agencies``) is checked and recorded in the
    ``attrs`` of the result; both counts are always present.
    Raises :class:`JoinError` if any of the 50 states + DC would be lost.
    """
    from helpers import ice

    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    base = _states_and_dc()
    counts = ice.count_units(agreements_df, by="state")[["state", "agreements", "agencies"]]
    unknown = sorted(set(counts["state"]) - set(geo.states()["state"]))
    if unknown:
        raise JoinError(f"ICE table: states not in the reference table: {unknown}")
    out = base.merge(counts, on="state", how="left", validate="one_to_one")
    out[["agreements", "agencies"]] = out[["agreements", "agencies"]].fillna(0).astype(int)
    parts = [
        (state_population(population_year)[["state", "population"]], "population"),
        (trump_share_by_state()[["state", "trump_share"]], "Trump share"),
        (foreign_born_share_by_state(fb_years)[["state", "foreign_born_share"]], "foreign-born share"),
    ]
    for part, label in parts:
        n = len(out)
        out = out.merge(part, on="state", how="left", validate="one_to_one")
        if len(out) != n or out.iloc[:, -1].isna().any():
            lost = sorted(out.loc[out.iloc[:, -1].isna(), "state"])
            raise JoinError(f"joining {label}: states lost {lost}")
    out["agreements_per_million"] = out["agreements"] / out["population"] * 1e6
    out["agencies_per_million"] = out["agencies"] / out["population"] * 1e6
    out = check_states(out[STATE_TABLE_COLUMNS], "state table")
    if len(out) != 51:
        raise JoinError(f"state table has {len(out)} rows, expected 51")
    out = out.sort_values("state").reset_index(drop=True)
    out.attrs["measure"] = measure
    return out


def territory_counts(agreements_df: pd.DataFrame) -> pd.DataFrame:
    """Agreements and agencies in territories (kept apart from the state table)."""
    from helpers import ice

    terr = set(geo.states().loc[geo.states()["kind"] == "territory", "state"])
    part = agreements_df[agreements_df["state"].isin(terr)]
    if part.empty:
        return pd.DataFrame(
            {"state": pd.Series(dtype=str), "agreements": pd.Series(dtype=int), "agencies": pd.Series(dtype=int)}
        )
    return ice.count_units(part, by="state")[["state", "agreements", "agencies"]]


def state_table_path(as_of: str, fb_years: list[int] | None = None) -> Path:
    """``data/processed/state_table_<as_of>.csv``; other ACS years than [2023] add ``_fb<years>``."""
    from helpers import paths

    years = [2023] if fb_years is None else sorted(int(y) for y in fb_years)
    suffix = "" if years == [2023] else "_fb" + "-".join(str(y) for y in years)
    return paths.processed_dir() / f"state_table_{as_of}{suffix}.csv"


def write_state_table(table: pd.DataFrame, as_of: str, fb_years: list[int] | None = None, decimals: int = 4) -> Path:
    """Write the state table (:func:`state_table_path`) with stable bytes: sorted, rounded, LF."""
    out = table[STATE_TABLE_COLUMNS].sort_values("state").copy()
    for col in ("agreements_per_million", "agencies_per_million", "trump_share", "foreign_born_share"):
        out[col] = out[col].round(decimals)
    return tables.write_csv(out, state_table_path(as_of, fb_years))


# --------------------------------------------------------------------------- who holds agreements

#: The sheet's agency TYPE (as :mod:`helpers.ice` canonicalises it) -> column of :func:`agency_mix`.
AGENCY_MIX_COLUMNS = {"County": "county", "Municipality": "municipal", "State": "state_agency"}
#: Words in ICE's definition of a support type that place it in the field or in the jail (:func:`support_type_settings`).
FIELD_WORDS = "routine police duties"
JAIL_WORDS = "jail"


def agency_mix(agreements_df: pd.DataFrame, by: str | None = "state") -> pd.DataFrame:
    """Agreements held by county, municipal and state agencies, per ``by`` (None: one nationwide row).

    Columns: ``by`` (unless None), ``county``, ``municipal``, ``state_agency``,
    ``type_not_printed`` (sheets without a TYPE column), ``agreements`` (the sum).
    An agency TYPE other than those of :data:`AGENCY_MIX_COLUMNS` raises.
    """
    types = agreements_df["agency_type"]
    unknown = sorted(set(types.dropna()) - set(AGENCY_MIX_COLUMNS))
    if unknown:
        raise ValueError(
            f"agency types {unknown} are not among {list(AGENCY_MIX_COLUMNS)}; see helpers.ice.AGENCY_TYPES"
        )
    work = agreements_df.assign(_type=types.map(AGENCY_MIX_COLUMNS).fillna("type_not_printed"))
    if by is None:
        work = work.assign(_all="all")
    key = by or "_all"
    out = pd.crosstab(work[key], work["_type"])
    cols = [*AGENCY_MIX_COLUMNS.values(), "type_not_printed"]
    out = out.reindex(columns=cols, fill_value=0)
    out.columns.name = None
    out["agreements"] = out[cols].sum(axis=1)
    out = out.reset_index()
    if by is None:
        if out.empty:
            out = pd.DataFrame([{c: 0 for c in [*cols, "agreements"]}])
        return out.drop(columns=["_all"], errors="ignore")[[*cols, "agreements"]]
    return out[[by, *cols, "agreements"]]


#: A county agency whose name holds this word (case ignored) is a sheriff's office.
SHERIFF_WORD = "sheriff"


def sheriff_agreements(agreements_df: pd.DataFrame) -> int:
    """Agreements held by county agencies whose name says they are a sheriff's office."""
    county = agreements_df[agreements_df["agency_type"] == "County"]
    return int(county["agency"].str.contains(SHERIFF_WORD, case=False, regex=False).sum())


def mix_phrase(row: pd.Series | dict) -> str:
    """Who holds a count of agreements, in words, from an :func:`agency_mix` row.

    ``"332 held by county, 187 by municipal and 17 by state agencies"``; ``"1 held by a state agency"``.
    """
    from helpers.text import join

    labels = {"county": "county", "municipal": "municipal", "state_agency": "state", "type_not_printed": "unnamed-type"}
    parts = [(int(row[c]), w) for c, w in labels.items() if int(row[c])]
    if not parts:
        return "none held"
    if len(parts) == 1 and parts[0][0] == 1:
        return f"1 held by a {parts[0][1]} agency"
    words = [f"{n} held by {w}" if i == 0 else f"{n} by {w}" for i, (n, w) in enumerate(parts)]
    return f"{join(words)} agencies"


def group_rates(agreements_df: pd.DataFrame, population: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Each group's agreements, residents and agreements per million, with its agency mix.

    ``population``: columns ``state``, ``population`` (:func:`state_population`). A member
    without a population estimate raises (a rate would silently leave it out).
    Columns: group, states, agreements, population, agreements_per_million, county,
    municipal, state_agency, type_not_printed.
    """
    pop = population.set_index("state")["population"]
    rows = []
    for label, members in groups.items():
        members = sorted(geo.normalize_state(m) for m in members)
        lacking = [m for m in members if m not in pop.index or pd.isna(pop[m])]
        if lacking:
            raise JoinError(f"group {label!r}: no population estimate for {lacking}; a rate cannot be computed")
        part = agreements_df[agreements_df["state"].isin(members)]
        mix = agency_mix(part, by=None).iloc[0]
        residents = int(pop[members].sum())
        rows.append(
            {
                "group": label,
                "states": ", ".join(members),
                "agreements": int(mix["agreements"]),
                "population": residents,
                "agreements_per_million": mix["agreements"] / residents * 1e6,
                **{c: int(mix[c]) for c in (*AGENCY_MIX_COLUMNS.values(), "type_not_printed")},
            }
        )
    return pd.DataFrame(rows)


def member_rates(state_counts: pd.DataFrame, mix: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """One row per member state of each group: its agreements, rate per million, national rank, agency mix.

    ``state_counts`` is :func:`helpers.ice.state_counts` with population (50 states, DC,
    territories); ``mix`` is :func:`agency_mix` by state. ``rank`` ranks the 50 states
    and DC by agreements per million (1 = highest; ties share the best rank).
    """
    ranked = state_counts[state_counts["kind"].isin(["state", "district"])].copy()
    ranked["rank"] = ranked["agreements_per_million"].rank(ascending=False, method="min").astype(int)
    rows = []
    for label, members in groups.items():
        for m in sorted(geo.normalize_state(s) for s in members):
            rows.append({"group": label, "state": m})
    out = pd.DataFrame(rows).merge(
        ranked[["state", "name", "agreements", "population", "agreements_per_million", "rank"]],
        on="state",
        how="left",
        validate="many_to_one",
    )
    out = out.merge(mix.drop(columns=["agreements"]), on="state", how="left", validate="many_to_one")
    for c in (*AGENCY_MIX_COLUMNS.values(), "type_not_printed"):
        out[c] = out[c].fillna(0).astype(int)
    return out


#: A member's state agencies are named when there are at most this many (else only counted).
NAME_STATE_AGENCIES_UP_TO = 3


def state_agency_names(agreements_df: pd.DataFrame, state: str, up_to: int = NAME_STATE_AGENCIES_UP_TO) -> str:
    """The state agencies of ``state`` that hold agreements, ``; ``-joined, when there are at most ``up_to``.

    Empty when there are none or more than ``up_to`` (a long list would bury the count it explains).
    """
    rows = agreements_df[
        (agreements_df["state"] == geo.normalize_state(state)) & (agreements_df["agency_type"] == "State")
    ]
    names = sorted(set(rows["agency"]))
    return "; ".join(names) if 0 < len(names) <= up_to else ""


def rate_crossings(members: pd.DataFrame, high: str, low: str) -> pd.DataFrame:
    """Pairs where a state of group ``low`` has a higher rate per million than a state of group ``high``.

    ``members`` is :func:`member_rates`. Columns: low_state, low_rate, high_state, high_rate.
    """
    lo = members[members["group"] == low]
    hi = members[members["group"] == high]
    rows = [
        {
            "low_state": a["name"],
            "low_rate": a["agreements_per_million"],
            "high_state": b["name"],
            "high_rate": b["agreements_per_million"],
        }
        for _, a in lo.iterrows()
        for _, b in hi.iterrows()
        if a["agreements_per_million"] > b["agreements_per_million"]
    ]
    return pd.DataFrame(rows, columns=["low_state", "low_rate", "high_state", "high_rate"])


def support_type_settings(definitions: dict[str, str]) -> dict[str, str]:
    """``field`` or ``jail`` for each support type, read from ICE's own one-sentence definition.

    A definition that mentions :data:`FIELD_WORDS` is field enforcement (done during
    routine police work); one that mentions :data:`JAIL_WORDS` and not those is
    jail-based. A definition with neither raises: the rule cannot place it.
    """
    out = {}
    for support, text in definitions.items():
        lowered = text.casefold()
        if FIELD_WORDS in lowered:
            out[support] = "field"
        elif JAIL_WORDS in lowered:
            out[support] = "jail"
        else:
            raise ValueError(f"{support}: its definition names neither {FIELD_WORDS!r} nor {JAIL_WORDS!r}: {text!r}")
    return out


def state_standing(
    agreements_df: pd.DataFrame,
    pending_df: pd.DataFrame,
    population: pd.DataFrame,
    state: str,
) -> dict[str, object]:
    """Where ``state`` stands nationally: rate rank, pending agencies, share of counties signed.

    Returns ``rate`` (agreements per million), ``rank`` and ``ranked`` (among the 50 states and
    DC, 1 = highest, ties share the best rank), ``pending`` (distinct agencies of the state on
    the pending sheet) and ``pending_agreements`` (its rows), ``counties_signed`` /
    ``counties_total`` for the state and ``us_counties_signed`` / ``us_counties_total``
    for the 50 states and DC (counties whose county agency holds an agreement).
    """
    from helpers import ice

    state = geo.normalize_state(state)
    counts = ice.state_counts(agreements_df, population)
    ranked = counts[counts["kind"].isin(["state", "district"])].copy()
    if ranked["population"].isna().any():
        raise JoinError(f"no population for {sorted(ranked.loc[ranked['population'].isna(), 'state'])}")
    ranked["rank"] = ranked["agreements_per_million"].rank(ascending=False, method="min").astype(int)
    if state not in set(ranked["state"]):
        raise ValueError(f"{state} is not one of the 50 states or DC; a national rank needs one")
    row = ranked[ranked["state"] == state].iloc[0]  # one row per state
    all_counties = geo.counties()
    in_scope = set(ranked["state"])
    fips_scope = set(geo.states().loc[geo.states()["state"].isin(in_scope), "fips"])
    us_total = int(all_counties["state_fips"].isin(fips_scope).sum())
    counted = ice.count_units(agreements_df[agreements_df["state"].isin(in_scope)], by=None).iloc[0]
    pending = pending_df[pending_df["state"] == state]
    return {
        "state": state,
        "rate": float(row["agreements_per_million"]),
        "rank": int(row["rank"]),
        "ranked": len(ranked),
        "pending": int(pending["agency"].map(geo.key).nunique()),
        "pending_agreements": len(pending),
        "counties_signed": int(row["counties"]),
        "counties_total": len(geo.state_counties(state)),
        "us_counties_signed": int(counted["counties"]),
        "us_counties_total": us_total,
    }


def county_support_types(agreements_df: pd.DataFrame, state: str, county: str) -> pd.DataFrame:
    """The agreements of one county's own agency (``county`` matched like the sheet's counties).

    Columns: agency, support_type, signed. Raises if the county is not in ``state``.
    """
    state = geo.normalize_state(state)
    fips, _ = geo.match_county(state, county)
    if fips is None:
        raise ValueError(f"county {county!r} not found in {state}")
    rows = agreements_df[(agreements_df["state"] == state) & (agreements_df["county_fips"] == fips)]
    if "county_agency" in rows.columns:  # the county's own agency, not a city's police located there
        rows = rows[rows["county_agency"]]
    return rows[["agency", "support_type", "signed"]].sort_values(["support_type", "agency"]).reset_index(drop=True)
