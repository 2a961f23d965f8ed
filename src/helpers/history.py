"""Each agreement's history over every archived ICE participating sheet.

:func:`build` turns the tidy table of many sheets (:func:`helpers.ice.load_sheets`
of the catalogue) into one row per agreement: when ICE's list first and last
carried it, on how many sheets, whether it disappeared and came back, under which
names, and its status at the end of 2025.  Everything is computed column-wise on
the (agreement, sheet) presence table; nothing loops over the rows of the sheets.

The rules, stated once (``data/README.md`` repeats them for the table):

* **Identity.**  An agreement is a state, an agency identity and a support type
  (:data:`IDENTITY`).  The agency identity is the loader's ``agency_key``
  (:func:`helpers.ice.agency_key`: case, spacing, punctuation, apostrophes,
  Dept/PD/Twp, Sheriff's Office = Sheriff's Department, and the keyed
  corrections of ``data/corrections/agency_names.csv``).  A table without the
  column gets it from the same function; nothing else decides identity.
* **Which publications count.**  Every publication (file name) whose *content*
  is a participating list: the caller passes the catalogue's
  (:func:`helpers.sheets.catalogue`), which leaves out a pending list saved under a
  participating name and dates wrong-year names by their correction.  They are
  ordered by publication time (for Wayback captures and the January 2025 web-page
  scrapes, the capture time, an upper bound on publication) and, at equal times,
  in the order given.  ``sheets`` counts publications, ``contents`` distinct
  contents (the same bytes re-posted under several names are one content).
* **Repeated listings.**  A sheet that prints one identity on several rows (rows
  that differ in some cell; exact duplicates are already dropped by the loader)
  lists one agreement: the history counts it once on that sheet and reports the
  extra rows (:attr:`History.repeated`, column ``sheets_listed_twice``).  So, on
  every sheet, agreements active by the history = rows - repeated rows.
* **Gaps and returns.**  An agreement *returned* when some publication between
  its first and last appearance does not list it; each such stretch is a gap.
* **Renames.**  (1) the same identity under different printed names is one
  agreement (``names``; :func:`renames` lists each change of printed name).
  (2) two identities are one agreement renamed (:data:`RENAME_RULE`) when the
  new one first appears on the very publication after the old one's last, with
  the same support type and SIGNED date, in the same state (or under the same
  agency identity in another state: a misprinted state corrected), with the same
  county where both have one, and the pairing is unique.  Such an old identity's
  status is ``renamed``, not ``gone``.
* **Status at the end of 2025.**  On the last publication dated on or before
  ``status_date`` (2025-12-31): ``active`` if listed there; ``renamed`` or
  ``gone`` if listed before but not there (``gone_after_*``: the last sheet
  listing it; ``gone_from_*``: the first that did not); ``not yet listed`` if
  first listed after it (the January 2026 sheets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import geo, ice, paths

#: Columns that identify one agreement across sheets.
IDENTITY = ["state", "agency_key", "support_type"]
#: Columns :func:`build` needs in the tidy table (``agency_key``, ``agency_type``, ``county_*``, ``list`` and
#: ``row`` are optional: computed by the same rule, or taken as missing).
REQUIRED = [
    "source_file",
    "published",
    "published_label",
    "published_kind",
    "state",
    "agency",
    "support_type",
    "signed",
]
STATUS_DATE = date(2025, 12, 31)
STATUSES = ("active", "gone", "renamed", "not yet listed")
RENAME_RULE = (
    "same support type and SIGNED date; the new name first listed on the publication right after the old name's "
    "last; same state (or the same agency identity in another state); same county where both have one; "
    "a unique pair (among several candidates, the one whose agency identity starts with the same word)"
)
#: Columns of :attr:`History.agreements`, in order.
COLUMNS = [
    "state",
    "agency_key",
    "support_type",
    "agency",
    "names",
    "agency_type",
    "county_fips",
    "county_name",
    "signed",
    "signed_dates",
    "first_file",
    "first_label",
    "first_published",
    "first_kind",
    "last_file",
    "last_label",
    "last_published",
    "last_kind",
    "sheets",
    "contents",
    "sheets_missing",
    "sheets_listed_twice",
    "returned",
    "gaps",
    "gap_sheets",
    "status",
    "gone_after_file",
    "gone_after_label",
    "gone_from_file",
    "gone_from_label",
    "gone_from_published",
    "renamed_to",
    "renamed_from",
    "on_newest_sheet",
]
#: dtype of each column of :attr:`History.agreements` (dates as datetime64 at midnight or at the nominal hour).
DTYPES = {c: "string" for c in COLUMNS} | {
    "signed": "datetime64[us]",
    "first_published": "datetime64[us]",
    "last_published": "datetime64[us]",
    "gone_from_published": "datetime64[us]",
    "sheets": "int64",
    "contents": "int64",
    "sheets_missing": "int64",
    "sheets_listed_twice": "int64",
    "gaps": "int64",
    "returned": "bool",
    "on_newest_sheet": "bool",
}
PUBLICATION_COLUMNS = [
    "file",
    "published",
    "label",
    "kind",
    "content",
    "rows",
    "agreements",
    "repeated_rows",
    "added",
    "returned",
    "removed",
    "renamed",
]


class HistoryError(ValueError):
    """A table that cannot give an agreement history; the message names the file, row or value."""


@dataclass(frozen=True)
class History:
    """The agreement history and the tables it is built from (see the module docstring for the rules)."""

    agreements: pd.DataFrame  # one row per identity (COLUMNS)
    publications: pd.DataFrame  # one row per publication, in order (PUBLICATION_COLUMNS)
    runs: pd.DataFrame  # one row per stretch of consecutive publications listing an agreement: id, start, end
    gaps: pd.DataFrame  # one row per gap: id, after (last publication listing it), before (next one listing it)
    pairs: pd.DataFrame  # renames by RENAME_RULE: old, new (agreement positions)
    repeated: pd.DataFrame  # rows of one sheet beyond the first of the same identity
    status_position: int | None  # position in ``publications`` of the status sheet (None: all after the date)

    @property
    def status_sheet(self) -> pd.Series | None:
        """The publication the status refers to (the last on or before the status date)."""
        return None if self.status_position is None else self.publications.iloc[self.status_position]


# --------------------------------------------------------------------------- checks


def _check(df: pd.DataFrame) -> pd.DataFrame:
    """The columns :func:`build` uses, checked; raises :class:`HistoryError` naming what is wrong."""
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise HistoryError("no sheet rows: load the participating sheets first (helpers.ice.load_sheets)")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise HistoryError(f"the sheet table lacks column(s) {missing}; use the tidy table of helpers.ice.load_sheets")
    used = [
        c
        for c in (*REQUIRED, "list", "row", "agency_key", "agency_type", "county_fips", "county_name")
        if c in df.columns
    ]
    work = df[used].reset_index(drop=True)
    work.attrs = {}  # the loader's reports are not needed here, and pandas would copy them on every step

    def where(mask: pd.Series) -> str:
        r = work[mask].iloc[0]
        row = f", row {r['row']}" if "row" in work.columns else ""
        return f"{r['source_file']}{row}"

    if "list" in work.columns and (work["list"] != "participating").any():
        bad = sorted(set(work.loc[work["list"] != "participating", "source_file"]))
        raise HistoryError(
            f"{', '.join(bad)}: not a participating list (its content is {work.loc[work['list'] != 'participating', 'list'].iloc[0]}); "
            "an agreement history reads participating sheets only (helpers.ice.catalogue('participating'))"
        )
    if work["published"].isna().any():
        raise HistoryError(f"{where(work['published'].isna())}: no publication time; load sheets with helpers.ice")
    per_file = work.groupby("source_file", sort=False)["published"].nunique()
    if (per_file > 1).any():
        raise HistoryError(f"{per_file[per_file > 1].index[0]}: rows with different publication times")
    known = set(geo.states()["state"])
    unknown = ~work["state"].isin(known)
    if unknown.any():
        value = work.loc[unknown, "state"].iloc[0]
        raise HistoryError(
            f"{where(unknown)}: unknown state {value!r}; states must be normalised as the loader does "
            "(helpers.geo.normalize_state, misspellings in data/corrections/state_names.csv)"
        )
    bad_support = ~work["support_type"].isin(ice.SUPPORT_TYPES)
    if bad_support.any():
        raise HistoryError(
            f"{where(bad_support)}: support type {work.loc[bad_support, 'support_type'].iloc[0]!r} is not one of "
            f"{ice.SUPPORT_TYPES}"
        )
    if "agency_key" not in work.columns:
        pairs = work[["state", "agency"]].drop_duplicates()
        keys = {(s, a): ice.agency_key(s, a) for s, a in pairs.itertuples(index=False)}
        work["agency_key"] = [keys[(s, a)] for s, a in zip(work["state"], work["agency"])]
    no_key = work["agency_key"].isna() | (work["agency_key"].astype("string").str.len() == 0)
    if no_key.any():
        raise HistoryError(f"{where(no_key)}: no agency name, so the agreement has no identity")
    for column in ("agency_type", "county_fips", "county_name", "row"):
        if column not in work.columns:
            work[column] = pd.NA
    return work


# --------------------------------------------------------------------------- building


def _publications(work: pd.DataFrame, contents: Mapping[str, str] | None) -> pd.DataFrame:
    """One row per publication, oldest first (ties in the order of the table)."""
    grouped = work.groupby("source_file", sort=False)
    pubs = pd.DataFrame(
        {
            "published": grouped["published"].first(),
            "label": grouped["published_label"].first(),
            "kind": grouped["published_kind"].first(),
            "rows": grouped.size(),
        }
    )
    pubs = pubs.rename_axis("file").reset_index()
    pubs = pubs.sort_values("published", kind="stable").reset_index(drop=True)
    pubs["content"] = pubs["file"].map(lambda f: contents.get(f, f) if contents else f)
    return pubs


def _rename_pairs(ag: pd.DataFrame, n_pubs: int) -> pd.DataFrame:
    """Pairs (old, new) of agreement positions that :data:`RENAME_RULE` calls one agreement renamed."""
    old = ag[ag["last"] < n_pubs - 1].assign(handover=lambda d: d["last"] + 1)
    new = ag[ag["first"] > 0]
    cols = ["id", "state", "agency_key", "support_type", "county_fips"]
    m = old[cols + ["handover", "signed_last"]].merge(
        new[cols + ["first", "signed_first"]],
        left_on=["support_type", "handover", "signed_last"],
        right_on=["support_type", "first", "signed_first"],
        suffixes=("_old", "_new"),
    )
    m = m[(m["state_old"] == m["state_new"]) | (m["agency_key_old"] == m["agency_key_new"])]
    both = m["county_fips_old"].notna() & m["county_fips_new"].notna()
    m = m[~both | (m["county_fips_old"] == m["county_fips_new"])]
    m = m[m["id_old"] != m["id_new"]]
    several = m.groupby("id_old")["id_new"].transform("size") > 1
    same_word = m["agency_key_old"].str.split(" ").str[0] == m["agency_key_new"].str.split(" ").str[0]
    m = m[~several | same_word]
    m = m[
        (m.groupby("id_old")["id_new"].transform("size") == 1) & (m.groupby("id_new")["id_old"].transform("size") == 1)
    ]
    return m[["id_old", "id_new"]].rename(columns={"id_old": "old", "id_new": "new"}).reset_index(drop=True)


def _day(value: str | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def _in_order(work: pd.DataFrame, pubs: pd.DataFrame) -> pd.DataFrame:
    """The checked rows in publication order (by sheet row within a sheet), with ``i`` (the position of their
    publication in ``pubs``) and ``id`` (the agreement: identities numbered in sorted order)."""
    codes, files = pd.factorize(work["source_file"])
    at = pd.Series(np.arange(len(pubs)), index=pubs["file"]).reindex(files).to_numpy()[codes]
    if work["row"].notna().all():
        order = np.lexsort((work["row"].to_numpy(dtype=np.int64), at))
    else:
        order = np.argsort(at, kind="stable")
    identity = np.zeros(len(work), dtype=np.int64)
    for column in IDENTITY:  # each column's rank, in sorted order: tuples compare as groupby(sort=True) sorts them
        rank, uniques = pd.factorize(work[column], sort=True)
        identity = identity * len(uniques) + rank
    ids = np.unique(identity, return_inverse=True)[1].reshape(-1)
    out = work.drop(columns=["published", "published_label", "published_kind", "list"], errors="ignore")
    return out.iloc[order].assign(i=at[order], id=ids[order])


def _presence(ids: np.ndarray, sheet_of: np.ndarray, n_pubs: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (positions in row order) that list their agreement for the first time on their sheet, and those rows
    ordered by agreement, then publication: the (agreement, publication) presence table."""
    first_of = ~pd.Series(ids * n_pubs + sheet_of).duplicated().to_numpy()
    presence = np.flatnonzero(first_of)
    return first_of, presence[np.lexsort((sheet_of[presence], ids[presence]))]


