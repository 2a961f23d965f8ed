"""helpers.history: each agreement's history, on hand-built sheets and over the whole 2025 archive."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from helpers import history, ice, timeline

# ---------------------------------------------------------------- hand-built sheets

SHEETS = {  # file -> (publication time, label, kind)
    "s1.xlsx": ("2025-10-01 09:00", "2025-10-01 am", "ice name"),
    "s2.xlsx": ("2025-10-15 09:00", "2025-10-15 am", "ice name"),
    "s3.xlsx": ("2025-11-03 23:10", "2025-11-03 23:10 capture (upper bound)", "capture time (upper bound)"),
    "s4.xlsx": ("2025-12-30 09:00", "2025-12-30 am", "ice name"),
    "s5.xlsx": ("2026-01-05 16:00", "2026-01-05 pm (name corrected)", "corrected"),
}
TFM, WSO, JEM = "Task Force Model", "Warrant Service Officer", "Jail Enforcement Model"


def row(
    file: str,
    agency: str,
    support: str = TFM,
    signed: str = "2025-03-01",
    state: str = "MINNESOTA",
    county: str | None = "27063",
    agency_type: str | None = "County",
) -> dict:
    published, label, kind = SHEETS[file]
    return {
        "source_file": file,
        "published": pd.Timestamp(published),
        "published_label": label,
        "published_kind": kind,
        "state": state,
        "agency": agency,
        "support_type": support,
        "signed": pd.Timestamp(signed),
        "agency_type": agency_type,
        "county_fips": county,
        "county_name": None if county is None else "Jackson County",
        "list": "participating",
    }


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["row"] = df.groupby("source_file").cumcount() + 2
    return df


def on(files: str, *args, **kwargs) -> list[dict]:
    """The same agreement on each sheet named in ``files`` ("1 2 4" = s1, s2, s4)."""
    return [row(f"s{k}.xlsx", *args, **kwargs) for k in files.split()]


BACKGROUND = on("1 2 3 4 5", "Steady County Sheriff's Office", county="27001")  # on every sheet


def build(rows: list[dict], **kwargs) -> history.History:
    return history.build(frame(BACKGROUND + rows), **kwargs)


def one(h: history.History, agency_key: str, support: str = TFM, state: str = "MINNESOTA") -> pd.Series:
    ag = h.agreements
    found = ag[(ag["agency_key"] == agency_key) & (ag["support_type"] == support) & (ag["state"] == state)]
    assert len(found) == 1, found
    return found.iloc[0]


def test_disappear_and_return():
    h = build(on("1 3 4 5", "Jackson County Sheriff's Office", WSO))
    a = one(h, "jackson county sheriff", WSO)
    assert a["returned"] and a["gaps"] == 1 and a["sheets"] == 4 and a["sheets_missing"] == 1
    assert a["gap_sheets"] == "2025-10-15 am (1 sheet)"
    assert a["status"] == "active" and a["on_newest_sheet"]
    assert a["first_label"] == "2025-10-01 am" and a["last_label"] == "2026-01-05 pm (name corrected)"
    assert h.publications["returned"].tolist() == [0, 0, 1, 0, 0]
    assert h.publications["removed"].tolist() == [0, 1, 0, 0, 0]  # dated by the first sheet without it
    assert h.publications["agreements"].tolist() == [2, 1, 2, 2, 2]
    runs = h.runs[h.runs["id"] == a.name]
    assert runs[["start", "end"]].values.tolist() == [[0, 0], [2, 4]]


def test_departure_names_the_sheets_and_a_capture_bound():
    h = build(
        on("1 2 3", "Jackson County Sheriff's Office", WSO) + on("5", "New County Sheriff's Office", county="27099")
    )
    gone = one(h, "jackson county sheriff", WSO)
    assert gone["status"] == "gone" and not gone["returned"]
    assert (gone["gone_after_label"], gone["gone_from_label"]) == (
        "2025-11-03 23:10 capture (upper bound)",
        "2025-12-30 am",
    )
    assert gone["last_kind"] == "capture time (upper bound)" and gone["first_kind"] == "ice name"
    assert gone["gone_from_published"] == pd.Timestamp("2025-12-30 09:00")
    later = one(h, "new county sheriff")
    assert later["status"] == "not yet listed" and pd.isna(later["gone_after_label"])
    assert h.status_sheet["file"] == "s4.xlsx"
    counts = history.summary(h)
    assert (counts["active"], counts["gone"], counts["not yet listed"], counts["agreements"]) == (1, 1, 1, 3)


def test_printed_name_variants_are_one_agreement():
    rows = on("1 2", "Jackson County Sheriff's Office") + on("3 4 5", "Jackson County Sheriff's Department")
    h = build(rows)
    a = one(h, "jackson county sheriff")
    assert a["names"] == "Jackson County Sheriff's Office; Jackson County Sheriff's Department"
    assert a["agency"] == "Jackson County Sheriff's Department" and a["status"] == "active" and a["sheets"] == 5
    changes = history.renames(h, frame(BACKGROUND + rows))
    assert changes[["rule", "old_name", "new_name", "last_old", "first_new"]].values.tolist() == [
        [
            "printed name",
            "Jackson County Sheriff's Office",
            "Jackson County Sheriff's Department",
            "2025-10-15 am",
            "2025-11-03 23:10 capture (upper bound)",
        ]
    ]


def test_missing_cells_give_way_to_the_last_printed_value():
    """County, type and SIGNED come from the agreement's last row that prints them; names and dates are listed in
    the order first printed, each once; a name printed back again is a second change of printed name."""
    rows = (
        on("1", "Jackson County Sheriff's Office", signed="2025-03-01")
        + on("2", "Jackson County Sheriff's Office", county=None, agency_type=None, signed="2025-03-02")
        + on("3", "Jackson County Sheriff's Department", signed="2025-03-01")
        + on("4 5", "Jackson County Sheriff's Office", county=None, agency_type=None)
    )
    rows[1]["signed"] = pd.NaT
    h = build(rows)
    a = one(h, "jackson county sheriff")
    assert (a["county_fips"], a["agency_type"], a["signed"]) == ("27063", "County", pd.Timestamp("2025-03-01"))
    assert a["names"] == "Jackson County Sheriff's Office; Jackson County Sheriff's Department"
    assert a["signed_dates"] == "2025-03-01"
    changes = history.renames(h, frame(BACKGROUND + rows))
    assert changes[["old_name", "first_new"]].values.tolist() == [
        ["Jackson County Sheriff's Office", "2025-11-03 23:10 capture (upper bound)"],
        ["Jackson County Sheriff's Department", "2025-12-30 am"],
    ]


def test_rename_by_rule_is_not_a_departure():
    rows = on("1 2", "Jackson County BOCC", WSO) + on("3 4 5", "Jackson County Jail", WSO)
    h = build(rows)
    old, new = one(h, "jackson county bocc", WSO), one(h, "jackson county jail", WSO)
    assert old["status"] == "renamed" and old["renamed_to"] == "Jackson County Jail"
    assert new["renamed_from"] == "Jackson County BOCC" and new["status"] == "active"
    assert h.publications[["added", "removed", "renamed"]].sum().tolist() == [0, 0, 1]
    months = history.monthly_changes(h)
    assert months.set_index("month").loc["2025-11", ["added", "removed", "renamed"]].tolist() == [0, 0, 1]
    table = history.renames(h, frame(BACKGROUND + rows))
    assert table.loc[table["rule"] == "rule", ["old_name", "new_name", "first_new"]].values.tolist() == [
        ["Jackson County BOCC", "Jackson County Jail", "2025-11-03 23:10 capture (upper bound)"]
    ]


def test_misprinted_state_corrected_is_a_rename():
    rows = on("1 2", "Crow Wing County Sheriff's Office", state="MASSACHUSETTS", county=None) + on(
        "3 4 5", "Crow Wing County Sheriff's Office", county="27035"
    )
    h = build(rows)
    old = h.agreements[h.agreements["state"] == "MASSACHUSETTS"].iloc[0]
    assert old["status"] == "renamed" and old["renamed_to"] == "Crow Wing County Sheriff's Office (MINNESOTA)"


# each case: old agreement's rows, new agreement's rows; none of them is a rename by the rule
NOT_RENAMES = [
    ("different signed date", on("1 2", "A County BOCC"), on("3 4 5", "A County Jail", signed="2025-03-02")),
    ("different support type", on("1 2", "A County BOCC"), on("3 4 5", "A County Jail", WSO)),
    ("a sheet between them", on("1", "A County BOCC"), on("3 4 5", "A County Jail")),
    ("listed together", on("1 2 3", "A County BOCC"), on("3 4 5", "A County Jail")),
    (
        "another state, another agency",
        on("1 2", "A County BOCC"),
        on("3 4 5", "A County Jail", state="IOWA", county=None),
    ),
    ("another county", on("1 2", "A County BOCC"), on("3 4 5", "A County Jail", county="27001")),
    ("two candidates", on("1 2", "A County BOCC"), on("3 4 5", "A County Jail") + on("3 4 5", "A County Annex")),
]


@pytest.mark.parametrize(("case", "old", "new"), NOT_RENAMES, ids=[c[0] for c in NOT_RENAMES])
def test_not_a_rename(case, old, new):
    h = build(old + new)
    assert one(h, "a county bocc")["status"] == "gone"
    assert h.pairs.empty


def test_two_candidates_resolved_by_the_first_word():
    h = build(on("1 2", "A County BOCC") + on("3 4 5", "A County Jail") + on("3 4 5", "B County Jail"))
    assert one(h, "a county bocc")["renamed_to"] == "A County Jail"


def test_an_agreement_printed_twice_on_a_sheet_counts_once_and_is_reported():
    rows = on("1 2 3 4 5", "Jackson County Sheriff's Office") + [
        row("s2.xlsx", "Jackson County Sheriff's Office", signed="2025-03-02")
    ]
    h = build(rows)
    a = one(h, "jackson county sheriff")
    assert a["sheets"] == 5 and a["sheets_listed_twice"] == 1 and a["signed_dates"] == "2025-03-01; 2025-03-02"
    assert h.repeated[["source_file", "agency"]].values.tolist() == [["s2.xlsx", "Jackson County Sheriff's Office"]]
    pubs = h.publications.set_index("file")
    assert (pubs.loc["s2.xlsx", ["rows", "repeated_rows", "agreements"]].tolist()) == [3, 1, 2]
    assert history.summary(h)["repeated_rows"] == 1


def _pending(df):
    df.loc[df["source_file"] == "s2.xlsx", "list"] = "pending"
    return df


# bad input -> the error names what is wrong
BAD = [
    ("no rows", lambda df: df.iloc[0:0], "no sheet rows"),
    ("missing column", lambda df: df.drop(columns="support_type"), r"lacks column\(s\) \['support_type'\]"),
    (
        "unknown state",
        lambda df: df.assign(state=df["state"].where(df.index != 1, "MINNESOTTA")),
        r"s2.xlsx, row 2: unknown state 'MINNESOTTA'",
    ),
    ("pending list", _pending, "s2.xlsx: not a participating list"),
    (
        "unknown support type",
        lambda df: df.assign(support_type=df["support_type"].where(df.index != 0, "Task Force")),
        r"s1.xlsx, row 2: support type 'Task Force' is not one of",
    ),
    (
        "no agency",
        lambda df: df.assign(agency=df["agency"].where(df.index != 0, None)),
        r"s1.xlsx, row 2: no agency name",
    ),
    (
        "two publication times",
        lambda df: df.assign(published=df["published"].where(df.index != 0, pd.Timestamp("2025-10-02"))),
        r"s1.xlsx: rows with different publication times",
    ),
    (
        "no publication time",
        lambda df: df.assign(published=df["published"].where(df.index != 0, pd.NaT)),
        r"s1.xlsx, row 2: no publication time",
    ),
]


@pytest.mark.parametrize(("case", "spoil", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused(case, spoil, message):
    df = spoil(frame(BACKGROUND + on("1 2", "Jackson County Sheriff's Office")))
    with pytest.raises(history.HistoryError, match=message):
        history.build(df)


def test_duplicate_identity_rows_never_become_two_agreements():
    """Two rows of one identity on one sheet, once with the key given and once computed by the loader's rule."""
    rows = frame(
        BACKGROUND + on("1", "Jackson County Sheriff's Office") + on("1", "Jackson County Sheriffs Department")
    )
    for df in (rows, rows.assign(agency_key=[ice.agency_key(s, a) for s, a in zip(rows["state"], rows["agency"])])):
        h = history.build(df)
        assert len(h.agreements) == 2 and len(h.repeated) == 1
        assert h.publications.loc[0, ["rows", "agreements"]].tolist() == [3, 2]


