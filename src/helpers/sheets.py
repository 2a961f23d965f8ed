"""ICE 287(g) sheets as files: names, the catalogue of registered sheets, and reading a workbook.

This module answers "which file, published when, and what does it print?":

* :func:`parse_sheet_name` reads the publication time and list type from a file
  name, by the rules below (and the keyed corrections in
  ``data/corrections/sheet_names.csv``);
* :func:`catalogue` lists the registered *publications* (one row per file
  name); :func:`versions` lists the distinct *contents* (one row per sha256,
  with the publications that carry it);
* :func:`choose_sheet` (and :func:`select_sheet`, :func:`resolve_sheet`) find
  the sheet in force on a date, or check a sheet a user names, and say which
  sheet was used and how old it is (:class:`SheetChoice`);
* :func:`read_raw` reads one workbook into a table of *printed* values: it
  checks from the bytes that the file is a workbook, finds the worksheet and
  header row holding ICE's header, maps header names through :data:`COLUMNS`,
  decides the list type from the columns, strips spaces, skips blank and
  repeated header rows and reads MOA hyperlinks.

What the printed values mean (states, agency types, support types, dates,
counties) is decided in :mod:`helpers.ice`, which turns the raw table into the
tidy schema, caches it and counts it.

File-name rules (each publication gets a ``published`` time and a
``published_kind``, see :data:`PUBLISHED_KINDS`):

1. ICE's own names, ``participatingAgencies<MMDDYYYY><slot>.xlsx``: the date is
   ICE's publication day; the slot orders same-day sheets by a nominal hour
   (:data:`SLOT_HOURS`): ``am`` < ``amB`` < ``mid`` < ``pm`` < ``pmB`` = ``pm_b``
   = ``pm2``.  A name without a slot (``participatingAgencies11122025.xlsx``)
   gets hour 0: its time of day is unknown, so any slotted sheet of the same day
   wins the as-of choice.  Kind ``ice name``.
2. A copy suffix added by a browser or file manager (`` copy``, `` copy 2``,
   `` (1)``) is ignored for the time and shown in the label: a user's download
   that carries ICE's own name is accepted.
3. Wayback Machine captures named by capture time
   (``participatingAgencies-YYYYMMDDhhmmss.xlsx``,
   ``ParticipatingEntities-YYYYMMDDhhmmss.xlsx``) and undated ICE files named
   by capture date (``participatingAgencies_YYYYMMDD.xlsx``): the time is an
   **upper bound** on publication (the content was public by then, perhaps
   earlier).  Kind ``capture time (upper bound)``; the label says so.
4. A name that is wrong (a mistyped date, a wrong year, an archive mislabel)
   is corrected only by a row of ``data/corrections/sheet_names.csv`` keyed on
   the file name *and* its sha256, with a reason.  Kind ``corrected``.  The
   same file lists a name whose content is the other list type (the name is
   kept; ``list`` follows the content, ``name_list`` what the name says).
5. Anything else, and a date that is not a calendar date, raises
   :class:`SheetFormatError` naming the file.

Content rules (:func:`read_raw`): a sheet with a SIGNED, MOA or ADDENDUM
column is a participating list, one with none of them a pending list
(:func:`content_list`); the loader checks the content against what the name
(or its correction) says.
"""

from __future__ import annotations

import builtins
import difflib
import html
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from helpers import data, paths