def _pick(values: pd.Series, rows: np.ndarray, groups: np.ndarray, n: int, last: bool = False) -> np.ndarray:
    """Of each group 0..n-1 (``groups[k]`` is the group of ``rows[k]``), the first (or last) non-missing value of
    ``values`` at ``rows``, in that order (missing if none), as ``GroupBy.first``/``last`` pick it."""
    valid = np.flatnonzero(values.notna().to_numpy()[rows])
    if last:
        valid = valid[::-1]
    group, where = np.unique(groups[valid], return_index=True)
    picked = values.iloc[rows[valid[where]]].to_numpy()
    out = np.full(n, np.datetime64("NaT"), dtype=picked.dtype) if picked.dtype.kind == "M" else np.full(n, None)
    out[group] = picked
    return out


def _joined(values: pd.Series, groups: np.ndarray, n: int, date_format: str | None = None) -> list[str | None]:
    """The distinct non-missing values of each group 0..n-1, joined by "; " in order of first appearance (None
    for a group without any); dates written with ``date_format``."""
    codes, uniques = pd.factorize(values)
    text = pd.DatetimeIndex(uniques).strftime(date_format) if date_format else uniques
    keep = codes >= 0
    first = np.flatnonzero(keep)[np.unique(groups[keep] * len(uniques) + codes[keep], return_index=True)[1]]
    first.sort()  # first appearances, in row order
    out: list[list[str]] = [[] for _ in range(n)]
    for g, code in zip(groups[first].tolist(), codes[first].tolist()):
        out[g].append(str(text[code]))
    return ["; ".join(parts) if parts else None for parts in out]


