"""helpers.timeline: the per-sheet series, the matching run and the sheet comparisons.

All sheets are loaded once per module (a few seconds to minutes on a busy machine).
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import claims, ice, timeline

STATE = "MINNESOTA"
GROUPS = {
    "Florida and Texas": ["FLORIDA", "TEXAS"],
    "Wisconsin, Iowa and the Dakotas": ["WISCONSIN", "IOWA", "NORTH DAKOTA", "SOUTH DAKOTA"],
}
ARTICLE_DATE = "2025-11-01"
ARTICLE_CLAIMS = ["mn_counties_signed", "fl_tx_agreements", "upper_midwest_agreements"]


@pytest.fixture(scope="module")
def registered() -> pd.DataFrame:
    return ice.catalogue("participating")


@pytest.fixture(scope="module")
def sheets(registered) -> pd.DataFrame:
    return ice.load_sheets(registered["path"])


@pytest.fixture(scope="module")
def series(sheets) -> pd.DataFrame:
    return timeline.sheet_series(sheets, STATE, GROUPS)


@pytest.fixture(scope="module")
def targets() -> dict[str, int]:
    """The article's numbers from the claims registry, keyed by the series column they are compared with."""
    reg = claims.load_claims().set_index("claim_id")
    columns = ["state_counties", *GROUPS]
    return {c: int(reg.loc[cid, "article_value"]) for c, cid in zip(columns, ARTICLE_CLAIMS)}


@pytest.fixture(scope="module")
def article_file(registered) -> str:
    path = ice.select_sheet(ARTICLE_DATE, "participating", registered)
    return registered.loc[registered["path"] == path, "file"].iloc[0]


def test_series_covers_every_participating_sheet(series, registered):
    assert series["file"].tolist() == registered["file"].tolist()
    assert list(series.columns) == timeline.SERIES_HEAD + list(GROUPS) + timeline.SERIES_TAIL
    assert series["published"].is_monotonic_increasing
    assert (series["agreements"] >= series[list(GROUPS)].sum(axis=1)).all()


def test_article_sheet_numbers_equal_notebooks_01_and_02(series, sheets, article_file):
    row = series.iloc[timeline.in_force(series, ARTICLE_DATE)]
    assert row["file"] == article_file
    sheet = sheets[sheets["source_file"] == article_file]
    assert row["state_counties"] == len(ice.counties_with_agreements(sheet, STATE))  # notebook 01
    totals = ice.group_totals(sheet, GROUPS).set_index("group")["agreements"]  # notebook 02
    for label in GROUPS:
        assert row[label] == totals[label]
    assert row["state_agreements"] == int((sheet["state"] == STATE).sum())
    assert row["agreements"] == len(sheet)


def test_matching_run_contains_article_sheet(series, targets, article_file):
    run = timeline.matching_run(series, targets, ARTICLE_DATE)
    assert run.holds
    assert run.in_force["file"] == article_file
    lo, hi = int(run.first.name), int(run.last.name)
    assert lo <= timeline.in_force(series, ARTICLE_DATE) <= hi
    assert run.matches.iloc[lo : hi + 1].all()
    assert run.n_sheets == hi - lo + 1
    # the sheets just outside differ in at least one compared number, and the deltas say which
    for outside, changes in ((run.before, run.changes_before), (run.after, run.changes_after)):
        if outside is not None:
            assert not run.matches.iloc[int(outside.name)]
            assert set(changes) & set(targets)
            for column, (a, b) in changes.items():
                assert a != b


def test_run_shifts_when_an_edge_sheet_is_removed(series, targets):
    run = timeline.matching_run(series, targets, ARTICLE_DATE)
    without_first = series[series["file"] != run.first["file"]].reset_index(drop=True)
    shifted = timeline.matching_run(without_first, targets, ARTICLE_DATE)
    assert shifted.n_sheets == run.n_sheets - 1
    assert shifted.first["published"] > run.first["published"]
    assert shifted.last["file"] == run.last["file"]

    without_last = series[series["file"] != run.last["file"]].reset_index(drop=True)
    shifted = timeline.matching_run(without_last, targets, ARTICLE_DATE)
    assert shifted.n_sheets == run.n_sheets - 1
    assert shifted.last["published"] < run.last["published"]
    assert shifted.first["file"] == run.first["file"]


