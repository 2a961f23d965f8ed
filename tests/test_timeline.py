"""helpers.timeline: the per-sheet series, the matching run and the sheet comparisons.

All sheets are loaded once per module (a few seconds to minutes on a busy machine).
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import claims, ice, timeline
from workbooks import GOOD_ROW, HEADER, NEW_NAME, PENDING_HEADER, write_rows

STATE = "MINNESOTA"
GROUPS = {
    "Florida and Texas": ["FLORIDA", "TEXAS"],
    "Wisconsin, Iowa and the Dakotas": ["WISCONSIN", "IOWA", "NORTH DAKOTA", "SOUTH DAKOTA"],
}
ARTICLE_DATE = "2025-11-01"
ARTICLE_CLAIMS = ["mn_counties_signed", "fl_tx_agreements", "upper_midwest_agreements"]


@pytest.fixture(scope="module")
def archive() -> tuple[pd.DataFrame, pd.DataFrame]:
    return timeline.archived_sheets()


@pytest.fixture(scope="module")
def registered(archive) -> pd.DataFrame:
    return archive[0]


@pytest.fixture(scope="module")
def sheets(archive) -> pd.DataFrame:
    return archive[1]


@pytest.fixture(scope="module")
def series(sheets, registered) -> pd.DataFrame:
    return timeline.sheet_series(sheets, STATE, GROUPS, dict(zip(registered["file"], registered["sha256"])))


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
    assert registered["file"].tolist() == ice.catalogue("participating")["file"].tolist()  # the whole archive
    assert series["file"].tolist() == registered["file"].tolist()
    assert series["sha256"].tolist() == registered["sha256"].tolist()
    assert series["published_kind"].tolist() == registered["published_kind"].tolist()
    assert list(series.columns) == timeline.SERIES_HEAD + list(GROUPS) + timeline.SERIES_TAIL
    assert series["published"].is_monotonic_increasing
    assert (series["agreements"] >= series[list(GROUPS)].sum(axis=1)).all()
    pending_named_participating = ice.catalogue("all").query("name_list == 'participating' and list == 'pending'")
    assert len(pending_named_participating) and not set(pending_named_participating["file"]) & set(series["file"])


def test_archived_sheets_refuses_an_empty_window():
    with pytest.raises(LookupError, match="no archived participating sheet was published between start=2024-01-01"):
        timeline.archived_sheets("2024-01-01", "2024-01-31")


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
            for a, b in changes.values():
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
    a = ("A County Sheriff's Office", "Warrant Service Officer", "2025-03-01")
    b = ("B County Sheriff's Office", "Task Force Model", "2025-10-30")
    c = ("C County Sheriff's Office", "Task Force Model", "2025-11-10")
    df = pd.concat(
        [
            _sheet("s1.xlsx", "2025-10-31 pm", "2025-10-31 16:00", [a]),
            _sheet("s2.xlsx", "2025-11-20 am", "2025-11-20 09:00", [a, b, c]),
            _sheet("s3.xlsx", "2025-12-30 am", "2025-12-30 09:00", [b, c]),
        ]
    )
    found = timeline.disagreements(df, "MINNESOTA", "s1.xlsx", "2025-11-01")
    assert found[["kind", "agency", "sheet"]].values.tolist() == [
        ["appears later", "B County Sheriff's Office", "2025-11-20 am"],
        ["drops out", "A County Sheriff's Office", "2025-12-30 am"],
    ]


def _sheet(file, label, published, rows, state="MINNESOTA"):
    return pd.DataFrame(
        [
            {
                "source_file": file,
                "published_label": label,
                "published": pd.Timestamp(published),
                "state": state,
                "agency": a,
                "support_type": s,
                "signed": pd.Timestamp(d),
            }
            for a, s, d in rows
        ]
    )


A = ("A County Sheriff's Office", "Warrant Service Officer", "2025-03-01")
B = ("B County Sheriff's Office", "Task Force Model", "2025-10-30")
DISAGREEMENTS = [  # sheets after the article's (s1: A and B), the article file, expected (kind, agency, sheet, back_on)
    (
        "dropped and back",
        [[B], [A, B]],
        "s1.xlsx",
        [("drops out", "A County Sheriff's Office", "2025-11-02 am", "2025-11-03 am")],
    ),
    ("dropped for good", [[B], [B]], "s1.xlsx", [("drops out", "A County Sheriff's Office", "2025-11-02 am", "")]),
    (
        "listed twice on the article sheet, dropped",
        [[B], [B]],
        "s1-twice",
        [("drops out", "A County Sheriff's Office", "2025-11-02 am", "")] * 2,
    ),
    ("no later sheet", [], "s1.xlsx", []),
    ("the newest sheet is the article's", [[A], [A, B]], "s3.xlsx", []),
]


@pytest.mark.parametrize(("case", "later", "article", "expected"), DISAGREEMENTS, ids=[d[0] for d in DISAGREEMENTS])
def test_disagreements_cases(case, later, article, expected):
    first = [A, A, B] if article == "s1-twice" else [A, B]
    parts = [_sheet("s1.xlsx", "2025-10-31 pm", "2025-10-31 16:00", first)]
    parts += [
        _sheet(f"s{i + 2}.xlsx", f"2025-11-0{i + 2} am", f"2025-11-0{i + 2} 09:00", rows)
        for i, rows in enumerate(later)
    ]
    found = timeline.disagreements(pd.concat(parts), "MINNESOTA", article.replace("-twice", ".xlsx"), "2025-11-01")
    assert list(found.columns) == ["kind", "agency", "support_type", "signed", "sheet", "back_on"]
    assert found[["kind", "agency", "sheet", "back_on"]].values.tolist() == [list(e) for e in expected]


def test_disagreements_refuses_a_sheet_not_in_the_table():
    df = _sheet("s1.xlsx", "2025-10-31 pm", "2025-10-31 16:00", [A])
    with pytest.raises(ValueError, match="article_file='s9.xlsx' is not one of the sheets"):
        timeline.disagreements(df, "MINNESOTA", "s9.xlsx", "2025-11-01")


def test_series_counts_each_sheet_as_count_units_does(sheets, series):
    """The series' columns are count_units per sheet, for the nation, each group and the state (a sample of sheets)."""
    for file in series["file"].iloc[::40]:
        one = sheets[sheets["source_file"] == file]
        row = series[series["file"] == file].iloc[0]
        assert row["agreements"] == len(one)
        for label, members in GROUPS.items():
            assert row[label] == int(ice.count_units(one[one["state"].isin(members)], by=None)["agreements"].iloc[0])
        mine = ice.count_units(one[one["state"] == STATE], by=None).iloc[0]
        assert (row["state_agreements"], row["state_counties"]) == (mine["agreements"], mine["counties"])


