"""How the numbers move: ICE's 287(g) sheets as a 2025 time series.

Every function here works on tidy tables from :func:`helpers.ice.load_sheet`
(several sheets concatenated, as :func:`helpers.ice.load_sheets` returns them)
and counts with the same helpers as notebooks 01 and 02
(:func:`helpers.ice.count_units`, :func:`helpers.ice.group_totals`), so a
number on the article-date sheet here is the number those notebooks report.

* :func:`sheet_series` - one row per sheet: national, group and state counts.
* :func:`matching_run` - the run of consecutive sheets around a date on which
  given target values all hold, and what changed just outside it.
* :func:`sheet_diff` - agreements added or removed between two sheets.
* :func:`signing_timeline`, :func:`disagreements` - a state's agreements by
  SIGNED date, and where later sheets disagree with the article-date sheet.
* :func:`pending_summary`, :func:`support_type_table` - pending agencies and
  agreements by support type for a state and groups of states.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import geo, ice, sheets

ICE_287G_PAGE = "https://www.ice.gov/identify-and-arrest/287g"
#: ICE's one-sentence definition of each support type, quoted from :data:`ICE_287G_PAGE`.
SUPPORT_TYPE_DEFINITIONS = {
    "Jail Enforcement Model": (
        "The Jail Enforcement Model is designed to identify and process removable aliens — with criminal or "
        "pending criminal charges — who are arrested by state or local law enforcement agencies."
    ),
    "Task Force Model": (
        "The Task Force Model serves as a force multiplier for law enforcement agencies to enforce limited "
        "immigration authority with ICE oversight during their routine police duties."
    ),
    "Warrant Service Officer": (
        "The Warrant Service Officer program allows ICE to train, certify and authorize state and local law "
        "enforcement officers to serve and execute administrative warrants on aliens in their agency's jail."
    ),
}
#: Columns of :func:`sheet_series` before and after the per-group columns.
SERIES_HEAD = ["published", "published_label", "published_kind", "file", "sha256", "agreements"]
SERIES_TAIL = ["state", "state_agreements", "state_counties"]
#: Columns that identify one agreement across sheets (the loader's agency identity, :func:`helpers.ice.agency_key`).
AGREEMENT_KEY = ["state", "agency_key", "support_type"]


def _sheets_in_order(df: pd.DataFrame) -> pd.DataFrame:
    """One row per sheet in ``df`` (index: file; columns published, published_label), oldest publication first
    (ties in the order of ``df``)."""
    firsts = df.groupby("source_file", sort=False)[["published", "published_label"]].first()
    return firsts.sort_values("published", kind="stable")


def _with_identity(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the loader's ``agency_key`` (computed by the same rule for a hand-made table without it)."""
    if "agency_key" in df.columns:
        return df
    return df.assign(agency_key=[ice.agency_key(s, a) for s, a in zip(df["state"], df["agency"])])