def build(
    df: pd.DataFrame, contents: Mapping[str, str] | None = None, status_date: str | date = STATUS_DATE
) -> History:
    """The agreement history of the sheets in ``df`` (rules in the module docstring).

    ``df`` is the tidy table of several participating sheets
    (:func:`helpers.ice.load_sheets`); ``contents`` maps each file to its
    content id (sha256; default: ``df.attrs["sheets"]``, else each file is its
    own content).  ``status_date`` is the day the status refers to.  Raises
    :class:`HistoryError` for a table that cannot give a history (no rows, a
    pending list, an unknown state or support type, a row without agency) and
    checks its invariants before returning (:func:`check`).
    """
    work = _check(df)
    if contents is None:
        contents = {a["file"]: a["sha256"] for a in df.attrs.get("sheets", []) if "sha256" in a}
    pubs = _publications(work, contents)
    n_pubs = len(pubs)
    work = _in_order(work, pubs)
    ids, sheet_of = work["id"].to_numpy(), work["i"].to_numpy()
    n_ids = int(ids.max()) + 1

    # presence: one row per (agreement, publication); the rest of a sheet's rows of one identity are repeats
    first_of, presence = _presence(ids, sheet_of, n_pubs)
    repeated = work.loc[~first_of, ["source_file", "row", *IDENTITY, "agency", "signed"]].reset_index(drop=True)
    p_id, p_at = ids[presence], sheet_of[presence]
    opens = np.r_[True, p_id[1:] != p_id[:-1]]  # an agreement's first publication
    step = np.r_[0, np.diff(p_at)]
    start = opens | (step != 1)  # a new stretch of consecutive publications (the first appearance included)
    gap = ~opens & (step > 1)
    stop = np.r_[start[1:], True]
    runs = pd.DataFrame({"id": p_id[start], "start": p_at[start], "end": p_at[stop]})
    gaps = pd.DataFrame({"id": p_id[gap], "after": p_at[gap] - step[gap], "before": p_at[gap]})

    firsts, lasts = np.flatnonzero(opens), np.flatnonzero(np.r_[opens[1:], True])
    content = pd.factorize(pubs["content"])[0]
    seen = np.zeros((n_ids, int(content.max()) + 1), dtype=bool)  # agreement x content
    seen[p_id, content[p_at]] = True
    twice = np.zeros((n_ids, n_pubs), dtype=bool)  # agreement x publication with a repeated row
    twice[ids[~first_of], sheet_of[~first_of]] = True
    ag = pd.DataFrame(
        {
            "first": p_at[firsts],
            "last": p_at[lasts],
            "sheets": lasts - firsts + 1,
            "contents": seen.sum(axis=1),
            "signed_first": _pick(work["signed"], presence, p_id, n_ids),
            "signed_last": _pick(work["signed"], presence, p_id, n_ids, last=True),
        }
    )
    ends = work.iloc[presence[firsts]]
    for column in IDENTITY:
        ag[column] = ends[column].to_numpy()
    ag["agency"] = _pick(work["agency"], presence, p_id, n_ids, last=True)
    every = np.arange(len(work))
    for column in ("agency_type", "county_fips", "county_name", "signed"):
        ag[column] = _pick(work[column], every, ids, n_ids, last=True)
    ag["names"] = _joined(work["agency"], ids, n_ids)
    ag["signed_dates"] = _joined(work["signed"], ids, n_ids, "%Y-%m-%d")
    ag["sheets_listed_twice"] = twice.sum(axis=1)
    ag["gaps"] = np.bincount(gaps["id"].to_numpy(), minlength=n_ids)
    ag = ag.rename_axis("id").reset_index()  # "id" is the position of the agreement in the table

    labels = pubs["label"].to_numpy()
    if len(gaps):
        text = (
            gaps.assign(
                t=[
                    f"{labels[a + 1]}"
                    + (f" to {labels[b - 1]}" if b - 1 > a + 1 else "")
                    + f" ({b - a - 1} "
                    + ("sheet" if b - a - 1 == 1 else "sheets")
                    + ")"
                    for a, b in zip(gaps["after"], gaps["before"])
                ]
            )
            .groupby("id")["t"]
            .agg("; ".join)
        )
        ag["gap_sheets"] = ag["id"].map(text)
    else:
        ag["gap_sheets"] = pd.NA
    ag["sheets_missing"] = ag["last"] - ag["first"] + 1 - ag["sheets"]
    ag["returned"] = ag["gaps"] > 0
    for end, column in (("first", "first"), ("last", "last")):
        at = pubs.iloc[ag[column].to_numpy()]
        ag[f"{end}_file"], ag[f"{end}_label"] = at["file"].to_numpy(), at["label"].to_numpy()
        ag[f"{end}_published"], ag[f"{end}_kind"] = at["published"].to_numpy(), at["kind"].to_numpy()
    ag["on_newest_sheet"] = ag["last"] == n_pubs - 1

    # renames by rule
    pairs = _rename_pairs(ag, n_pubs)

    def other(ids: pd.Series, base: pd.Series) -> pd.Series:
        row = ag.loc[ids.to_numpy()]
        name = row["agency"].to_numpy()
        state = row["state"].to_numpy()
        return pd.Series([n if s == b else f"{n} ({s})" for n, s, b in zip(name, state, base.to_numpy())])

    ag["renamed_to"] = pd.NA
    ag["renamed_from"] = pd.NA
    if len(pairs):
        ag.loc[pairs["old"].to_numpy(), "renamed_to"] = other(pairs["new"], ag.loc[pairs["old"], "state"]).to_numpy()
        ag.loc[pairs["new"].to_numpy(), "renamed_from"] = other(pairs["old"], ag.loc[pairs["new"], "state"]).to_numpy()

    # status on the last publication on or before the status date
    day = _day(status_date)
    eligible = np.flatnonzero(pubs["published"].dt.date.to_numpy() <= day)
    status_i = int(eligible[-1]) if len(eligible) else None
    ag["status"] = "not yet listed"
    for c in ("gone_after_file", "gone_after_label", "gone_from_file", "gone_from_label"):
        ag[c] = pd.NA
    ag["gone_from_published"] = pd.NaT
    if status_i is not None:
        listed = p_at <= status_i
        on_status = set(p_id[p_at == status_i].tolist())
        last_before = pd.Series(p_at[listed]).groupby(p_id[listed]).max()
        gone = last_before[~last_before.index.isin(on_status)]
        ag.loc[ag["id"].isin(on_status), "status"] = "active"
        ag.loc[gone.index, "status"] = "gone"
        renamed = gone.index[ag.loc[gone.index, "renamed_to"].notna()]
        ag.loc[renamed, "status"] = "renamed"
        after, then = pubs.iloc[gone.to_numpy()], pubs.iloc[gone.to_numpy() + 1]
        ag.loc[gone.index, "gone_after_file"] = after["file"].to_numpy()
        ag.loc[gone.index, "gone_after_label"] = after["label"].to_numpy()
        ag.loc[gone.index, "gone_from_file"] = then["file"].to_numpy()
        ag.loc[gone.index, "gone_from_label"] = then["label"].to_numpy()
        ag.loc[gone.index, "gone_from_published"] = then["published"].to_numpy()

    # per publication: agreements by the history, and what changed on it
    active = np.zeros(n_pubs + 1, dtype=np.int64)
    np.add.at(active, runs["start"].to_numpy(), 1)
    np.add.at(active, runs["end"].to_numpy() + 1, -1)
    pubs["agreements"] = np.cumsum(active)[:n_pubs]
    pubs["repeated_rows"] = repeated.groupby("source_file").size().reindex(pubs["file"], fill_value=0).to_numpy()
    pubs = pubs.join(_changes_per_publication(ag, runs, pairs, n_pubs))

    agreements = ag[COLUMNS].astype(DTYPES)
    history = History(
        agreements.reset_index(drop=True), pubs[PUBLICATION_COLUMNS], runs, gaps, pairs, repeated, status_i
    )
    check(history, work)
    return history