#: Header printed by ICE -> column name in the raw table.
COLUMNS = {
    "STATE": "state_printed",
    "LAW ENFORCEMENT AGENCY": "agency",
    "TYPE": "agency_type_printed",
    "COUNTY": "county_printed",
    "SUPPORT TYPE": "support_type_printed",
    "SIGNED": "signed_printed",
    "MOA": "moa_printed",
    "ADDENDUM": "addendum",
}
LIST_TYPES = ("participating", "pending")
#: Columns every sheet of a list type must carry.
REQUIRED = {
    "participating": ["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "SIGNED"],
    "pending": ["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE"],
}
#: Columns that only participating lists carry (:func:`content_list`).
PARTICIPATING_ONLY = ("SIGNED", "MOA", "ADDENDUM")
#: Layout rule: a column, once ICE's sheets of a list type carry it, stays.  Each date is the publication
#: time of the first registered sheet of that list carrying the column (tests derive them again from the
#: sheets); a sheet published on or after it must carry the column, so a sheet that loses a column, or an
#: old sheet under a newer name, stops with an error naming the file.
COLUMNS_SINCE = {
    "participating": {
        "MOA": datetime(2025, 1, 4, 4, 16, 13),  # ParticipatingEntities-20250104041613.xlsx (capture)
        "TYPE": datetime(2025, 2, 21, 21, 49, 37),  # participatingAgencies-20250221214937.xlsx (capture)
        "COUNTY": datetime(2025, 3, 17, 23, 10, 40),  # participatingAgencies-20250317231040.xlsx (capture)
        "ADDENDUM": datetime(2025, 7, 1, 16),  # participatingAgencies07012025pm.xlsx
    },
    "pending": {
        "TYPE": datetime(2025, 2, 22),  # pendingAgencies_20250222.xlsx (capture date)
        "COUNTY": datetime(2025, 3, 31, 16),  # pendingAgencies03312025pm.xlsx
    },
}
#: Nominal clock time for ICE's file-name slots, used only to order same-day sheets ("" = no slot).
SLOT_HOURS = {"": 0, "am": 9, "amB": 10, "mid": 12, "pm": 16, "pmB": 17, "pm_b": 17, "pm2": 17}
#: How a publication time was obtained.
PUBLISHED_KINDS = ("ice name", "capture time (upper bound)", "corrected")
ICE_FOLDER = "ice-287g/"
ARCHIVE_FOLDER = "ice-287g/archive-2025/"
SHEET_NAME_CORRECTIONS = paths.CORRECTIONS / "sheet_names.csv"
ICE_PAGE = "https://www.ice.gov/identify-and-arrest/287g"
#: A chosen sheet older than this (days before ``as_of``) gets a warning: newer sheets may be missing.
STALE_DAYS = 14


class SheetFormatError(ValueError):
    """A sheet that does not fit the schema; the message names the file and the row or column."""


class SheetKindError(ValueError):
    """A sheet of the wrong list type (e.g. a pending list where participating agreements are needed)."""


class AsOfError(ValueError):
    """An ``as_of`` parameter that is not a date, or lies in the future."""


class SheetNotFoundError(data.UnknownRawFileError):
    """A ``sheet`` parameter that is neither a registered raw file nor an existing file."""


# --------------------------------------------------------------------------- file names


@dataclass(frozen=True)
class SheetName:
    """What a sheet's file name says (after a keyed correction, if one applies)."""

    file: str
    list: str  # participating | pending: the list type the publication holds (name, or its correction)
    published: datetime
    label: str
    published_kind: str = "ice name"
    name_list: str = ""  # the list type the name itself says
    note: str = ""  # the correction's reason, or the copy suffix


_COPY = re.compile(r"^(?P<stem>.+?)(?P<copy> copy(?: \d+)?| \(\d+\))$")
_ICE_NAME = re.compile(
    r"^(?P<list>participating|pending)Agencies(?P<digits>\d+)(?P<slot>amB|am|mid|pmB|pm_b|pm2|pm)?$", re.IGNORECASE
)
_CAPTURE_DATE = re.compile(
    r"^(?P<list>participating|pending)Agencies_(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$", re.IGNORECASE
)
_CAPTURE_TIME = re.compile(
    r"^(?P<list>participating|pending)(?:Agencies|Entities)-(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"
    r"(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})$",
    re.IGNORECASE,
)
_SLOTS = {s.lower(): s for s in SLOT_HOURS if s}


@lru_cache(maxsize=1)
def _name_corrections() -> dict[tuple[str, str], dict[str, str]]:
    df = pd.read_csv(SHEET_NAME_CORRECTIONS, dtype=str, keep_default_na=False)
    return {
        (str(r["file"]).strip(), str(r["sha256"]).strip().lower()): {str(k): str(v) for k, v in r.items()}
        for r in df.to_dict("records")
    }


def _calendar(file: str, y: str, m: str, d: str, *rest: str) -> datetime:
    hour, minute, second = (int(x) for x in (*rest, "0", "0", "0")[:3])
    try:
        return datetime(int(y), int(m), int(d), hour, minute, second)
    except ValueError as exc:
        raise SheetFormatError(
            f"{file}: the date in the file name ({y}-{m}-{d}) is not a calendar date ({exc}). Rename the file to "
            f"ICE's name for the sheet, e.g. participatingAgencies10312025pm.xlsx, or correct it in "
            f"{paths.relative(SHEET_NAME_CORRECTIONS)} with a reason."
        ) from None


def _undatable(file: str, why: str) -> SheetFormatError:
    return SheetFormatError(
        f"{file}: cannot read the publication time from the file name ({why}). ICE names sheets like "
        "participatingAgencies10312025pm.xlsx (month, day, year, then am/mid/pm); rename a downloaded copy "
        f"to ICE's own name, or correct a registered name in {paths.relative(SHEET_NAME_CORRECTIONS)} with a reason."
    )


def parse_sheet_name(file: str, sha256: str | None = None) -> SheetName:
    """Publication time, kind, label and list type from a sheet's file name (rules in the module docstring).

    With ``sha256`` (the file's bytes), a row of ``data/corrections/sheet_names.csv``
    keyed on this name and these bytes overrides what the name says.
    """
    file = Path(file).name
    stem = Path(file).stem
    copy = _COPY.match(stem)
    if copy:
        stem = copy.group("stem")
    m_ice, m_date, m_time = _ICE_NAME.match(stem), _CAPTURE_DATE.match(stem), _CAPTURE_TIME.match(stem)
    m = m_ice or m_date or m_time
    if m is None:
        raise _undatable(file, "no list type and date in it")
    name_list = m.group("list").lower()
    kind, note = "ice name", ""
    fix = _name_corrections().get((file, (sha256 or "").lower())) if sha256 else None
    if fix is not None and fix.get("published"):
        slot = fix.get("slot", "")
        when = datetime.fromisoformat(fix["published"]) + pd.Timedelta(hours=SLOT_HOURS[slot])
        kind, note = "corrected", fix["reason"]
        label = when.strftime("%Y-%m-%d") + (f" {slot}" if slot else "") + " (name corrected)"
    elif m_ice:
        digits = m_ice.group("digits")
        slot = _SLOTS.get((m_ice.group("slot") or "").lower(), "")
        if len(digits) != 8:
            raise _undatable(file, f"{len(digits)} digits where ICE writes 8 (MMDDYYYY)")
        when = _calendar(file, digits[4:], digits[:2], digits[2:4]) + pd.Timedelta(hours=SLOT_HOURS[slot])
        label = when.strftime("%Y-%m-%d") + (f" {slot}" if slot else "")
    elif m_date:
        when = _calendar(file, m_date["y"], m_date["m"], m_date["d"])
        kind = "capture time (upper bound)"
        label = when.strftime("%Y-%m-%d") + " capture (upper bound)"
    else:
        assert m_time is not None  # one of the three patterns matched (checked above)
        when = _calendar(file, m_time["y"], m_time["m"], m_time["d"], m_time["H"], m_time["M"], m_time["S"])
        kind = "capture time (upper bound)"
        label = when.strftime("%Y-%m-%d %H:%M") + " capture (upper bound)"
    if copy:
        label += " (copy)"
        note = note or f"copy suffix '{copy.group('copy').strip()}' ignored"
    listed = (fix.get("list") if fix is not None else "") or name_list
    if fix is not None and fix.get("list"):
        note = fix["reason"] if not note or note == fix["reason"] else f"{note}; {fix['reason']}"
    return SheetName(file, listed, when, label, kind, name_list, note)


# --------------------------------------------------------------------------- catalogue

CATALOGUE_COLUMNS = ["path", "file", "sha256", "published", "published_kind", "label", "list", "name_list", "note"]
_KIND_ORDER = {k: i for i, k in enumerate(PUBLISHED_KINDS)}


def _check_kind(kind: str, allow_all: bool = False) -> None:
    allowed = LIST_TYPES + (("all",) if allow_all else ())
    if kind not in allowed:
        raise ValueError(f"kind must be one of {allowed}, not {kind!r}")


def catalogue(kind: str = "participating", registry: dict | None = None) -> pd.DataFrame:
    """Registered ICE sheets: one row per *publication* (file name), oldest first.

    Columns (:data:`CATALOGUE_COLUMNS`): ``path`` (registry path), ``file``,
    ``sha256``, ``published``, ``published_kind`` (:data:`PUBLISHED_KINDS`),
    ``label``, ``list`` (the list type the content holds: the name's, unless a
    keyed correction says otherwise), ``name_list`` (what the name says) and
    ``note`` (why a name was corrected).  ``kind`` is ``participating``,
    ``pending`` or ``all`` and filters on ``list``.

    The same file name in several folders (``ice-287g/`` and
    ``ice-287g/archive-2025/``) with the same sha256 is one publication, listed
    under its shortest path; the same name with different bytes is an error.
    Same-time publications are ordered ICE names first, then by file name.

    A notebook asks for the catalogue several times: it is built once per process for the registered ICE paths
    and their sha256 (and the name corrections), and every call returns its own copy.
    """
    _check_kind(kind, allow_all=True)
    registry = registry if registry is not None else data.load_registry()
    ice_entries = tuple((path, entry) for path, entry in registry.items() if path.startswith(ICE_FOLDER))
    key = tuple((path, entry.sha256) for path, entry in ice_entries)
    corrections = _name_corrections()
    cached = _CATALOGUES.get(key)
    if cached is None or cached[0] is not corrections:
        cached = (corrections, _catalogue(ice_entries))
        while len(_CATALOGUES) >= _CATALOGUES_KEPT:  # tests build many small registries: keep the last few
            del _CATALOGUES[next(iter(_CATALOGUES))]
        _CATALOGUES[key] = cached
    table = cached[1]
    out = table if kind == "all" else table[table["list"] == kind].reset_index(drop=True)
    return out.copy()


#: Catalogues built in this process, keyed by the registered ICE paths and their sha256, with the name corrections
#: they were built with (what a catalogue is made of); callers get copies.
_CATALOGUES: dict[tuple[tuple[str, str], ...], tuple[dict, pd.DataFrame]] = {}
_CATALOGUES_KEPT = 8


def _catalogue(ice_entries: tuple[tuple[str, data.Entry], ...]) -> pd.DataFrame:
    """Every registered publication (``kind="all"``), oldest first: the work of :func:`catalogue`."""
    by_name: dict[str, list] = {}
    for path, entry in ice_entries:
        by_name.setdefault(Path(path).name, []).append(entry)
    rows = []
    for file, entries in by_name.items():
        if len({e.sha256 for e in entries}) > 1:
            raise data.RegistryError(
                f"{file} is registered under several paths with different bytes "
                f"({', '.join(f'{e.path} ({e.sha256[:12]}…)' for e in entries)}): one of them is not ICE's "
                "sheet of that name. Keep one, or rename the other after checking which is ICE's."
            )
        entry = min(entries, key=lambda e: (len(e.path), e.path))
        name = parse_sheet_name(file, entry.sha256)
        rows.append(
            {
                "path": entry.path,
                "file": file,
                "sha256": entry.sha256,
                "published": name.published,
                "published_kind": name.published_kind,
                "label": name.label,
                "list": name.list,
                "name_list": name.name_list,
                "note": name.note,
            }
        )
    out = pd.DataFrame(rows, columns=CATALOGUE_COLUMNS)
    order = out.assign(_k=out["published_kind"].map(_KIND_ORDER), _copy=out["label"].str.endswith("(copy)"))
    order = order.sort_values(["published", "_k", "_copy", "file"], kind="stable")
    return order[CATALOGUE_COLUMNS].reset_index(drop=True)


VERSION_COLUMNS = [
    "sha256",
    "list",
    "publications",
    "first_published",
    "last_published",
    "first_label",
    "last_label",
    "files",
    "path",
]


def versions(kind: str = "participating", registry: dict | None = None) -> pd.DataFrame:
    """Registered ICE sheets: one row per distinct *content* (sha256), oldest first.

    Columns (:data:`VERSION_COLUMNS`): ``publications`` (how many file names
    carry these bytes), the first and last publication (time and label),
    ``files`` (every name, in publication order, ``; ``-separated) and
    ``path`` (the first publication's registry path, to load the content).
    """
    pubs = catalogue(kind, registry)
    grouped = pubs.groupby("sha256", sort=False)
    out = pd.DataFrame(
        {
            "list": grouped["list"].first(),
            "publications": grouped.size(),
            "first_published": grouped["published"].first(),
            "last_published": grouped["published"].last(),
            "first_label": grouped["label"].first(),
            "last_label": grouped["label"].last(),
            "files": grouped["file"].agg("; ".join),
            "path": grouped["path"].first(),
        }
    ).reset_index()
    return out[VERSION_COLUMNS].sort_values(["first_published", "sha256"]).reset_index(drop=True)


# --------------------------------------------------------------------------- as-of choice


def parse_as_of(value: object, parameter: str = "as_of") -> date:
    """A date parameter (ISO text ``YYYY-MM-DD``, a date or a timestamp) as a date; raises :class:`AsOfError`
    naming ``parameter``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, pd.Timestamp) and not pd.isna(value):
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise AsOfError(
                f'{parameter}={value!r} is not a date ({exc}). Write it as YYYY-MM-DD, e.g. {parameter}="2025-11-01".'
            ) from None
    raise AsOfError(f'{parameter}={value!r} is not a date; write it as text YYYY-MM-DD, e.g. "2025-11-01".')


def _not_future(day: date, parameter: str = "as_of") -> None:
    today = date.today()
    if day > today:
        raise AsOfError(
            f"{parameter}={day.isoformat()} is after today ({today.isoformat()}): no sheet can be in force on a "
            f"future date, and the latest registered sheet would be reported as if it were. Use today's date "
            f"or an earlier one, or name a sheet with the sheet parameter."
        )


@dataclass(frozen=True)
class SheetChoice:
    """Which sheet is analysed, why, and how old it is relative to ``as_of``."""

    path: Path  # local, verified (registered) or user file
    file: str
    list: str  # list type of the content
    published: datetime
    published_kind: str
    label: str
    as_of: date
    chosen_by: str  # "as_of" (the latest publication on or before it) or "sheet" (named by the user)
    registry_path: str | None  # None for a file that is not registered
    sha256: str | None

    @property
    def age_days(self) -> int:
        """Days from the sheet's publication (or capture) to ``as_of`` (negative: published after ``as_of``)."""
        return (self.as_of - self.published.date()).days

    @property
    def sentence(self) -> str:
        """One sentence for notebook output: the sheet, its publication and its age on ``as_of``."""
        when = (
            f"captured {self.published:%Y-%m-%d %H:%M} (published on or before then)"
            if self.published_kind.startswith("capture")
            else f"published {self.label}"
        )
        if self.chosen_by == "as_of":
            why = f"the latest {self.list} sheet published on or before as_of {self.as_of.isoformat()}"
        else:
            why = "named by the sheet parameter" + ("" if self.registry_path else ", not in the raw-data registry")
        age = self.age_days
        rel = (
            "published on as_of"
            if age == 0
            else f"{age} day{'s' if abs(age) != 1 else ''} older than as_of"
            if age > 0
            else f"published {-age} day{'s' if age != -1 else ''} after as_of"
        )
        return f"{self.file} ({when}), {why}; {rel}."

    @property
    def on_sheet(self) -> str:
        """The sheet as a sentence opens with it: "On ICE's sheet published 2025-12-30 am" (with ", in force on
        <as_of>" when ``as_of`` chose it); for a capture, "On ICE's sheet captured 2025-03-03 21:54"."""
        if self.published_kind.startswith("capture"):
            words = f"On ICE's sheet captured {self.published:%Y-%m-%d %H:%M} (published on or before then)"
        else:
            words = f"On ICE's sheet published {self.label}"
        return words + (f", in force on {self.as_of.isoformat()}" if self.chosen_by == "as_of" else "")

    def as_dict(self) -> dict:
        out = asdict(self)
        out.update(
            path=self.path.name,
            published=self.published.isoformat(),
            as_of=self.as_of.isoformat(),
            age_days=self.age_days,
            sentence=self.sentence,
            on_sheet=self.on_sheet,
        )
        return out


def select_sheet(as_of: str | date, kind: str = "participating", sheets: pd.DataFrame | None = None) -> str:
    """Registry path of the latest publication on or before the date ``as_of`` (see :func:`choose_sheet`)."""
    _check_kind(kind)
    day = parse_as_of(as_of)
    sheets = sheets if sheets is not None else catalogue(kind)
    if "list" in sheets.columns:
        sheets = sheets[sheets["list"] == kind]
    eligible = sheets[sheets["published"].dt.date <= day]
    if eligible.empty:
        first = sheets.iloc[0] if len(sheets) else None
        raise LookupError(
            f"no {kind} sheet was published on or before as_of={day}"
            + (f"; the first one is {first['file']} ({first['label']})" if first is not None else "")
        )
    return eligible.iloc[-1]["path"]


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix.lower() in (".xlsx", ".xls", ".csv", ".xlsm", ".ods")


def locate_sheet(sheet: str | Path, registry: dict | None = None) -> tuple[Path, str | None, str]:
    """Local path, registry path (None if unregistered) and sha256 of a sheet a user names.

    ``sheet`` may be a registry path, a registered file name or a file on disk
    (a relative path is looked up from the working directory, then from the
    project root).  A file on disk whose *name* is a registered raw file must
    hold the registered bytes (the sha256 promise has no bypass): otherwise
    :class:`helpers.data.HashMismatchError`.  A file on disk whose bytes equal a
    registered file is treated as that file.  Any other file is accepted with a
    warning that its bytes are not verified.  Nothing found:
    :class:`SheetNotFoundError`, saying the file does not exist.
    """
    registry = registry if registry is not None else data.load_registry()
    text = str(sheet)
    try:
        entry = data.resolve(text, registry)
    except data.UnknownRawFileError as unknown:
        local = Path(text).expanduser()
        found = next((c for c in (local, paths.ROOT / local) if c.is_file()), None)
        if found is None:
            names = sorted({Path(p).name for p in registry if p.startswith(ICE_FOLDER)})
            near = difflib.get_close_matches(Path(text).name, names, n=3, cutoff=0.6)
            raise SheetNotFoundError(
                f"sheet={text!r}: no such file (looked in the working directory and the project root), "
                "and no registered raw file has that name"
                + (f" (nearest registered names: {', '.join(near)})" if near else "")
                + ". Check the path, or pass a registered name such as participatingAgencies10312025pm.xlsx."
            ) from unknown
        sha = data.file_sha256(found)
        same_name = [e for p, e in registry.items() if Path(p).name == found.name]
        if same_name:
            entry = min(same_name, key=lambda e: (len(e.path), e.path))
            if sha not in {e.sha256 for e in same_name}:
                raise data.HashMismatchError(
                    f"sheet={text!r}: {found.name} is the name of the registered raw file {entry.path}, but these "
                    f"bytes differ (sha256 {sha[:12]}…, registered {entry.sha256[:12]}…), so the file is not used. "
                    f"To analyse ICE's sheet of that name, pass sheet='{found.name}' (the verified copy; `make data` "
                    "restores it). If this is a different sheet, give it the name ICE published it under."
                ) from None
            return found, entry.path, sha
        same_bytes = [e for e in registry.values() if e.sha256 == sha]
        if same_bytes:
            return found, min(same_bytes, key=lambda e: (len(e.path), e.path)).path, sha
        data.warn_unregistered(found, shown=text)  # once per file: the parameter check may have said it already
        return found, None, sha
    return data.fetch(entry.path, registry=registry), entry.path, entry.sha256


def choose_sheet(
    sheet: str | Path | None,
    as_of: str | date,
    kind: str = "participating",
    registry: dict | None = None,
) -> SheetChoice:
    """The sheet to analyse, as a :class:`SheetChoice` (path, publication, age relative to ``as_of``).

    * ``as_of`` must be a date (:func:`parse_as_of`) and not after today
      (:class:`AsOfError`).
    * With ``sheet`` None, the latest publication whose content is a ``kind``
      list and whose ``published`` time is on or before ``as_of``.  For a
      capture-time file that time is an upper bound, so the chosen content was
      certainly public on ``as_of`` (never a look-ahead); a newer sheet may have
      been published before ``as_of`` and captured later, which the age and the
      label show.  A name whose content is the other list type (e.g.
      ``participatingAgencies09222025pm.xlsx``, a pending list) is chosen only
      for its content's type.
    * With ``sheet``, that file (:func:`locate_sheet`); its content must be a
      ``kind`` list, otherwise :class:`SheetKindError` (a pending list saved
      under a participating name included).
    * A sheet more than :data:`STALE_DAYS` older than ``as_of`` gets a warning.
    """
    _check_kind(kind)
    day = parse_as_of(as_of)
    _not_future(day)
    registry = registry if registry is not None else data.load_registry()
    published = catalogue("all", registry)
    registry_path: str | None
    if sheet is None:
        registry_path = select_sheet(day, kind, published)
        path, sha = data.fetch(registry_path, registry=registry), registry[registry_path].sha256
        chosen_by = "as_of"
    else:
        path, registry_path, sha = locate_sheet(sheet, registry)
        chosen_by = "sheet"
    if registry_path is not None:  # registered bytes: the catalogue knows the publication and the list type
        by_file = published.set_index("file")
        if Path(registry_path).name not in by_file.index:
            raise SheetKindError(f"{path.name} ({registry_path}) is not an ICE 287(g) sheet of the registry")
        row = by_file.loc[Path(registry_path).name]
        name = SheetName(
            str(row.name),
            str(row["list"]),
            pd.Timestamp(str(row["published"])).to_pydatetime(),
            str(row["label"]),
            str(row["published_kind"]),
            str(row["name_list"]),
            str(row["note"]),
        )
        content = name.list
    else:
        name = parse_sheet_name(path.name, sha)
        content = read_raw(path).list
    if content != kind:
        said = "" if name.name_list == content else f" (its name says {name.name_list})"
        raise SheetKindError(
            f"{path.name} is a {content} list{said}: its columns "
            f"{'include' if content == 'participating' else 'lack'} SIGNED/MOA, but a {kind} list is needed here. "
            f"Pass a {kind} sheet (ICE names them {kind}Agencies<MMDDYYYY><am|pm>.xlsx), or leave sheet empty "
            "to use the one in force on as_of."
        )
    choice = SheetChoice(
        path, path.name, content, name.published, name.published_kind, name.label, day, chosen_by, registry_path, sha
    )
    if choice.age_days > STALE_DAYS:
        warnings.warn(
            f"{choice.sentence} The registry may lack newer sheets: download ICE's current sheet ({ICE_PAGE}) "
            "and pass it as sheet.",
            stacklevel=2,
        )
    return choice


def resolve_sheet(sheet: str | Path | None, as_of: str | date, kind: str = "participating") -> Path:
    """Local path of the sheet to analyse (:func:`choose_sheet`; kept for existing callers)."""
    return choose_sheet(sheet, as_of, kind).path


# --------------------------------------------------------------------------- reading a workbook


_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)
def _clean_text(value: str) -> str | None:
    value = _SPACES.sub(" ", value).strip()
    return value or None


