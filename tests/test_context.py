"""Context tables: every join keeps the 50 states + DC, and values match PROVENANCE.md."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import context


@pytest.fixture(scope="module")
def agreements() -> pd.DataFrame:
    """A tiny tidy ICE table: two states and a territory (only the columns count_units needs)."""
    return pd.DataFrame(
        {
            "state": ["FLORIDA", "FLORIDA", "FLORIDA", "MINNESOTA", "GUAM"],
            "agency": ["A Sheriff", "A Sheriff", "B Police", "C County", "Guam Customs"],
            "county_fips": ["12001", "12001", None, "27001", None],
        }
    )


def test_trump_share_matches_provenance():
    t = context.trump_share_by_state().set_index("state")["trump_share"]
    assert len(t) == 51
    expected = {"FLORIDA": 0.5661, "MINNESOTA": 0.4783, "TEXAS": 0.5694, "NORTH DAKOTA": 0.6870}
    for state, share in expected.items():
        assert round(t[state], 4) == share


def test_foreign_born_share():
    fb = context.foreign_born_share_by_state([2023]).set_index("state")["foreign_born_share"]
    assert len(fb) == 51 and "PUERTO RICO" not in fb.index
    assert fb["MINNESOTA"] == pytest.approx(0.0863, abs=5e-5)
    assert fb["FLORIDA"] == pytest.approx(0.2210, abs=5e-5)
    three = context.foreign_born_share_by_state([2021, 2022, 2023]).set_index("state")["foreign_born_share"]
    assert three["NORTH DAKOTA"] != fb["NORTH DAKOTA"]
    with pytest.raises(Exception):
        context.foreign_born_share_by_state([2020])  # no 1-year release


def test_mn_county_results_have_87_counties():
    mn = context.county_trump_share("MINNESOTA")
    assert len(mn) == 87
    assert mn["county_fips"].str.startswith("27").all()
    assert mn["trump_share"].between(0, 1).all()


def test_state_table_keeps_all_states_with_zeros(agreements):
    t = context.state_table(agreements, [2023])
    assert len(t) == 51
    assert list(t.columns) == context.STATE_TABLE_COLUMNS
    assert "GUAM" not in set(t["state"])
    row = t.set_index("state")
    assert row.loc["FLORIDA", "agreements"] == 3 and row.loc["FLORIDA", "agencies"] == 2
    assert row.loc["ALABAMA", "agreements"] == 0 and row.loc["ALABAMA", "agreements_per_million"] == 0
    assert t[["population", "trump_share", "foreign_born_share"]].notna().all().all()
    assert context.territory_counts(agreements)["state"].tolist() == ["GUAM"]


def test_missing_state_raises():
    full = context.trump_share_by_state()
    with pytest.raises(context.JoinError, match="MINNESOTA"):
        context.check_states(full[full["state"] != "MINNESOTA"], "test")
    with pytest.raises(context.JoinError, match="duplicated"):
        context.check_states(pd.concat([full, full.head(1)]), "test")


def test_state_table_rejects_unknown_measure(agreements):
    with pytest.raises(ValueError):
        context.state_table(agreements, [2023], measure="counties")


def _population_file(tmp_path, rows: list[tuple[str, str, str]], year_column: str = "POPESTIMATE2024"):
    path = tmp_path / "NST-EST2024-ALLDATA.csv"
    pd.DataFrame(rows, columns=["SUMLEV", "STATE", year_column]).assign(NAME="x").to_csv(path, index=False)
    return path


def test_state_population_from_census_file():
    pop = context.state_population().set_index("state")["population"]
    assert len(pop) == 52  # 50 states, DC, Puerto Rico
    assert pop["MINNESOTA"] > 5_000_000 and pop["WYOMING"] < 1_000_000


@pytest.mark.parametrize(
    "rows,year_column,message",
    [
        ([("040", "27", "5800000")], "POPESTIMATE2023", "column 'POPESTIMATE2024' not found"),
        ([("040", "27", "1"), ("040", "27", "2")], "POPESTIMATE2024", "repeated: \\['27'\\]"),
        ([("040", "27", "1"), ("040", "99", "2")], "POPESTIMATE2024", "not in the reference table: \\['99'\\]"),
    ],
    ids=["renamed column", "repeated state", "unknown FIPS"],
)
def test_state_population_rejects_a_changed_file(tmp_path, monkeypatch, rows, year_column, message):
    path = _population_file(tmp_path, rows, year_column)
    monkeypatch.setattr(context.data, "fetch", lambda name: path)
    with pytest.raises(context.data.RawDataError, match=message):
        context.state_population()