def _changes_per_publication(ag: pd.DataFrame, runs: pd.DataFrame, pairs: pd.DataFrame, n_pubs: int) -> pd.DataFrame:
    """Per publication: agreements first listed (added), listed again after a gap (returned), no longer listed
    (removed, on the first publication without them) and renamed (counted once, on the new name's first sheet).

    Nothing is counted on the first publication: what it lists is where the record starts."""
    renamed_old, renamed_new = set(pairs["old"]), set(pairs["new"])
    first_run = ~runs.duplicated("id")
    last_run = ~runs.duplicated("id", keep="last")
    starts = runs[runs["start"] > 0]
    is_first = first_run[starts.index]
    added = starts[is_first & ~starts["id"].isin(renamed_new)]["start"]
    renamed = starts[is_first & starts["id"].isin(renamed_new)]["start"]
    returned = starts[~is_first]["start"]
    ends = runs[runs["end"] < n_pubs - 1]
    removed = ends[~(last_run[ends.index] & ends["id"].isin(renamed_old))]["end"] + 1
    out = pd.DataFrame(index=range(n_pubs))
    for name, at in (("added", added), ("returned", returned), ("removed", removed), ("renamed", renamed)):
        out[name] = np.bincount(at.to_numpy(dtype=np.int64), minlength=n_pubs)[:n_pubs]
    return out