def _clean(value: object) -> object:
    """Strip strings and fold runs of spaces; turn blanks into None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return _clean_text(value)
    return value


def sniff_format(path: Path, file: str | None = None) -> str:
    """``xlsx``, ``xls`` or ``ods``, from the file's bytes (not its extension).

    Anything else raises :class:`SheetFormatError` naming the file and saying
    what the bytes look like (an HTML page such as an "Access Denied" page, CSV
    text, a PDF, an empty file...).
    """
    file = file or Path(path).name
    with open(path, "rb") as fh:
        head = fh.read(4096)
    what = None
    if not head:
        what = "an empty file (0 bytes), perhaps an interrupted download"
    elif head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            names = None
        if names is None:
            what = "a damaged zip archive, perhaps an interrupted download"
        elif "xl/workbook.xml" in names or "xl/workbook.bin" in names:
            return "xlsx"
        elif "content.xml" in names:
            return "ods"
        else:
            what = "a zip archive that holds no Excel workbook"
    elif head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    else:
        text = head.decode("utf-8", errors="replace").lower()
        if any(tag in text for tag in ("<html", "<!doctype", "<head", "<body")):
            what = "an HTML page" + (
                ", an 'Access Denied' page" if "access denied" in text else ", perhaps an 'Access Denied' or error page"
            )
        elif head.startswith(b"%PDF"):
            what = "a PDF document"
        elif "," in text or "\t" in text or ";" in text:
            what = "CSV or other plain text"
        else:
            what = "neither an Excel workbook nor text"
    raise SheetFormatError(
        f"{file}: not a workbook: its bytes look like {what}, whatever its extension says. Download the "
        f"sheet again from ICE ({ICE_PAGE}) and check that it opens in a spreadsheet program."
    )


def content_list(header: list[str]) -> str:
    """List type from a sheet's columns: ``participating`` if it has SIGNED, MOA or ADDENDUM, else ``pending``."""
    return "participating" if any(h in header for h in PARTICIPATING_ONLY) else "pending"