def test_invariant_checks_fail_loudly():
    h = build(on("1 2", "Jackson County Sheriff's Office"))
    bad = h.agreements.copy()
    bad.loc[1, "first_published"] = pd.Timestamp("2027-01-01")
    with pytest.raises(AssertionError, match="first appearance after the last"):
        history.check(history.History(bad, h.publications, h.runs, h.gaps, h.pairs, h.repeated, h.status_position))
    pubs = h.publications.copy()
    pubs.loc[0, "agreements"] += 1
    with pytest.raises(AssertionError, match="s1.xlsx: 3 agreements by the history"):
        history.check(history.History(h.agreements, pubs, h.runs, h.gaps, h.pairs, h.repeated, h.status_position))
    lost = frame(BACKGROUND + on("1 2", "Jackson County Sheriff's Office") + on("2", "Other County Sheriff's Office"))
    with pytest.raises(AssertionError, match="in one table only"):
        history.check(h, history._check(lost))


def test_events_after_a_date_and_the_sentence():
    rows = (
        on("1 2 3", "Jackson County Sheriff's Office", WSO)
        + on("1 2 3 4 5", "Cass County Sheriff's Office", county="27021")
        + on("4 5", "Cass County Sheriff's Office", JEM, county="27021")
    )
    h = build(rows)
    counties = {"27063": "Jackson County", "27021": "Cass County"}
    events = history.events_after(h, "MINNESOTA", counties, "2025-10-20")
    assert events[["county", "support_type", "event", "sheet"]].values.tolist() == [
        ["Jackson County", WSO, "removed", "2025-12-30 am"],
        ["Cass County", JEM, "added", "2025-12-30 am"],
        ["Cass County", TFM, "still listed", "2026-01-05 pm (name corrected)"],
    ]
    assert events["last_listed"].iloc[0] == "2025-11-03 23:10 capture (upper bound)" and pd.isna(
        events["last_listed"].iloc[1]
    )
    assert events["listed_then"].tolist() == [True, False, True]
    sentence = history.events_sentence(events, counties, "2025-10-20", "2026-01-05 pm")
    assert sentence.startswith(
        "After 2025-10-20, of the 2 counties: Jackson County's Warrant Service Officer agreement"
    )
    assert "is missing from the 2025-12-30 am sheet" in sentence
    assert "Cass County's county agency added a Jail Enforcement Model agreement" in sentence
    one_kept = history.events_sentence(
        events[events["county"] == "Cass County"], {"27021": "Cass County"}, "2025-10-20", "2026-01-05 pm"
    )
    assert "1 county (Cass)" not in one_kept  # Cass changed (an addition), so it is not counted as unchanged
    nothing = history.events_sentence(events.iloc[0:0], {}, "2025-10-20", "x")
    assert nothing.startswith("No county agency held an agreement")