# --------------------------------------------------------------------------- invariants


def check(history: History, work: pd.DataFrame | None = None) -> None:
    """The history's invariants; raises :class:`AssertionError` naming the first that fails.

    * first appearance <= last appearance, and ``sheets`` between 1 and the span;
    * on every publication, agreements active by the history = the sheet's rows -
      its repeated rows (the loader's exact duplicates are already dropped);
    * with ``work`` (the checked sheet rows): every identity of the sheets has one
      history row, and none is invented.
    """
    ag, pubs = history.agreements, history.publications
    bad = ag[ag["first_published"] > ag["last_published"]]
    if len(bad):
        raise AssertionError(f"first appearance after the last for {bad.iloc[0][IDENTITY].tolist()}")
    span = ag["sheets"] + ag["sheets_missing"]
    if ((ag["sheets"] < 1) | (ag["sheets_missing"] < 0) | (span > len(pubs))).any():
        raise AssertionError("an agreement's sheet count is outside its span")
    if ag.duplicated(IDENTITY).any():
        raise AssertionError("an identity has several history rows")
    differ = pubs[pubs["agreements"] != pubs["rows"] - pubs["repeated_rows"]]
    if len(differ):
        r = differ.iloc[0]
        raise AssertionError(
            f"{r['file']}: {r['agreements']} agreements by the history, but {r['rows']} rows - "
            f"{r['repeated_rows']} repeated"
        )
    if work is not None:
        sheet_ids = work[IDENTITY].drop_duplicates()
        merged = sheet_ids.merge(ag[IDENTITY], how="outer", indicator=True)
        if (merged["_merge"] != "both").any():
            lost = merged[merged["_merge"] != "both"].iloc[0]
            raise AssertionError(f"identity {lost[IDENTITY].tolist()} is in one table only ({lost['_merge']})")


# --------------------------------------------------------------------------- views