def check_layout(header: list[str], kind: str, published: datetime, file: str) -> None:
    """The layout rule (:data:`COLUMNS_SINCE`): columns that ICE's sheets of this list carried by ``published``
    must be there; raises :class:`SheetFormatError` naming the file and the columns."""
    missing = [c for c, since in COLUMNS_SINCE[kind].items() if published >= since and c not in header]
    if missing:
        raise SheetFormatError(
            f"{file}: missing column(s) {missing}, which every {kind} sheet published since "
            + ", ".join(f"{c} {COLUMNS_SINCE[kind][c]:%Y-%m-%d}" for c in missing)
            + f" carries; columns found: {header}. Either ICE changed its layout (update "
            "helpers.sheets.COLUMNS_SINCE after checking the new sheet) or the file is an older sheet under a "
            f"newer name (correct its name in {paths.relative(SHEET_NAME_CORRECTIONS)} with a reason)."
        )


_HEADER_KEYS = {"STATE", "LAW ENFORCEMENT AGENCY"}


def _find_header(rows: list[list]) -> int | None:
    for i, row in enumerate(rows[:50]):
        cells = {_SPACES.sub(" ", v).strip().upper() for v in row if isinstance(v, str)}
        if _HEADER_KEYS <= cells:
            return i
    return None