def test_match_counties_refuses_an_unknown_county():
    assert history.match_counties("MINNESOTA", ["Jackson", "Crow Wing"]) == {
        "27063": "Jackson County",
        "27035": "Crow Wing County",
    }
    with pytest.raises(history.HistoryError, match="'Atlantis' is not a county of MINNESOTA"):
        history.match_counties("MINNESOTA", ["Atlantis"])


def test_parquet_is_typed(tmp_path):
    h = build(on("1 3 4 5", "Jackson County Sheriff's Office"))
    path = history.write_parquet(h.agreements, tmp_path / "h.parquet")
    back = history.read_parquet(path)
    assert list(back.columns) == history.COLUMNS
    assert back["signed"].iloc[0] == date(2025, 3, 1)
    assert back["sheets"].dtype == np.int64 and back["returned"].dtype == bool
    assert back["first_published"].dtype.kind == "M" and back["gone_from_published"].isna().all()
    assert path.read_bytes() == history.write_parquet(h.agreements, tmp_path / "again.parquet").read_bytes()
    text = history.table_for_csv(h.agreements)
    assert text["returned"].tolist() == ["true", "false"] and text["signed"].iloc[1] == "2025-03-01"


# ---------------------------------------------------------------- the whole archive


@pytest.fixture(scope="module")
def archive():
    window, sheets = timeline.archived_sheets()
    return window, sheets, history.build(sheets, dict(zip(window["file"], window["sha256"])))