def renames(history: History, work: pd.DataFrame) -> pd.DataFrame:
    """Every rename: a new printed name of one identity, and each pair by :data:`RENAME_RULE`.

    ``work`` is the sheet table the history was built from.  Columns: ``rule``
    (``printed name`` or ``rule``), ``state``, ``support_type``, ``old_name``,
    ``new_name``, ``new_state``, ``signed``, ``last_old`` and ``first_new``
    (publication labels: the old name's last sheet before the change, the new
    name's first).  Sorted by state, the new name's first sheet and name.
    """
    pubs = history.publications
    rows = _in_order(_check(work), pubs)
    ids, sheet_of = rows["id"].to_numpy(), rows["i"].to_numpy()
    presence = _presence(ids, sheet_of, len(pubs))[1]
    agency = pd.factorize(rows["agency"])[0][presence]
    p_id = ids[presence]
    # a listing whose printed name differs from the agreement's previous listing
    new_name = np.flatnonzero((p_id[1:] == p_id[:-1]) & (agency[:-1] >= 0) & (agency[1:] != agency[:-1])) + 1
    changed, previous = rows.iloc[presence[new_name]], rows.iloc[presence[new_name - 1]]
    labels = pubs["label"].to_numpy()
    printed = pd.DataFrame(
        {
            "rule": "printed name",
            "state": changed["state"].to_numpy(),
            "support_type": changed["support_type"].to_numpy(),
            "old_name": previous["agency"].to_numpy(),
            "new_name": changed["agency"].to_numpy(),
            "new_state": changed["state"].to_numpy(),
            "signed": changed["signed"].to_numpy(),
            "last_old": labels[previous["i"].to_numpy()],
            "first_new": labels[changed["i"].to_numpy()],
            "_i": changed["i"].to_numpy(),
        }
    )
    ag = history.agreements
    old, new = ag.loc[history.pairs["old"].to_numpy()], ag.loc[history.pairs["new"].to_numpy()]
    by_rule = pd.DataFrame(
        {
            "rule": "rule",
            "state": old["state"].to_numpy(),
            "support_type": old["support_type"].to_numpy(),
            "old_name": old["agency"].to_numpy(),
            "new_name": new["names"].str.split("; ").str[0].to_numpy(),
            "new_state": new["state"].to_numpy(),
            "signed": new["signed"].to_numpy(),
            "last_old": old["last_label"].to_numpy(),
            "first_new": new["first_label"].to_numpy(),
            "_i": pubs.reset_index().set_index("file").loc[new["first_file"], "index"].to_numpy(),
        }
    )
    out = pd.concat([printed, by_rule], ignore_index=True).sort_values(["state", "_i", "new_name"], kind="stable")
    return out.drop(columns="_i").reset_index(drop=True)


def monthly_changes(history: History, states: list[str] | None = None) -> pd.DataFrame:
    """Agreements added, returned, removed and renamed per calendar month of the publications.

    A change is dated by the publication on which it is first seen (an addition
    or return: the first sheet listing it; a removal: the first sheet no longer
    listing it; for captures the capture time).  ``states`` restricts the count
    (None: nationwide).  Columns: ``month`` (``YYYY-MM``), ``added``,
    ``returned``, ``removed``, ``renamed``, ``net`` (added + returned - removed),
    and ``active`` (agreements on the month's last publication).
    """
    pubs, runs, ag = history.publications, history.runs, history.agreements
    keep = (
        np.ones(len(ag), dtype=bool)
        if states is None
        else ag["state"].isin([geo.normalize_state(s) for s in states]).to_numpy()
    )
    ids = set(np.flatnonzero(keep))
    runs = runs[runs["id"].isin(ids)]
    pairs = history.pairs[history.pairs["old"].isin(ids) | history.pairs["new"].isin(ids)]
    changes = _changes_per_publication(ag, runs, pairs, len(pubs))
    active = np.zeros(len(pubs) + 1, dtype=np.int64)
    np.add.at(active, runs["start"].to_numpy(), 1)
    np.add.at(active, runs["end"].to_numpy() + 1, -1)
    changes["active"] = np.cumsum(active)[: len(pubs)]
    changes["month"] = pubs["published"].dt.strftime("%Y-%m").to_numpy()
    out = changes.groupby("month", sort=True).agg(
        added=("added", "sum"),
        returned=("returned", "sum"),
        removed=("removed", "sum"),
        renamed=("renamed", "sum"),
        active=("active", "last"),
    )
    out["net"] = out["added"] + out["returned"] - out["removed"]
    return out.reset_index()[["month", "added", "returned", "removed", "renamed", "net", "active"]]


def state_runs(history: History, state: str) -> pd.DataFrame:
    """The state's agreements with every stretch of publications listing them, for a chart of their lives.

    One row per stretch: the agreement's columns (identity, agency, status,
    first/last publication) and ``start``/``end`` (publication times of the
    stretch's first and last sheet) and ``until`` (the first publication after
    the stretch, or the last publication for a stretch that reaches it).
    """
    state = geo.normalize_state(state)
    ag, pubs = history.agreements, history.publications
    mine = ag.index[ag["state"] == state]
    runs = history.runs[history.runs["id"].isin(mine)]
    times = pubs["published"].to_numpy()
    until = np.minimum(runs["end"].to_numpy() + 1, len(pubs) - 1)
    out = ag.loc[runs["id"].to_numpy()].reset_index(names="id")
    out["start"], out["end"], out["until"] = times[runs["start"]], times[runs["end"]], times[until]
    return out.reset_index(drop=True)