def _read_workbook(path: Path, file: str) -> tuple[list[list], int, str, list[str]]:
    """Rows of the worksheet holding ICE's header, its header row index, its name and all worksheet names."""
    from python_calamine import CalamineError, CalamineWorkbook

    sniff_format(path, file)
    try:
        book = CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
    except (CalamineError, OSError, ValueError) as exc:
        raise SheetFormatError(f"{file}: cannot read the workbook ({type(exc).__name__}: {exc})") from exc
    unreadable = []
    for index, sheet_name in enumerate(names):
        try:
            rows = book.get_sheet_by_index(index).to_python(skip_empty_area=False)
        except (CalamineError, ValueError):  # e.g. a chart sheet: no cells; said in the error below if nothing fits
            unreadable.append(sheet_name)
            continue
        header = _find_header(rows)
        if header is not None:
            return rows, header, sheet_name, names
    raise SheetFormatError(
        f"{file}: no worksheet holds ICE's header row (STATE and LAW ENFORCEMENT AGENCY in the first 50 rows); "
        f"worksheets: {names or 'none'}"
        + (f", read in that order starting with '{names[0]}'" if names else "")
        + (f" ({unreadable} could not be read as cells)" if unreadable else "")
        + ". Check that the file is ICE's participating or pending agencies sheet."
    )