def archived_sheets(
    start: str | date | None = None, end: str | date | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every archived participating publication published between ``start`` and ``end`` (days, inclusive; None =
    the whole archive): its catalogue rows (:func:`helpers.sheets.catalogue`) and the tidy table of its sheets.

    Publications are file names whose *content* is a participating list, in publication order; each distinct
    content is parsed once (:func:`helpers.ice.load_sheets`).  A window with no publication raises
    :class:`LookupError` naming the dates.
    """
    registered = ice.catalogue("participating")
    days = registered["published"].dt.date
    first_day = days.min() if start is None else pd.Timestamp(start).date()
    last_day = days.max() if end is None else pd.Timestamp(end).date()
    window = registered[days.between(first_day, last_day)].reset_index(drop=True)
    if window.empty:
        raise LookupError(
            f"no archived participating sheet was published between start={first_day} and end={last_day}; the "
            f"archive runs from {days.min()} to {days.max()}"
        )
    return window, ice.load_sheets(window["path"])


def sheet_series(
    df: pd.DataFrame, state: str, groups: dict[str, list[str]], contents: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per sheet in ``df``: national agreements, agreements of each group, the state's agreements and counties.

    Columns: :data:`SERIES_HEAD`, one column per group (named by its label,
    agreements of the group's states), then :data:`SERIES_TAIL`.  Counts use
    :func:`helpers.ice.count_units` grouped by sheet, the unit notebooks 01 and
    02 count.  ``contents`` maps a file to its sha256 (default:
    ``df.attrs["sheets"]``; missing: empty).  Oldest publication first (ties in
    the order of ``df``).
    """
    state = geo.normalize_state(state)
    if contents is None:
        contents = {a["file"]: a["sha256"] for a in df.attrs.get("sheets", []) if "sha256" in a}
    by_file = df.groupby("source_file", sort=False)
    out = (
        pd.DataFrame(
            {
                "published": by_file["published"].first(),
                "published_label": by_file["published_label"].first(),
                "published_kind": by_file["published_kind"].first() if "published_kind" in df.columns else pd.NA,
            }
        )
        .rename_axis("file")
        .reset_index()
    )
    known = dict(contents)
    out["sha256"] = [known.get(f, "") for f in out["file"]]
    files = out["file"]

    # One count of every sheet and state (the units add up over states: an agency and a county belong to one
    # state), then sums over the states of each area.
    counted = [
        c for c in ("source_file", "state", "agency", "agency_key", "county_fips", "county_agency") if c in df.columns
    ]
    slim = df[counted]
    if slim["state"].isna().any():  # counted nationwide, like every row, though in no state's column
        slim = slim.assign(state=slim["state"].fillna(""))
    per_state = (
        ice.count_units(slim, by=["source_file", "state"])
        if len(df)
        else pd.DataFrame(
            {
                "source_file": pd.Series(dtype="str"),
                "state": pd.Series(dtype="str"),
                "agreements": pd.Series(dtype="int64"),
                "counties": pd.Series(dtype="int64"),
            }
        )
    )

    def total(states: list[str] | None, unit: str = "agreements") -> np.ndarray:
        rows = per_state if states is None else per_state[per_state["state"].isin(states)]
        sums = rows.groupby("source_file", sort=False)[unit].sum()
        return sums.reindex(files, fill_value=0).to_numpy(dtype=np.int64)

    out["agreements"] = total(None)
    for label, members in groups.items():
        out[label] = total([geo.normalize_state(s) for s in members])
    out["state"] = state
    out["state_agreements"] = total([state])
    out["state_counties"] = total([state], "counties")
    out = out.sort_values("published", kind="stable")
    return out[SERIES_HEAD + list(groups) + SERIES_TAIL].reset_index(drop=True)


def extra_sheet(sheet: str | Path, series: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """A sheet the user names (``sheet`` parameter) to append to the series, and a sentence saying what was done.

    The sheet is found and verified by :func:`helpers.sheets.locate_sheet` (a
    registered name must carry its registered bytes; an unregistered file is used
    with a warning).  A sheet already in ``series`` (same file name or same
    sha256) is not appended twice: the table returned is None.  A pending list is
    refused (:class:`helpers.sheets.SheetKindError`), whatever its name says.
    """
    path, registry_path, sha = sheets.locate_sheet(sheet)
    file = Path(registry_path).name if registry_path else path.name
    same = series[(series["file"] == file) | (series["sha256"] == sha)]
    if len(same):
        r = same.iloc[0]
        given = Path(str(sheet)).name
        what = given if given == r["file"] else f"{given} (the bytes of {r['file']})"
        return None, f"{what} is already in the series, published {r['published_label']}; nothing appended."
    table = ice.load_sheet(path, file, sha256=sha)
    if table.attrs["list"] != "participating":
        raise sheets.SheetKindError(
            f"sheet={str(sheet)!r}: {file} is a {table.attrs['list']} list (no SIGNED/MOA column), not a list of "
            "participating agreements; pass ICE's participatingAgencies sheet."
        )
    verified = "verified against the registry" if registry_path else "not in the registry, so its bytes are unverified"
    return table, (
        f"Appended {file} (published {table['published_label'].iloc[0]}; {verified}): {len(table)} agreements."
    )


def in_force(series: pd.DataFrame, as_of: str | date) -> int:
    """Position in ``series`` of the last sheet published on or before the day ``as_of`` (as :func:`helpers.ice.select_sheet`)."""
    day = pd.Timestamp(as_of).date()
    eligible = [i for i, p in enumerate(series["published"]) if pd.Timestamp(p).date() <= day]
    if not eligible:
        raise LookupError(f"no sheet in the series was published on or before {day}")
    return eligible[-1]


@dataclass(frozen=True)
class Run:
    """The run of consecutive sheets around ``as_of`` on which every target holds (see :func:`matching_run`)."""

    as_of: str
    targets: dict[str, int]
    in_force: pd.Series  # the sheet in force on as_of
    matches: pd.Series  # bool per sheet of the series: all targets hold
    first: pd.Series | None = None  # first sheet of the run (None when the in-force sheet does not match)
    last: pd.Series | None = None
    before: pd.Series | None = None  # the sheet just before the run (None at the start of the series)
    after: pd.Series | None = None
    changes_before: dict[str, tuple[int, int]] = field(default_factory=dict)  # column -> (before, first)
    changes_after: dict[str, tuple[int, int]] = field(default_factory=dict)  # column -> (last, after)
    span: range = range(0)  # positions in the series of the run's sheets (empty when it does not hold)

    @property
    def holds(self) -> bool:
        """True when the sheet in force on ``as_of`` reproduces every target."""
        return self.first is not None

    @property
    def n_sheets(self) -> int:
        """Number of sheets in the run (0 when it does not hold)."""
        return len(self.span)

    @property
    def elsewhere(self) -> list[int]:
        """Positions of matching sheets outside the run (all matching sheets when the run does not hold)."""
        return [i for i in np.flatnonzero(self.matches.to_numpy(dtype=bool)).tolist() if i not in self.span]


def _changes(a: pd.Series, b: pd.Series, columns: list[str]) -> dict[str, tuple[int, int]]:
    return {c: (int(a[c]), int(b[c])) for c in columns if int(a[c]) != int(b[c])}


def matching_run(series: pd.DataFrame, targets: dict[str, int], as_of: str | date) -> Run:
    """The run of consecutive sheets containing the sheet in force on ``as_of`` on which all ``targets`` hold.

    ``targets`` maps a column of ``series`` to the value it must have.  The run
    is extended backwards and forwards from the in-force sheet while every
    target holds.  ``changes_before``/``changes_after`` give, for the target
    columns and ``agreements``, the values that differ between the sheet just
    outside the run and the run's edge.
    """
    series = series.reset_index(drop=True)
    missing = [c for c in targets if c not in series.columns]
    if missing:
        raise KeyError(f"targets name columns not in the series: {missing}")
    ok = pd.Series(True, index=series.index)
    for column, value in targets.items():
        ok &= series[column].astype(int) == int(value)
    i = in_force(series, as_of)
    as_of_day, in_force_row = str(pd.Timestamp(as_of).date()), series.iloc[i]
    if not ok.iloc[i]:
        return Run(as_of_day, dict(targets), in_force_row, ok)
    lo = i
    while lo > 0 and ok.iloc[lo - 1]:
        lo -= 1
    hi = i
    while hi < len(series) - 1 and ok.iloc[hi + 1]:
        hi += 1
    compare = list(targets) + ["agreements"]
    before = series.iloc[lo - 1] if lo > 0 else None
    after = series.iloc[hi + 1] if hi < len(series) - 1 else None
    return Run(
        as_of_day,
        dict(targets),
        in_force_row,
        ok,
        first=series.iloc[lo],
        last=series.iloc[hi],
        before=before,
        after=after,
        changes_before={} if before is None else _changes(before, series.iloc[lo], compare),
        changes_after={} if after is None else _changes(series.iloc[hi], after, compare),
        span=range(lo, hi + 1),
    )


def _values(row: pd.Series, columns: list[str]) -> str:
    return ", ".join(f"{c} {int(row[c])}" for c in columns)


def window_claim(run: Run, series: pd.DataFrame, values_text: str, table: str = "") -> dict[str, str]:
    """What the record says about the window in which the targets hold: the claim's value, evidence and details.

    The bounds are the record's own: the last archived sheet before the run
    where the numbers did not hold, the first and last sheets of the run, and
    the first sheet after it where they no longer hold (each named by its
    publication label; a capture label says it is an upper bound).  The change
    itself happened somewhere between the two sheets at each end; the archive
    cannot date it more finely.  ``values_text`` is the numbers as the article
    gives them (e.g. "8, 536 and 31"); ``table`` names the written series, to
    lead the evidence.  Returns ``value``, ``evidence`` (one short line) and
    ``details``.
    """
    series = series.reset_index(drop=True)
    n, day = len(series), run.as_of
    columns = list(run.targets)
    labels: list[str] = [str(label) for label in series["published_label"]]
    others = [labels[i] for i in run.elsewhere]
    lead = f"{table}: " if table else ""
    if run.first is None or run.last is None:
        got = _values(run.in_force, columns)
        value = f"the sheet in force on {day} ({run.in_force['published_label']}) gives {got}, not {values_text}" + (
            f"; they hold on {len(others)} other archived sheet(s): {', '.join(others)}"
            if others
            else f"; no sheet of the {n} archived gives all of them"
        )
        evidence = f"{lead}{n} archived sheets; in force on {day}: {got}"
        return {"value": value, "evidence": evidence[:160], "details": value}
    first, last = str(run.first["published_label"]), str(run.last["published_label"])
    before = None if run.before is None else str(run.before["published_label"])
    after = None if run.after is None else str(run.after["published_label"])
    run_rows = series.iloc[run.span.start : run.span.stop]
    contents = run_rows["sha256"].replace("", pd.NA).dropna().nunique() if "sha256" in series.columns else 0
    size = f"{run.n_sheets} sheets" + (f", {contents} distinct contents" if contents else "")
    long = []
    if run.before is not None:
        long.append(
            f"the last sheet before the window where they did not hold is {before} "
            f"({_values(run.before, list(run.changes_before) or columns)})"
        )
    else:
        long.append("they hold from the first archived sheet, so the record cannot say when they began to hold")
    if run.after is not None:
        long.append(
            f"the first sheet after it where they no longer hold is {after} "
            f"({_values(run.after, list(run.changes_after) or columns)})"
        )
    else:
        long.append("they still hold on the newest archived sheet")
    if before is not None and after is not None:
        ends = f"not on {before} (the last sheet before) nor on {after} (the first after)"
    elif before is not None:
        ends = f"not on {before} (the last sheet before); they still hold on the newest archived sheet"
    elif after is not None:
        ends = f"they hold from the first archived sheet; not on {after} (the first after)"
    else:
        ends = "they hold on every archived sheet"
    head = (
        f"{values_text} hold on every archived sheet from {first} to {last} ({size}), including the one in "
        f"force on {day}"
    )
    value = f"{head}; {ends}"
    elsewhere = (
        f"they also hold on {', '.join(others)}" if others else f"no other of the {n} archived sheets gives all of them"
    )
    evidence = f"{lead}{n} archived sheets; not on {before or '-'}, held {first} to {last}, not on {after or '-'}"
    if len(evidence) > 160:  # capture labels are long: dates say the same
        evidence = " ".join(evidence.replace(" capture (upper bound)", " capture").split())[:160]
    details = (
        head + "; " + "; ".join(long) + "; " + elsewhere + ". The numbers changed somewhere between the two "
        "sheets named at each end; the archive holds no sheet between them, so the window's edges cannot be "
        "dated more finely. Sheets are publications (file names) in publication order; a capture time is an "
        "upper bound on publication."
    )
    return {"value": value, "evidence": evidence, "details": details}


def sheet_diff(df: pd.DataFrame, old_file: str, new_file: str, states: list[str] | None = None) -> pd.DataFrame:
    """Agreements on one sheet but not the other: ``change`` is ``added`` (only on ``new_file``) or ``removed``.

    An agreement is identified by state, agency identity (the loader's
    ``agency_key``, :func:`helpers.ice.agency_key`) and support type.  ``states`` restricts the
    comparison.  Columns: change, state, agency, support_type, signed.
    """
    rows = df[df["source_file"].isin([old_file, new_file])]
    if states is not None:
        rows = rows[rows["state"].isin([geo.normalize_state(s) for s in states])]
    work = _with_identity(rows)
    old = work[work["source_file"] == old_file]
    new = work[work["source_file"] == new_file]
    old_keys = pd.MultiIndex.from_frame(old[AGREEMENT_KEY])
    new_keys = pd.MultiIndex.from_frame(new[AGREEMENT_KEY])
    added = new[~new_keys.isin(old_keys)].assign(change="added")
    removed = old[~old_keys.isin(new_keys)].assign(change="removed")
    out = pd.concat([added, removed], ignore_index=True)
    columns = ["change", "state", "agency", "support_type", "signed"]
    return out[columns].sort_values(["change", "state", "agency", "support_type"]).reset_index(drop=True)


def signing_timeline(df: pd.DataFrame, state: str) -> pd.DataFrame:
    """A state's agreements on one sheet, by SIGNED date: agency, county_name, support_type, signed."""
    state = geo.normalize_state(state)
    rows = df[df["state"] == state]
    if rows["source_file"].nunique() > 1:
        raise ValueError("signing_timeline takes one sheet; filter by source_file first")
    out = rows[["agency", "county_name", "support_type", "signed"]]
    return out.sort_values(["signed", "agency", "support_type"], na_position="last").reset_index(drop=True)


def disagreements(df: pd.DataFrame, state: str, article_file: str, article_date: str | date) -> pd.DataFrame:
    """Where sheets published after ``article_file`` disagree with it about the state's agreements.

    Two kinds, one row per agreement:

    * ``appears later``: on a later sheet, SIGNED on or before ``article_date``,
      but absent from ``article_file`` (backfilled); ``sheet`` is the first
      later sheet listing it.
    * ``drops out``: on ``article_file`` but missing from a later sheet;
      ``sheet`` is the first later sheet without it, ``back_on`` the first
      sheet after that listing it again (empty if none).

    Columns: kind, agency, support_type, signed, sheet, back_on.
    """
    state = geo.normalize_state(state)
    order = _sheets_in_order(df)
    files = order.index.tolist()
    if article_file not in files:
        raise ValueError(f"article_file={article_file!r} is not one of the sheets of the table")
    labels = order["published_label"].to_numpy()
    at = files.index(article_file)
    n_later = len(files) - at - 1
    rows = df.loc[
        df["state"] == state,
        ["source_file", "state", "agency", "support_type", "signed"]
        + (["agency_key"] if "agency_key" in df.columns else []),
    ]
    work = _with_identity(rows)
    position = pd.Series(np.arange(len(files)), index=files)
    sheet_at = position.reindex(work["source_file"]).to_numpy()
    agreement = pd.MultiIndex.from_frame(work[AGREEMENT_KEY]).factorize()[0]
    # listed[a, k]: agreement a is on the k-th sheet after the article's
    listed = np.zeros((int(agreement.max()) + 1 if len(agreement) else 0, n_later), dtype=bool)
    later_rows = sheet_at > at
    listed[agreement[later_rows], sheet_at[later_rows] - at - 1] = True
    on_article = np.zeros(len(listed), dtype=bool)
    on_article[agreement[sheet_at == at]] = True
    columns = ["kind", "agency", "support_type", "signed", "sheet", "back_on"]

    # appears later: the first row (by sheet, then row) of each agreement signed by the day but not on the article's
    candidates = later_rows & ~on_article[agreement] & (work["signed"] <= pd.Timestamp(article_date)).to_numpy()
    first = work[candidates].assign(_at=sheet_at[candidates], _id=agreement[candidates])
    first = first.sort_values("_at", kind="stable").drop_duplicates("_id")
    appears = pd.DataFrame(
        {
            "kind": "appears later",
            "agency": first["agency"].to_numpy(),
            "support_type": first["support_type"].to_numpy(),
            "signed": first["signed"].to_numpy(),
            "sheet": labels[first["_at"].to_numpy()],
            "back_on": "",
        }
    )

    # drops out: each row of the article's sheet whose agreement is missing from a later sheet
    base = work[sheet_at == at]
    missing = ~listed[agreement[sheet_at == at]]
    gone = missing.any(axis=1)
    base, missing = base[gone], missing[gone]
    if n_later:
        gone_at = missing.argmax(axis=1)  # the first later sheet without it
        after = ~missing & (np.arange(n_later) > gone_at[:, None])
        back_at = np.where(after.any(axis=1), after.argmax(axis=1), -1)  # the first after that listing it again
    else:  # no later sheet: nothing drops out
        gone_at = back_at = np.zeros(0, dtype=np.int64)
    drops = pd.DataFrame(
        {
            "kind": "drops out",
            "agency": base["agency"].to_numpy(),
            "support_type": base["support_type"].to_numpy(),
            "signed": base["signed"].to_numpy(),
            "sheet": labels[at + 1 + gone_at],
            "back_on": [labels[at + 1 + b] if b >= 0 else "" for b in back_at],
        }
    )
    found = [part for part in (appears, drops) if len(part)]
    out = pd.concat(found, ignore_index=True)[columns] if found else pd.DataFrame(columns=columns)
    return out.sort_values(["kind", "signed", "agency", "support_type"]).reset_index(drop=True)


def _areas(state: str, groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """The state (under its display name) followed by the groups, as label -> states."""
    info = geo.state_info(state)
    return {info["name"]: [info["state"]], **groups}


def pending_summary(pending: pd.DataFrame, state: str, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Pending requests on one pending sheet for the state and each group.

    Columns: area, states, pending (rows of the pending sheet) and agencies
    (distinct agencies), counted with :func:`helpers.ice.group_totals`.
    """
    totals = ice.group_totals(pending, _areas(state, groups))
    return totals.rename(columns={"group": "area", "agreements": "pending"})[["area", "states", "pending", "agencies"]]


def support_type_table(df: pd.DataFrame, state: str, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Agreements by support type on one sheet for the state and each group (one row per area, plus total)."""
    rows: list[dict[str, str | int]] = []
    for label, members in _areas(state, groups).items():
        part = df[df["state"].isin([geo.normalize_state(s) for s in members])]
        counts: dict[str, int] = {}
        if len(part):
            by_type = ice.count_units(part, by="support_type")
            counts = {str(k): int(v) for k, v in zip(by_type["support_type"], by_type["agreements"])}
        rows.append(
            {"area": label, **{support: counts.get(support, 0) for support in ice.SUPPORT_TYPES}, "total": len(part)}
        )
    return pd.DataFrame(rows, columns=["area", *ice.SUPPORT_TYPES, "total"])