def county_agreements(history: History, state: str, counties: list[str]) -> pd.DataFrame:
    """The agreements of the named counties' own agencies (county agencies located in them), with their history.

    ``counties`` are county names as the article writes them ("Cass", "Crow
    Wing"), matched to Census FIPS by :func:`helpers.geo.match_county`; a name
    that matches no county of the state raises :class:`HistoryError`.  Columns:
    ``county`` (the name given) and the history's columns.
    """
    state = geo.normalize_state(state)
    fips = {}
    for name in counties:
        code, _ = geo.match_county(state, name)
        if code is None:
            raise HistoryError(f"county {name!r} is not a county of {state} (helpers.geo.match_county found none)")
        fips[code] = name
    ag = history.agreements
    mine = ag[(ag["state"] == state) & (ag["agency_type"] == "County") & ag["county_fips"].isin(list(fips))]
    out = mine.assign(county=mine["county_fips"].map(fips))
    return out[["county", *COLUMNS]].sort_values(["county", "signed", "support_type"]).reset_index(drop=True)


def summary(history: History) -> dict[str, int]:
    """Counts for a sentence: agreements ever listed, by status, returned, renamed by rule, printed-name changes."""
    ag = history.agreements
    out = {
        "agreements": len(ag),
        "returned": int(ag["returned"].sum()),
        "rename_pairs": len(history.pairs),
        "several_names": int(ag["names"].str.contains("; ", regex=False).sum()),
        "repeated_rows": len(history.repeated),
    }
    out.update({s: int((ag["status"] == s).sum()) for s in STATUSES})
    return out


def in_force(history: History, as_of: str | date) -> int:
    """Position of the last publication on or before the day ``as_of``; raises :class:`LookupError` if none."""
    day = _day(as_of)
    eligible = np.flatnonzero(history.publications["published"].dt.date.to_numpy() <= day)
    if not len(eligible):
        raise LookupError(f"no publication of the history was published on or before {day}")
    return int(eligible[-1])


EVENT_COLUMNS = [
    "county",
    "county_fips",
    "agency",
    "support_type",
    "signed",
    "listed_then",
    "event",
    "sheet",
    "last_listed",
    "published",
]


def events_after(history: History, state: str, county_fips: Mapping[str, str], as_of: str | date) -> pd.DataFrame:
    """What happened, after the sheet in force on ``as_of``, to the agreements of the counties' own agencies.

    ``county_fips`` maps a 5-digit FIPS code to the county's name as it should
    be shown.  One row per event, for every agreement of a county agency of
    ``state`` located in one of the counties that was listed on the in-force
    sheet or later: ``removed`` (dated by the first sheet no longer listing it;
    ``last_listed`` the sheet before), ``returned`` or ``added`` (the first sheet
    listing it again, or at all), or ``still listed`` (on every later sheet, up
    to the newest).  ``listed_then`` says whether it was on the in-force sheet.
    """
    state = geo.normalize_state(state)
    ag, pubs, runs = history.agreements, history.publications, history.runs
    at = in_force(history, as_of)
    labels, times, newest = pubs["label"].to_numpy(), pubs["published"].to_numpy(), len(pubs) - 1
    mine = ag.index[
        (ag["state"] == state) & (ag["agency_type"] == "County") & ag["county_fips"].isin(list(county_fips))
    ]
    runs = runs[runs["id"].isin(mine) & (runs["end"] >= at)]
    rows = []
    listed_then = set(runs.loc[runs["start"] <= at, "id"])
    first_run = set(history.runs.drop_duplicates("id").index)
    stretches = zip(runs.index.tolist(), runs["id"].tolist(), runs["start"].tolist(), runs["end"].tolist())
    for run, agreement, start, end in stretches:  # a few agreements of a few counties: not the sheets' rows
        a = ag.loc[agreement]
        base = {
            "county": county_fips[a["county_fips"]],
            "county_fips": a["county_fips"],
            "agency": a["agency"],
            "support_type": a["support_type"],
            "signed": a["signed"],
            "listed_then": agreement in listed_then,
        }
        if start > at:
            kind = "added" if run in first_run else "returned"
            rows.append(
                {**base, "event": kind, "sheet": labels[start], "last_listed": pd.NA, "published": times[start]}
            )
        if end < newest:
            rows.append(
                {
                    **base,
                    "event": "removed",
                    "sheet": labels[end + 1],
                    "last_listed": labels[end],
                    "published": times[end + 1],
                }
            )
        elif start <= at:
            rows.append(
                {
                    **base,
                    "event": "still listed",
                    "sheet": labels[newest],
                    "last_listed": labels[newest],
                    "published": times[newest],
                }
            )
    out = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    rank = out["event"].map({"removed": 0, "returned": 1, "added": 2, "still listed": 3})
    out = out.assign(_rank=rank).sort_values(["published", "_rank", "county", "support_type"], kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)


def table_for_csv(agreements: pd.DataFrame) -> pd.DataFrame:
    """The history as text for ``agreement_history_2025.csv``: dates ``YYYY-MM-DD``, publication times
    ``YYYY-MM-DD HH:MM:SS``, booleans ``true``/``false``, missing values empty."""
    out = agreements.copy()
    out["signed"] = out["signed"].dt.strftime("%Y-%m-%d")
    for column in ("first_published", "last_published", "gone_from_published"):
        out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M:%S")
    for column in ("returned", "on_newest_sheet"):
        out[column] = out[column].map({True: "true", False: "false"})
    return out


