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
        raise data.RawDataError(f"{POPULATION}: state FIPS repeated: {sorted(out.loc[out['state_fips'].duplicated(), 'state_fips'])}")
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

    Columns: ``state``, ``state_fips``, ``trump_votes``, ``harris_votes``, ``trump_share``.
    """
    path = data.fetch(PRESIDENT_STATE)
    df = pd.read_csv(path, dtype={"state_fips": str, "candidate": str}, keep_default_na=False)
    df = df[df["candidate"].isin([TRUMP, HARRIS])]
    wide = df.pivot_table(index="state_fips", columns="candidate", values="votes", aggfunc="sum").reset_index()
    wide = wide.rename(columns={TRUMP: "trump_votes", HARRIS: "harris_votes"})
    if wide[["trump_votes", "harris_votes"]].isna().any().any():
        raise data.RawDataError(f"{PRESIDENT_STATE}: a state lacks a Trump or Harris line")
    wide = _reconcile_fips(wide, PRESIDENT_STATE)
    wide["trump_votes"] = wide["trump_votes"].astype(int)
    wide["harris_votes"] = wide["harris_votes"].astype(int)
    wide["trump_share"] = wide["trump_votes"] / (wide["trump_votes"] + wide["harris_votes"])
    out = wide[["state", "state_fips", "trump_votes", "harris_votes", "trump_share"]]
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
        raise data.RawDataError(f"{FOREIGN_BORN}: no rows for years {missing_years} (available: {sorted(set(df['year']))})")
    df = df[df["year"].isin(years)].copy()
    df["share"] = df["foreign_born"].astype(float) / df["total_pop"].astype(float)
    counts = df.groupby("state_fips")["year"].nunique()
    incomplete = sorted(counts[counts != len(years)].index)
    if incomplete:
        raise data.RawDataError(f"{FOREIGN_BORN}: states without every year {years}: {incomplete}")
    out = df.groupby("state_fips", as_index=False)["share"].mean().rename(columns={"share": "foreign_born_share"})
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
        return pd.DataFrame({"state": pd.Series(dtype=str), "agreements": pd.Series(dtype=int), "agencies": pd.Series(dtype=int)})
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