def test_archive_invariants(archive):
    window, sheets, h = archive
    ag, pubs = h.agreements, h.publications
    assert pubs["file"].tolist() == window["file"].tolist()  # every publication, in the catalogue's order
    assert (ag["first_published"] <= ag["last_published"]).all()
    rows = sheets.groupby("source_file").size().reindex(pubs["file"]).to_numpy()
    distinct = sheets.drop_duplicates(["source_file", *history.IDENTITY]).groupby("source_file").size()
    assert (pubs["rows"].to_numpy() == rows).all()
    assert (pubs["agreements"].to_numpy() == distinct.reindex(pubs["file"]).to_numpy()).all()
    assert (pubs["agreements"] == pubs["rows"] - pubs["repeated_rows"]).all()
    assert (
        pubs["repeated_rows"].sum()
        == len(h.repeated)
        == len(sheets) - len(sheets.drop_duplicates(["source_file", *history.IDENTITY]))
    )
    identities = sheets[history.IDENTITY].drop_duplicates()
    assert len(identities) == len(ag)
    assert identities.merge(ag[history.IDENTITY], how="left", indicator=True)["_merge"].eq("both").all()
    assert ag["sheets"].sum() == pubs["agreements"].sum()
    status = h.status_sheet
    assert status["published"].year == 2025 and (pubs["published"].iloc[h.status_position + 1 :].dt.year > 2025).all()
    assert (ag["status"] == "active").sum() == status["agreements"]