def test_sheet_diff_of_states_without_rows_is_empty():
    df = pd.concat([_sheet("a.xlsx", "a", "2025-10-01", [A]), _sheet("b.xlsx", "b", "2025-10-02", [B])])
    assert timeline.sheet_diff(df, "a.xlsx", "b.xlsx", ["VERMONT"]).empty
    assert timeline.sheet_diff(df, "a.xlsx", "b.xlsx")["change"].tolist() == ["added", "removed"]


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


# ---------------------------------------------------------------- the window claim, on hand-made series


def _series(values: list[tuple[int, int]], labels: list[str] | None = None) -> pd.DataFrame:
    labels = labels or [f"2025-10-{10 + i:02d} am" for i in range(len(values))]
    return pd.DataFrame(
        {
            "published": [pd.Timestamp(f"2025-10-{10 + i:02d} 09:00") for i in range(len(values))],
            "published_label": labels,
            "file": [f"s{i}.xlsx" for i in range(len(values))],
            "sha256": [f"h{i // 2}" for i in range(len(values))],
            "agreements": [a + b for a, b in values],
            "x": [a for a, _ in values],
            "y": [b for _, b in values],
        }
    )


WINDOWS = [  # values per sheet, as_of, expected value and evidence fragments
    (
        "both ends",
        [(1, 5), (2, 5), (2, 5), (2, 6)],
        "2025-10-12",
        [
            "from 2025-10-11 am to 2025-10-12 am (2 sheets, 2 distinct contents)",
            "not on 2025-10-10 am (the last sheet before) nor on 2025-10-13 am (the first after)",
        ],
        "4 archived sheets; not on 2025-10-10 am, held 2025-10-11 am to 2025-10-12 am, not on 2025-10-13 am",
    ),
    (
        "from the first sheet",
        [(2, 5), (2, 5), (3, 5)],
        "2025-10-10",
        ["they hold from the first archived sheet; not on 2025-10-12 am (the first after)"],
        "not on -, held",
    ),
    (
        "to the newest sheet",
        [(1, 5), (2, 5)],
        "2025-10-30",
        ["not on 2025-10-10 am (the last sheet before); they still hold on the newest archived sheet"],
        "not on -",
    ),
    (
        "held elsewhere too",
        [(2, 5), (1, 5), (2, 5)],
        "2025-10-12",
        ["not on 2025-10-11 am (the last sheet before); they still hold"],
        "held 2025-10-12 am",
    ),
]


