"""Context data by state (and county): population, election results, foreign-born share.

Every input's state names or FIPS codes are reconciled here, against
:func:`helpers.geo.states`, and every join checks that no state is lost.
"""

from __future__ import annotations

import pandas as pd

from helpers import data, geo

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
    ref = geo.states()[["state", "fips"]].rename(columns={"fips": "state_fips"})
    out = df[["STATE", column]].rename(columns={"STATE": "state_fips", column: "population"})
    out = out.merge(ref, on="state_fips", how="left", validate="one_to_one")
    if out["state"].isna().any():
        raise data.RawDataError(f"{POPULATION}: state FIPS not in the reference table: {out[out['state'].isna()]['state_fips'].tolist()}")
    out["population"] = out["population"].astype(int)
    return out[["state", "state_fips", "population"]].sort_values("state_fips").reset_index(drop=True)