def write_parquet(agreements: pd.DataFrame, path: str | Path) -> Path:
    """The history as a typed Parquet file: ``signed`` as a date, publication times as timestamps, counts as
    64-bit integers, ``returned``/``on_newest_sheet`` as booleans, the rest as strings (missing = null).

    A relative ``path`` is taken inside :func:`helpers.paths.processed_dir`.  The bytes depend only on the
    table (no timestamps; written once complete, :func:`helpers.paths.atomic_write`).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_absolute():
        path = paths.processed_dir() / path
    types = (
        {c: pa.string() for c in COLUMNS}
        | {
            "signed": pa.date32(),
            "first_published": pa.timestamp("s"),
            "last_published": pa.timestamp("s"),
            "gone_from_published": pa.timestamp("s"),
            "returned": pa.bool_(),
            "on_newest_sheet": pa.bool_(),
        }
        | {c: pa.int64() for c in ("sheets", "contents", "sheets_missing", "sheets_listed_twice", "gaps")}
    )
    arrays = []
    for column in COLUMNS:
        values = agreements[column]
        if types[column] == pa.date32():
            arrays.append(pa.array(values.dt.date.to_numpy(dtype=object), pa.date32(), from_pandas=True))
        elif pa.types.is_timestamp(types[column]):
            arrays.append(pa.array(values.to_numpy(dtype="datetime64[s]"), types[column], from_pandas=True))
        elif pa.types.is_string(types[column]):
            arrays.append(pa.array(values.astype(object).where(values.notna(), None).to_numpy(), pa.string()))
        else:
            arrays.append(pa.array(values.to_numpy(), types[column]))
    table = pa.Table.from_arrays(arrays, schema=pa.schema([pa.field(c, types[c]) for c in COLUMNS]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with paths.atomic_write(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a history written by :func:`write_parquet` (dates come back as dates, counts as integers)."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def match_counties(state: str, names: list[str]) -> dict[str, str]:
    """Census FIPS -> Census county name for county names as an article writes them ("Cass", "Crow Wing").

    Matched by :func:`helpers.geo.match_county`; a name that matches no county of
    the state raises :class:`HistoryError` naming it.
    """
    state = geo.normalize_state(state)
    census = geo.state_counties(state).set_index("county_fips")["county_name"]
    out = {}
    for name in names:
        code, _ = geo.match_county(state, name)
        if code is None:
            raise HistoryError(f"county {name!r} is not a county of {state} (helpers.geo.match_county found none)")
        out[code] = census[code]
    return out


def counties_listed(history: History, state: str, as_of: str | date) -> dict[str, str]:
    """FIPS -> county name of the state's counties whose county agency was listed on the sheet in force on ``as_of``."""
    state = geo.normalize_state(state)
    at = in_force(history, as_of)
    on = history.runs.loc[(history.runs["start"] <= at) & (history.runs["end"] >= at), "id"]
    ag = history.agreements.loc[on.to_numpy()]
    ag = ag[(ag["state"] == state) & (ag["agency_type"] == "County") & ag["county_fips"].notna()]
    return dict(sorted(zip(ag["county_fips"], ag["county_name"]), key=lambda kv: kv[1]))


def events_sentence(
    events: pd.DataFrame,
    counties: Mapping[str, str],
    as_of: str | date,
    newest: str,
    which: str | None = None,
    shown: int = 6,
) -> str:
    """One paragraph, built from :func:`events_after`, on what happened to ``counties`` after ``as_of``.

    ``which`` names the set of counties (default "the N counties"); ``newest`` is the
    newest sheet's label.  Removals, returns and additions are named (at most
    ``shown`` of them, then a count); counties whose agreements all stayed are
    counted, and named when there are few.
    """
    from helpers import text

    day = _day(as_of).isoformat()
    n = len(counties)
    if n == 0:
        return f"No county agency held an agreement on the sheet in force on {day}, so there is nothing to follow."
    listed = set(events.loc[events["listed_then"], "county_fips"])
    changes = events[events["event"] != "still listed"]
    parts = []
    for r in changes.head(shown).to_dict("records"):
        what = f"{r['county']}'s {r['support_type']} agreement (signed {pd.Timestamp(r['signed']):%Y-%m-%d})"
        if r["event"] == "removed":
            parts.append(
                f"{what} was last listed on the {r['last_listed']} sheet and is missing from the {r['sheet']} sheet"
            )
        elif r["event"] == "returned":
            parts.append(f"{what} was listed again from the {r['sheet']} sheet")
        else:
            parts.append(
                f"{r['county']}'s county agency added a {r['support_type']} agreement on the {r['sheet']} sheet"
            )
    if len(changes) > shown:
        parts.append(f"{len(changes) - shown} more changes are in the table below")
    kept = [f for f in counties if f in listed and f not in set(changes["county_fips"])]
    never = [f for f in counties if f not in listed]
    names = [counties[f].removesuffix(" County").removesuffix(" Parish") for f in kept]
    if kept:
        who = ("all " if len(kept) == n else "the other " if parts else "") + text.counted(
            len(kept), "county", "counties"
        )
        listing = f" ({text.join(names)})" if len(kept) <= 10 else ""
        their = "their" if len(kept) != 1 else "its"
        parts.append(
            f"{who}{listing} kept every agreement of {their} county agency through the newest archived sheet, {newest}"
        )
    if never:
        parts.append(
            f"{text.join(counties[f] for f in never)} had no county-agency agreement on the sheet in force then"
        )
    head = f"After {day}, of {which or 'the ' + text.counted(n, 'county', 'counties')}: "
    return head + "; ".join(parts) + "."