@pytest.mark.parametrize(("case", "values", "as_of", "fragments", "evidence"), WINDOWS, ids=[w[0] for w in WINDOWS])
def test_window_claim_names_the_record_bounds(case, values, as_of, fragments, evidence):
    series = _series(values)
    run = timeline.matching_run(series, {"x": 2, "y": 5}, as_of)
    claim = timeline.window_claim(run, series, "2 and 5")
    for fragment in fragments:
        assert fragment in claim["value"]
    assert evidence in claim["evidence"] and len(claim["evidence"]) <= 160
    assert claim["details"].startswith(claim["value"].split(";")[0])
    if case == "held elsewhere too":
        assert run.elsewhere == [0] and "they also hold on 2025-10-10 am" in claim["details"]
    else:
        assert run.elsewhere == [] and "no other of the" in claim["details"]
    if case == "both ends":
        assert "(x 1, agreements 6)" in claim["details"] and "(y 6, agreements 8)" in claim["details"]


def test_window_claim_when_the_in_force_sheet_differs():
    series = _series([(2, 5), (1, 5), (1, 5)])
    run = timeline.matching_run(series, {"x": 2, "y": 5}, "2025-10-12")
    claim = timeline.window_claim(run, series, "2 and 5")
    assert claim["value"] == (
        "the sheet in force on 2025-10-12 (2025-10-12 am) gives x 1, y 5, not 2 and 5; they hold on "
        "1 other archived sheet(s): 2025-10-10 am"
    )


def test_window_claim_shortens_long_capture_labels():
    labels = [f"2025-03-{10 + i:02d} 23:10 capture (upper bound)" for i in range(4)]
    series = _series([(1, 5), (2, 5), (2, 5), (2, 6)], labels)
    claim = timeline.window_claim(timeline.matching_run(series, {"x": 2, "y": 5}, "2025-10-12"), series, "2 and 5")
    assert len(claim["evidence"]) <= 160 and "capture" in claim["evidence"]


# ---------------------------------------------------------------- a sheet appended to the series


def test_extra_sheet_already_in_the_series_is_not_appended(series, tmp_path):
    table, note = timeline.extra_sheet("participatingAgencies12302025am.xlsx", series)
    assert table is None and note.startswith("participatingAgencies12302025am.xlsx is already in the series")
    from helpers import data

    copy = tmp_path / "participatingAgencies01152026am.xlsx"
    copy.write_bytes(data.fetch("participatingAgencies12302025am.xlsx").read_bytes())
    table, note = timeline.extra_sheet(copy, series)
    assert table is None and note.startswith(
        "participatingAgencies01152026am.xlsx (the bytes of participatingAgencies12302025am.xlsx) is already in the series"
    )


def test_extra_sheet_appends_a_new_download_and_refuses_a_pending_list(series, tmp_path):
    path = write_rows(tmp_path, [HEADER, GOOD_ROW], NEW_NAME)
    with pytest.warns(UserWarning, match="not in the raw-data registry"):
        table, note = timeline.extra_sheet(path, series)
    assert len(table) == 1 and table.attrs["sha256"] and "not in the registry" in note
    longer = timeline.sheet_series(
        pd.concat([pd.DataFrame(), table]), STATE, GROUPS, {table.attrs["file"]: table.attrs["sha256"]}
    )
    assert longer[["file", "agreements", "state_agreements", "state_counties"]].values.tolist() == [[NEW_NAME, 1, 1, 1]]
    pending = write_rows(tmp_path, [PENDING_HEADER, GOOD_ROW[:5]], "participatingAgencies02172026am.xlsx")
    with pytest.warns(UserWarning), pytest.raises(ice.SheetKindError, match="is a pending list"):
        timeline.extra_sheet(pending, series)


def test_sheet_diff_uses_the_loaders_agency_identity():
    def sheet(file, agency):
        return pd.DataFrame(
            [
                {
                    "source_file": file,
                    "published": pd.Timestamp("2025-10-01"),
                    "published_label": file,
                    "state": "WISCONSIN",
                    "agency": agency,
                    "support_type": "Task Force Model",
                    "signed": pd.Timestamp("2025-03-01"),
                }
            ]
        )

    df = pd.concat(
        [sheet("a.xlsx", "Waukesha County Sheriff's Department"), sheet("b.xlsx", "Waukesha County Sheriff's Office")]
    )
    assert timeline.sheet_diff(df, "a.xlsx", "b.xlsx").empty