# Excel writes these tags with their attributes in this order; other writers fall back to _ATTR below.
_HYPERLINK = re.compile(rb'<(?:\w+:)?hyperlink ref="([A-Z]+[0-9]+)" \w+:id="([^"]+)"')
_RELATIONSHIP = re.compile(rb'<(?:\w+:)?Relationship Id="([^"]+)" Type="[^"]*" Target="([^"]*)"')
_TAG = {
    "hyperlink": re.compile(rb"<(?:\w+:)?hyperlink\b[^>]*>"),
    "Relationship": re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>"),
}
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')


def _tags(xml: bytes, start: int, tag: str, fast: re.Pattern, keys: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    """(first, second) attribute values of every ``tag`` element from ``start``: by the fast pattern when it
    finds them all, else by reading each tag's attributes."""
    found = fast.findall(xml, start)
    if len(found) == xml.count(b"<" + tag.encode() + b" ", start) + len(
        re.findall(rb"<\w+:" + tag.encode() + rb" ", xml[start:])
    ):
        return found
    out = []
    for m in _TAG[tag].finditer(xml, start):
        attrs = {k.decode().split(":")[-1]: v for k, v in _ATTR.findall(m.group(0))}
        if keys[0] in attrs and keys[1] in attrs:
            out.append((attrs[keys[0]].split(b":")[0], attrs[keys[1]]))  # a range ref "G2:G3" keeps its first cell
    return out


def _hyperlinks(path: Path, sheet_name: str) -> dict[str, str]:
    """Cell reference (e.g. ``G12``) -> hyperlink target, for one worksheet of an .xlsx file.

    The ``<hyperlinks>`` element follows the cell data in the sheet XML, so it
    and the relationships are found with byte searches instead of parsing
    every cell (the attributes may come in either order).
    """
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    ns_pkg = "{http://schemas.openxmlformats.org/package/2006/relationships}"
    try:
        with zipfile.ZipFile(path) as zf:
            wb = ElementTree.fromstring(zf.read("xl/workbook.xml"))
            sheet = next(s for s in wb.iter(f"{ns_main}sheet") if s.get("name") == sheet_name)
            rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target") or "" for r in rels.iter(f"{ns_pkg}Relationship")}
            target = targets[sheet.get(f"{ns_rel}id")].lstrip("/")
            sheet_path = target if target.startswith("xl/") else f"xl/{target}"
            rels_path = str(Path(sheet_path).parent / "_rels" / (Path(sheet_path).name + ".rels"))
            if rels_path not in zf.namelist():
                return {}
            sheet_rels = zf.read(rels_path)
            xml = zf.read(sheet_path)
    except (zipfile.BadZipFile, KeyError, StopIteration, ElementTree.ParseError):
        return {}
    links = dict(_tags(sheet_rels, 0, "Relationship", _RELATIONSHIP, ("Id", "Target")))
    start = max(xml.rfind(b"</sheetData>"), 0)
    refs = _tags(xml, start, "hyperlink", _HYPERLINK, ("ref", "id"))
    return {
        r.decode(): (html.unescape(t.decode()) if b"&" in t else t.decode())
        for r, i in refs
        if (t := links.get(i)) is not None
    }


@lru_cache(maxsize=1 << 14)
def clean_link(url: str | None) -> str | None:
    """An MOA link without the wrappers ICE staff pasted along with it.

    Two wrappers occur: Outlook "safelinks" (the real address is the ``url``
    query parameter) and a PDF-viewer browser extension
    (``chrome-extension://<id>/https:/www.ice.gov/...``).
    """
    if not url:
        return None
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(url)
    if parsed.netloc.endswith("safelinks.protection.outlook.com"):
        inner = parse_qs(parsed.query).get("url")
        if inner:
            return inner[0]
    m = re.match(r"^chrome-extension://[a-z]+/(https?):/+(.*)$", url)
    if m:
        return f"{m.group(1)}://{m.group(2)}"
    return url


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


#: Columns of :attr:`RawSheet.body`: the spreadsheet row number and the printed values.
RAW_COLUMNS = ["row", *COLUMNS.values(), "moa_url"]


@dataclass(frozen=True)
class RawSheet:
    """One workbook as printed: its data rows (strings stripped, blanks None) and where they came from.

    ``rows`` holds the spreadsheet row numbers and ``cells`` one object array per
    printed column (:data:`RAW_COLUMNS`; a column the sheet lacks is all None).
    """

    file: str
    list: str  # list type of the content (:func:`content_list`)
    header: builtins.list[str]  # builtins: the field ``list`` above shadows the type inside this class
    worksheet: str  # worksheet read (the first one holding ICE's header)
    worksheets: builtins.list[str]
    rows: np.ndarray
    cells: dict[str, np.ndarray]

    @property
    def body(self) -> pd.DataFrame:
        """The data rows as a table (:data:`RAW_COLUMNS`)."""
        out = pd.DataFrame({c: self.cells[c] for c in RAW_COLUMNS[1:]}, dtype=object)
        out.insert(0, "row", self.rows.astype("int64"))
        return out


def _clean_array(values: np.ndarray) -> np.ndarray:
    """:func:`_clean` applied once per distinct value of a column (blank and missing cells become None)."""
    codes, uniques = pd.factorize(values)
    cleaned = np.array([_clean(u) for u in uniques] + [None], dtype=object)
    return cleaned[codes]


def _is_text(values: np.ndarray, test: Callable[[str], object]) -> np.ndarray:
    """Boolean mask: ``test(value)`` for each distinct string of ``values`` (False for non-strings)."""
    codes, uniques = pd.factorize(values)
    hits = np.array([isinstance(u, str) and bool(test(u)) for u in uniques] + [False], dtype=bool)
    return hits[codes]


def read_raw(path: str | Path, name: str | None = None) -> RawSheet:
    """Read one ICE participating or pending sheet into its printed values.

    ``name`` is the file name used in messages (defaults to the path's own
    name).  The format comes from the bytes (:func:`sniff_format`); the
    worksheet read is the first whose first 50 rows hold ICE's header (STATE
    and LAW ENFORCEMENT AGENCY); the list type comes from the columns
    (:func:`content_list`).  Raises :class:`SheetFormatError` for a layout that
    does not fit, naming the file and the row or column.
    """
    path = Path(path)
    file = Path(name).name if name else path.name
    rows, header_row, worksheet, worksheets = _read_workbook(path, file)
    width = max(len(r) for r in rows)
    header = [None if _clean(v) is None else str(_clean(v)).upper() for v in rows[header_row]]
    header += [None] * (width - len(header))
    where = f"{file}" + ("" if worksheet == worksheets[0] else f" (worksheet '{worksheet}')")

    found = [h for h in header if h]
    kind = content_list(found)
    unknown = [h for h in found if h not in COLUMNS]
    missing = [h for h in REQUIRED[kind] if h not in found]
    if unknown or missing:
        raise SheetFormatError(
            f"{where}: header row {header_row + 1} does not fit the ICE layout of a {kind} sheet"
            + (f"; missing column(s) {missing}" if missing else "")
            + (f"; unknown column(s) {unknown}" if unknown else "")
            + f". Columns found: {found}. If ICE renamed a column, add the new name to helpers.sheets.COLUMNS."
        )
    dupes = sorted({h for h in found if found.count(h) > 1})
    if dupes:
        raise SheetFormatError(f"{where}: column(s) {dupes} appear twice in header row {header_row + 1}")

    body = rows[header_row + 1 :]
    if any(len(r) != width for r in body):
        body = [list(r) + [None] * (width - len(r)) for r in body]
    numbers = np.arange(header_row + 2, header_row + 2 + len(body))  # spreadsheet row numbers
    columns = [np.array(c, dtype=object) for c in zip(*body)] if body else [np.empty(0, dtype=object)] * width
    unnamed = {}
    for i, h in enumerate(header):
        if h is None:
            filled = np.flatnonzero(pd.notna(_clean_array(columns[i])))
            if len(filled):
                unnamed[_column_letter(i)] = int(numbers[filled[0]])
    if unnamed:
        raise SheetFormatError(
            f"{where}: column(s) {list(unnamed)} hold data but have no header (first at row(s) "
            f"{list(unnamed.values())}). Data outside ICE's named columns is not read: if it is a note, delete it; "
            "if ICE added a column, give it its header and add the header to helpers.sheets.COLUMNS."
        )
    blank_column = np.full(len(body), None, dtype=object)
    cells = {COLUMNS[h]: _clean_array(columns[i]) for i, h in enumerate(header) if h is not None}
    cells = {c: cells.get(c, blank_column) for c in RAW_COLUMNS[1:-1]}
    empty = np.logical_and.reduce([pd.isna(v) for v in cells.values()])
    repeated_header = _is_text(cells["state_printed"], lambda v: v.upper() == "STATE") & _is_text(
        cells["agency"], lambda v: v.upper() == "LAW ENFORCEMENT AGENCY"
    )
    keep = ~empty & ~repeated_header
    numbers = numbers[keep]
    cells = {c: v[keep] for c, v in cells.items()}
    no_state = np.flatnonzero(pd.isna(cells["state_printed"]))
    if len(no_state):
        raise SheetFormatError(f"{where}, row {int(numbers[no_state[0]])}: the row has data but no STATE")

    moa = np.full(len(numbers), None, dtype=object)
    if "MOA" in header:
        letter = _column_letter(header.index("MOA"))
        by_row = {
            int(ref[len(letter) :]): url
            for ref, url in _hyperlinks(path, worksheet).items()
            if ref.startswith(letter) and ref[len(letter) :].isdigit()
        }
        if by_row:
            table = np.full(max(max(by_row), int(numbers.max(initial=0))) + 1, None, dtype=object)
            table[list(by_row)] = list(by_row.values())
            moa = table[numbers]
        printed = cells["moa_printed"]
        pasted = _is_text(printed, lambda v: v.startswith("http")) & pd.isna(moa)
        moa[pasted] = printed[pasted]
        codes, uniques = pd.factorize(moa)
        moa = np.array([clean_link(u) for u in uniques] + [None], dtype=object)[codes]
    cells["moa_url"] = moa
    return RawSheet(
        file=file, list=kind, header=found, worksheet=worksheet, worksheets=worksheets, rows=numbers, cells=cells
    )