def test_renames_by_rule_never_overlap(archive):
    _, _, h = archive
    ag = h.agreements
    old, new = ag.loc[h.pairs["old"]].reset_index(drop=True), ag.loc[h.pairs["new"]].reset_index(drop=True)
    assert len(h.pairs) > 0
    assert (old["support_type"] == new["support_type"]).all()
    assert (old["last_published"] < new["first_published"]).all()
    assert (old["status"].isin(["renamed", "active"])).all()


def test_jackson_county_leaves_between_the_november_and_december_sheets(archive):
    _, sheets, h = archive
    jackson = one(h, "jackson county sheriff", WSO)
    assert jackson["state"] == "MINNESOTA" and jackson["signed"] == pd.Timestamp("2025-03-07")
    assert jackson["status"] == "gone" and not jackson["returned"] and not jackson["on_newest_sheet"]
    rows = sheets[
        (sheets["state"] == "MINNESOTA")
        & (sheets["agency_key"] == "jackson county sheriff")
        & (sheets["support_type"] == WSO)
    ]
    listing = set(rows["source_file"])
    assert "participatingAgencies11262025am.xlsx" in listing and "participatingAgencies12302025am.xlsx" not in listing
    pubs = h.publications.reset_index(drop=True)
    last = pubs.index[pubs["file"] == jackson["last_file"]][0]
    assert jackson["last_file"] in listing and jackson["gone_from_file"] == pubs.loc[last + 1, "file"]
    assert not set(pubs.loc[last + 1 :, "file"]) & listing  # never listed again
    assert jackson["gone_after_file"] == jackson["last_file"]
    assert pubs.loc[last, "published"] < pd.Timestamp("2025-12-30") and jackson["gone_from_published"] <= pd.Timestamp(
        "2025-12-30 23:59"
    )
    counties = history.match_counties("MINNESOTA", ["Jackson"])
    events = history.events_after(h, "MINNESOTA", counties, "2025-11-01")
    assert events.loc[events["support_type"] == WSO, ["event", "sheet"]].values.tolist() == [
        ["removed", jackson["gone_from_label"]]
    ]