def test_run_does_not_hold_when_targets_change(series, targets):
    off = {c: v + 1 for c, v in targets.items()}
    run = timeline.matching_run(series, off, ARTICLE_DATE)
    assert not run.holds and run.n_sheets == 0 and run.first is None


def test_sheet_diff_explains_the_change_before_the_run(sheets, series, targets):
    run = timeline.matching_run(series, targets, ARTICLE_DATE)
    assert run.before is not None
    states = [s for m in GROUPS.values() for s in m] + [STATE]
    diff = timeline.sheet_diff(sheets, run.before["file"], run.first["file"], states)
    first_group = list(GROUPS)[0]
    if first_group in run.changes_before:
        a, b = run.changes_before[first_group]
        in_group = diff[diff["state"].isin(GROUPS[first_group])]
        assert (in_group["change"] == "added").sum() - (in_group["change"] == "removed").sum() == b - a


def test_disagreements_are_consistent_with_later_sheets(sheets, article_file):
    found = timeline.disagreements(sheets, STATE, article_file, ARTICLE_DATE)
    assert set(found["kind"]) <= {"appears later", "drops out"}
    base = sheets[(sheets["source_file"] == article_file) & (sheets["state"] == STATE)]
    for r in found[found["kind"] == "drops out"].itertuples():
        assert r.agency in set(base["agency"])
    later = found[found["kind"] == "appears later"]
    assert (later["signed"] <= pd.Timestamp(ARTICLE_DATE)).all()
    assert not set(zip(later["agency"], later["support_type"])) & set(zip(base["agency"], base["support_type"]))


def test_disagreements_on_a_small_example():
    def sheet(file, label, published, rows):
        return pd.DataFrame(
            [{"source_file": file, "published_label": label, "published": pd.Timestamp(published), "state": "MINNESOTA",
              "agency": a, "support_type": s, "signed": pd.Timestamp(d)} for a, s, d in rows]
        )

    a = ("A County Sheriff's Office", "Warrant Service Officer", "2025-03-01")
    b = ("B County Sheriff's Office", "Task Force Model", "2025-10-30")
    c = ("C County Sheriff's Office", "Task Force Model", "2025-11-10")
    df = pd.concat([
        sheet("s1.xlsx", "2025-10-31 pm", "2025-10-31 16:00", [a]),
        sheet("s2.xlsx", "2025-11-20 am", "2025-11-20 09:00", [a, b, c]),
        sheet("s3.xlsx", "2025-12-30 am", "2025-12-30 09:00", [b, c]),
    ])
    found = timeline.disagreements(df, "MINNESOTA", "s1.xlsx", "2025-11-01")
    assert found[["kind", "agency", "sheet"]].values.tolist() == [
        ["appears later", "B County Sheriff's Office", "2025-11-20 am"],
        ["drops out", "A County Sheriff's Office", "2025-12-30 am"],
    ]


def test_support_type_table_and_pending(sheets, article_file):
    sheet = sheets[sheets["source_file"] == article_file]
    table = timeline.support_type_table(sheet, STATE, GROUPS)
    assert table["area"].tolist()[1:] == list(GROUPS)
    assert (table[list(ice.SUPPORT_TYPES)].sum(axis=1) == table["total"]).all()
    totals = ice.group_totals(sheet, GROUPS).set_index("group")["agreements"]
    assert table.set_index("area").loc[list(GROUPS), "total"].tolist() == totals.tolist()
    assert set(timeline.SUPPORT_TYPE_DEFINITIONS) == set(ice.SUPPORT_TYPES)

    pending = ice.load_as_of(ARTICLE_DATE, kind="pending")
    waiting = timeline.pending_summary(pending, STATE, GROUPS)
    assert waiting["area"].tolist()[1:] == list(GROUPS)
    assert waiting["pending"].iloc[0] == int((pending["state"] == STATE).sum())
