"""Raw-data registry and verified fetch.

``data/registry.csv`` lists every raw file the analysis may read: its path
(relative to the raw folder), sha256, size, a download URL that yields exactly
those bytes, the publisher's original URL, publisher, publication date, licence
and a one-line description.

:func:`fetch` returns a verified local copy in the git-ignored ``data/raw/``
cache.  It looks in the cache first, then in the mirror folder named by
``$RAW_DATA_MIRROR``, then downloads the registry URL with :mod:`pooch`.  The
sha256 is checked every time; a copy that fails is never returned.

Command line::

    python -m helpers.data fetch              # fetch and verify everything, print a table
    python -m helpers.data list               # the registry as a table
    python -m helpers.data add PATH [--url U] # pin a downloaded ICE sheet (make add-sheet FILE=PATH)

:func:`add` is how a newly downloaded ICE sheet becomes part of the pinned
analysis: it checks that the file parses as an ICE sheet and is not already
registered, copies it into the cache and appends its registry row.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import hashlib
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from helpers import paths

MIRROR_ENV = "RAW_DATA_MIRROR"
REGISTRY_COLUMNS = [
    "path",
    "sha256",
    "bytes",
    "url",
    "original_url",
    "publisher",
    "published",
    "license",
    "description",
]
#: Files in a mirror folder that document the data rather than being data.
MIRROR_METADATA = {"PROVENANCE.md", "SHA256SUMS", "provenance.csv", "archive-2025.csv"}


class RawDataError(RuntimeError):
    """Base class for every raw-data problem; the message says what to do."""


class UnknownRawFileError(RawDataError, KeyError):
    """A path that is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class HashMismatchError(RawDataError):
    """A copy whose sha256 differs from the registry."""


class RawFileUnavailableError(RawDataError):
    """No verified copy could be found in the cache, the mirror or online."""


class CachedCopyRejectedError(HashMismatchError, RawFileUnavailableError):
    """The cached copy failed its sha256 check and no verified copy could replace it."""


class RegistryError(RawDataError):
    """The registry file itself is malformed."""


class AddError(RawDataError):
    """A file that :func:`add` refuses to register; the message says why and what to do."""


class RawDataWarning(UserWarning):
    """Something about the raw data the user should know, that does not stop the run."""


class UnregisteredFileWarning(RawDataWarning):
    """A file used by path that is not in the registry, so its bytes are not verified."""


#: Registry values for an ICE sheet pinned with :func:`add`.
ICE_PUBLISHER = "U.S. Immigration and Customs Enforcement"
ICE_LICENSE = "U.S. Government work (public domain)"
ICE_DOCLIB = "https://www.ice.gov/doclib/about/offices/ero/287g/"


@dataclass(frozen=True)
class Entry:
    """One registry row."""

    path: str
    sha256: str
    bytes: int
    url: str
    original_url: str
    publisher: str
    published: str
    license: str
    description: str


def load_registry(path: Path | None = None) -> dict[str, Entry]:
    """Read and validate the registry; returns entries keyed by relative path.

    A notebook asks for the registry many times (every fetch, every recorded
    claim); the file is read once per process and again whenever it changes
    (:func:`helpers.paths.read_once`).  Each call returns its own dict.
    """
    path = Path(path or paths.REGISTRY)
    if not path.is_file():
        raise RegistryError(f"{path}: the raw-data registry file does not exist")
    return dict(paths.read_once("registry", path, _read_registry))


def _read_registry(path: Path) -> dict[str, Entry]:
    """Parse and check the registry file (the :mod:`csv` module: a few hundred rows, read in every kernel)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        lines = [row for row in csv.reader(fh) if row]  # blank lines are skipped, as pandas does
    columns = lines[0] if lines else []
    missing = [c for c in REGISTRY_COLUMNS if c not in columns]
    if missing:
        raise RegistryError(f"{path}: missing columns {missing}; expected {REGISTRY_COLUMNS}")
    where = {c: columns.index(c) for c in REGISTRY_COLUMNS}
    for line, fields in enumerate(lines[1:], start=2):
        if len(fields) != len(columns):
            raise RegistryError(f"{path}, row {line}: {len(fields)} fields where the header has {len(columns)}")
    rows = [{c: fields[i] for c, i in where.items()} for fields in lines[1:]]
    seen: set[str] = set()
    dupes = []
    for row in rows:
        if row["path"] in seen:
            dupes.append(row["path"])
        seen.add(row["path"])
    if dupes:
        raise RegistryError(f"{path}: duplicate paths {dupes}")
    entries: dict[str, Entry] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        sha = row["sha256"].strip().lower()
        if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
            raise RegistryError(f"{path}, row {line} ({row['path']}): sha256 is not 64 hex digits")
        entries[row["path"]] = Entry(
            **{c: row[c] for c in REGISTRY_COLUMNS if c not in ("sha256", "bytes")},
            sha256=sha,
            bytes=int(row["bytes"]),
        )
    return entries


def file_sha256(path: Path) -> str:
    """sha256 of a file, as lower-case hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lookup(name: str, registry: Mapping[str, Entry]) -> Entry:
    if name in registry:
        return registry[name]
    # Accept a bare file name when it is unambiguous (e.g. an ICE sheet name).
    # Several paths may hold the same bytes under one name (the 2025 archive repeats the
    # top-level sheets); they are one file, and the shortest path is used.
    suffix = "/" + name  # a name with a "/" that is not a registry path is no file's bare name
    by_base = sorted(
        (e for p, e in registry.items() if p.endswith(suffix)) if "/" not in name else (),
        key=lambda e: (len(e.path), e.path),
    )
    if by_base and len({e.sha256 for e in by_base}) == 1:
        return by_base[0]
    candidates = list(registry) + [Path(p).name for p in registry]
    near = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    hint = f" Nearest registered names: {', '.join(near)}." if near else ""
    raise UnknownRawFileError(
        f"'{name}' is not in the raw-data registry ({paths.relative(paths.REGISTRY)}).{hint} "
        "To use a new raw file, add a row with its sha256 and URL to the registry."
    )


def resolve(name: str, registry: Mapping[str, Entry] | None = None) -> Entry:
    """Registry entry for a relative path or an unambiguous bare file name."""
    return _lookup(name, registry if registry is not None else load_registry())


def _mismatch(entry: Entry, where: str, actual: str) -> HashMismatchError:
    return HashMismatchError(
        f"sha256 mismatch for raw file '{entry.path}' ({where}).\n"
        f"  expected {entry.sha256}\n  actual   {actual}\n"
        "This copy is not used. Replace it with the original bytes "
        f"(download URL: {entry.url}), or, if the source was updated on purpose, "
        "update the registry row after checking the new file."
    )


def fetch(
    name: str,
    *,
    registry: Mapping[str, Entry] | None = None,
    cache: Path | None = None,
    mirror: Path | str | None = None,
    allow_download: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Return the path of a verified local copy of the registered raw file ``name``.

    Order: the cache (``data/raw/``), then the mirror folder (argument, or
    ``$RAW_DATA_MIRROR``), then the registry URL (via pooch).  Every copy is
    checked against the registry sha256:

    * a cached copy that fails is moved aside to ``<name>.rejected`` (nothing is
      deleted, a :class:`RawDataWarning` says so) and the file is fetched again;
      if no verified copy can replace it, :class:`CachedCopyRejectedError`
      says that the hash check failed, for which file, and how to restore it;
    * a mirror copy or download that fails raises :class:`HashMismatchError`
      naming the file, the expected and the actual hash, and is not copied;
    * if nothing is available, :class:`RawFileUnavailableError` names the file,
      its URL and ``$RAW_DATA_MIRROR``;
    * ``$RAW_DATA_MIRROR`` naming a folder that does not exist gives a
      :class:`RawDataWarning` (once per folder).
    """
    registry = registry if registry is not None else load_registry()
    entry = _lookup(name, registry)
    cache = Path(cache) if cache is not None else paths.RAW
    target = cache / entry.path
    rejected = target.with_name(target.name + ".rejected")
    mirror_dir = mirror if mirror is not None else env_mirror()
    if mirror_dir and not Path(mirror_dir).is_dir():
        _warn_missing_mirror(str(mirror_dir))

    rejected_note = ""
    if target.is_file():
        actual = file_sha256(target)
        if actual == entry.sha256:
            return target
        target.replace(rejected)
        rejected_note = (
            f"the cached copy {paths.relative(target)} has sha256 {actual}, not the registered "
            f"{entry.sha256}; it was moved to {paths.relative(rejected)} (nothing is deleted)"
        )
        warnings.warn(f"sha256 check failed: {rejected_note}; fetching a verified copy", RawDataWarning, stacklevel=2)
    elif rejected.is_file():
        rejected_note = f"an earlier cached copy failed its sha256 check and was moved to {paths.relative(rejected)}"

    mirror_note = f"${MIRROR_ENV}={mirror_dir}" if mirror_dir else f"${MIRROR_ENV} is not set"
    if mirror_dir and not Path(mirror_dir).is_dir():
        mirror_note += " (no such folder)"
    elif mirror_dir:
        source = Path(mirror_dir) / entry.path
        if source.is_file():
            actual = file_sha256(source)
            if actual != entry.sha256:
                raise _mismatch(entry, f"mirror copy {source}", actual)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            shutil.copyfile(source, tmp)
            if file_sha256(tmp) != entry.sha256:  # the copy itself went wrong
                tmp.unlink()
                raise _mismatch(entry, f"copy of {source}", "changed while copying")
            tmp.replace(target)
            return target

    if not allow_download:
        if rejected_note:
            raise _rejected(entry, rejected_note, f"it is not in the mirror ({mirror_note}) and downloads are disabled")
        raise RawFileUnavailableError(
            f"Raw file '{entry.path}' is not in the cache and not in the mirror ({mirror_note}); "
            f"downloads are disabled. Put the file in the mirror or download it from {entry.url}."
        )
    import pooch  # imported here: it pulls in tqdm, which warns inside notebooks

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(
            url=entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=target.name,
            path=target.parent,
            downloader=pooch.HTTPDownloader(timeout=timeout, progressbar=False),
        )
    except ValueError as exc:  # pooch's hash mismatch; it has already removed the file
        actual = _actual_hash_from_pooch(str(exc), entry.sha256)
        raise _mismatch(entry, f"download from {entry.url}", actual) from exc
    except Exception as exc:  # network errors of every kind
        if rejected_note:
            raise _rejected(
                entry,
                rejected_note,
                f"it is not in the mirror ({mirror_note}) and the download from {entry.url} failed "
                f"({type(exc).__name__}: {exc})",
            ) from exc
        raise RawFileUnavailableError(
            f"Raw file '{entry.path}' is not in the cache or the mirror ({mirror_note}) "
            f"and could not be downloaded from {entry.url}: {type(exc).__name__}: {exc}. "
            f"Offline? Point {MIRROR_ENV} at a folder holding the raw files "
            "(on this project's machines: ../shared/data/raw)."
        ) from exc
    return target


def _rejected(entry: Entry, note: str, reason: str) -> CachedCopyRejectedError:
    """The error for a cached copy that failed its hash check and could not be replaced."""
    return CachedCopyRejectedError(
        f"sha256 check failed for raw file '{entry.path}': {note}. No verified copy could replace it: "
        f"{reason}. To fix it, point {MIRROR_ENV} at a folder holding the original raw files (on this "
        f"project's machines: ../shared/data/raw) and run `make data`, or download the file from "
        f"{entry.url}. Never edit files under {paths.relative(paths.RAW)}/."
    )


_WARNED_MIRRORS: set[str] = set()


def env_mirror() -> Path | None:
    """The folder ``$RAW_DATA_MIRROR`` names (None when unset or empty).

    A relative path is taken from the project root, as the Makefile and the README write it, wherever the process
    runs: a notebook's kernel runs in ``notebooks/``, where ``../shared/data/raw`` would name another folder.
    """
    value = os.environ.get(MIRROR_ENV, "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    return folder if folder.is_absolute() else paths.ROOT / folder


def _warn_missing_mirror(mirror_dir: str) -> None:
    """Warn once per folder that ``$RAW_DATA_MIRROR`` names a folder that does not exist."""
    if mirror_dir in _WARNED_MIRRORS:
        return
    _WARNED_MIRRORS.add(mirror_dir)
    warnings.warn(
        f"{MIRROR_ENV}={mirror_dir} names a folder that does not exist, so no file can come from it; "
        "files are taken from the cache or downloaded. Set it to the folder holding the raw files "
        "(on this project's machines: ../shared/data/raw) or unset it.",
        RawDataWarning,
        stacklevel=3,
    )


_WARNED_UNREGISTERED: set[tuple[str, int, int]] = set()


def warn_unregistered(path: str | Path, shown: str | None = None) -> None:
    """Warn that a file used by path is not in the registry, naming the command that pins it.

    Warned once per file (path, size and modification time) and process: the
    parameter check and the sheet lookup of one notebook run both meet the file,
    and the terminal must say it once.  ``shown`` is the path as the user gave it
    (default: ``path``).  Inside a notebook the warning is also written to the
    terminal that runs it (:func:`helpers.paths.start_run` installs that echo).
    """
    try:
        stat = Path(path).stat()
        seen = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        seen = (str(path), -1, -1)
    if seen in _WARNED_UNREGISTERED:
        return
    _WARNED_UNREGISTERED.add(seen)
    shown = Path(shown if shown is not None else path).as_posix()
    warnings.warn(
        f"{Path(path).name} is not in the raw-data registry ({paths.relative(paths.REGISTRY)}), so its "
        f"bytes are not verified. To pin it: python -m helpers.data add {shown} "
        f"(or: make add-sheet FILE={shown})",
        UnregisteredFileWarning,
        stacklevel=3,
    )


def _actual_hash_from_pooch(message: str, expected: str) -> str:
    """The downloaded file's hash as pooch reports it in its mismatch message."""
    found = [h for h in re.findall(r"[0-9a-f]{64}", message.lower()) if h != expected]
    return found[0] if found else "unknown (see the download error)"


def fetch_all(names: Iterable[str] | None = None, *, progress: bool = False, **kwargs: Any) -> pd.DataFrame:
    """Fetch every registered file (or ``names``); returns a verification table.

    ``progress=True`` shows a progress bar on a terminal (stderr) once the work
    has taken more than two seconds, as a first fetch from the mirror does;
    nothing is shown when stderr is not a terminal (CI logs).
    """
    registry = kwargs.pop("registry", None) or load_registry()
    todo = list(names) if names is not None else sorted(registry)
    if progress:
        from tqdm import tqdm  # the plain bar: tqdm.auto warns inside notebooks

        todo = tqdm(todo, desc="verifying", unit="file", delay=2, file=sys.stderr, disable=None, leave=False)
    rows = []
    for name in todo:
        entry = _lookup(name, registry)
        local = fetch(name, registry=registry, **kwargs)
        rows.append(
            {
                "path": entry.path,
                "bytes": local.stat().st_size,
                "sha256": entry.sha256[:12] + "…",
                "verified": True,
            }
        )
    return pd.DataFrame(rows)


def mirror_files(mirror: Path) -> list[str]:
    """Relative paths of the data files in a mirror folder (documentation files excluded)."""
    mirror = Path(mirror)
    return sorted(
        p.relative_to(mirror).as_posix() for p in mirror.rglob("*") if p.is_file() and p.name not in MIRROR_METADATA
    )


def sources_table(registry: Mapping[str, Entry] | None = None) -> pd.DataFrame:
    """Registry summarised by folder and publisher, for the README's data-sources table."""
    registry = registry if registry is not None else load_registry()
    df = pd.DataFrame([e.__dict__ for e in registry.values()])
    df["folder"] = df["path"].str.split("/").str[0]
    out = (
        df.groupby(["folder", "publisher", "license"], sort=True)
        .agg(files=("path", "size"), first=("published", "min"), last=("published", "max"))
        .reset_index()
    )
    return out


SOURCES_START = (
    "<!-- sources-table:start (written by notebooks/99_claims.ipynb from data/registry.csv; do not edit) -->"
)
SOURCES_END = "<!-- sources-table:end -->"


def sources_markdown(registry: Mapping[str, Entry] | None = None) -> str:
    """The data-sources table for the README, one row per folder and publisher."""
    table = sources_table(registry)
    lines = ["| folder | publisher | files | published | licence |", "|---|---|---|---|---|"]
    for r in table.to_dict("records"):
        span = r["first"] if r["first"] == r["last"] else f"{r['first']} to {r['last']}"
        lines.append(f"| `{r['folder']}/` | {r['publisher']} | {r['files']} | {span} | {r['license']} |")
    return "\n".join(lines)


def default_sheet_url(name: str) -> str:
    """ICE's own address for a sheet file name (where ICE publishes the current sheets)."""
    from urllib.parse import quote

    return ICE_DOCLIB + quote(name)


@dataclass(frozen=True)
class Added:
    """What :func:`add` registered."""

    entry: Entry
    kind: str  # participating | pending
    label: str  # publication as printed in the name
    rows: int
    cached: Path


def add(
    path: str | Path,
    *,
    url: str | None = None,
    registry_path: Path | None = None,
    cache: Path | None = None,
) -> Added:
    """Pin a downloaded ICE sheet: check it, copy it into the cache, append its registry row.

    The file must carry a name ICE's publication time can be read from
    (:func:`helpers.sheets.parse_sheet_name`), must parse as an ICE
    participating or pending sheet (:func:`helpers.ice.load_sheet`) with at
    least one row, and must not already be registered (same path
    ``ice-287g/<name>`` or same sha256).  The row's URL is ``url`` or ICE's
    own address for the name.  Raises :class:`AddError` naming the file, the
    reason and what to do; nothing is written then.
    """
    from helpers import ice, sheets, tables

    source = Path(path)
    registry_path = Path(registry_path) if registry_path is not None else paths.REGISTRY
    if not source.is_file():
        raise AddError(f"{path}: no such file. Save the sheet downloaded from ICE and give its path.")
    name = source.name
    try:
        sheet = sheets.parse_sheet_name(name)
    except ValueError as exc:  # SheetFormatError, or an impossible date such as month 13
        raise AddError(
            f"{name}: cannot date this file from its name ({exc}), so it cannot be pinned. Save it under "
            "ICE's own name, e.g. participatingAgencies01152026am.xlsx (month, day, year, am/pm)."
        ) from None
    registry = load_registry(registry_path)
    rel = f"{sheets.ICE_FOLDER}{name}"
    sha = file_sha256(source)
    if rel in registry:
        same = "the same bytes" if registry[rel].sha256 == sha else f"different bytes (sha256 {registry[rel].sha256})"
        raise AddError(
            f"{name}: {rel} is already in the registry with {same}; nothing was added. "
            + (
                'Use it as sheet="' + name + '".'
                if registry[rel].sha256 == sha
                else "If ICE republished the sheet under the same name, save your copy under another ICE-style name."
            )
        )
    twins = sorted(e.path for e in registry.values() if e.sha256 == sha)
    if twins:
        raise AddError(
            f"{name} has the same bytes (sha256 {sha}) as the registered {twins[0]}; nothing was added. "
            f'Use it as sheet="{Path(twins[0]).name}".'
        )
    try:
        table = ice.load_sheet(source)
    except Exception as exc:  # any reason the loader refuses it: layout, values, not a workbook
        raise AddError(
            f"{name} does not parse as an ICE {sheet.list} sheet, so it was not added: {type(exc).__name__}: {exc}"
        ) from exc
    if table.empty:
        raise AddError(f"{name} parses but holds no data rows; it was not added.")
    content = str(table["list"].iloc[0])
    if content != sheet.list:
        raise AddError(
            f"{name} is named as a {sheet.list} sheet but its columns are those of a {content} sheet "
            f"(a participating sheet has SIGNED, MOA or ADDENDUM); it was not added. Save it under ICE's "
            f"{content} name (e.g. {content}Agencies{sheet.published:%m%d%Y}am.xlsx) after checking which list you downloaded."
        )

    target = (Path(cache) if cache is not None else paths.RAW) / rel
    if not target.exists() or file_sha256(target) != sha:
        with paths.atomic_write(target) as tmp:
            shutil.copyfile(source, tmp)
            if file_sha256(tmp) != sha:
                raise AddError(f"{name} changed while it was copied to {paths.relative(target)}; try again.")
    doclib = default_sheet_url(name)
    entry = Entry(
        path=rel,
        sha256=sha,
        bytes=source.stat().st_size,
        url=url or doclib,
        original_url=doclib,
        publisher=ICE_PUBLISHER,
        published=sheet.published.date().isoformat(),
        license=ICE_LICENSE,
        description=f"ICE 287(g) {sheet.list} agencies sheet, published {sheet.label} (pinned with helpers.data add)",
    )
    rows = pd.read_csv(registry_path, dtype=str, keep_default_na=False)
    rows = pd.concat([rows, pd.DataFrame([{**entry.__dict__, "bytes": str(entry.bytes)}])], ignore_index=True)
    tables.write_csv(rows[REGISTRY_COLUMNS], registry_path, sort_by="path")
    return Added(entry, sheet.list, sheet.label, len(table), target)


def _added_message(added: Added, registry_path: Path) -> str:
    e = added.entry
    name = Path(e.path).name
    return "\n".join(
        [
            f"added {e.path} to {paths.relative(registry_path)}:",
            f"  {added.kind} sheet published {added.label}, {added.rows} rows, sha256 {e.sha256}",
            f"  copied to {paths.relative(added.cached)}; url {e.url}",
            f'Notebooks now verify it by sha256: use sheet="{name}" (or an as_of date on or after {e.published}).',
            f'To commit it:  git add {paths.relative(registry_path)} && git commit -m "Register ICE sheet {name}"',
            (
                f"Other machines fetch it with `make data` from the url above (check that it serves these bytes) "
                f"or from ${MIRROR_ENV} (copy the file there)."
            ),
        ]
    )


def _plain_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``fetch``, ``list`` or ``add PATH [--url URL]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.data")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("fetch", help="fetch and verify every registered raw file (the default)")
    sub.add_parser("list", help="print the registry")
    add_cmd = sub.add_parser("add", help="pin a downloaded ICE sheet: check, cache and register it")
    add_cmd.add_argument("path", type=Path, help="the sheet, saved under ICE's own file name")
    add_cmd.add_argument("--url", help="where the file was downloaded from (default: ICE's address for the name)")
    add_cmd.add_argument("--registry", type=Path, default=None, help=argparse.SUPPRESS)
    add_cmd.add_argument("--cache", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    warnings.showwarning = _plain_warning
    command = args.command or "fetch"
    if command == "list":
        print(
            pd.DataFrame([e.__dict__ for e in load_registry().values()])[
                ["path", "bytes", "publisher", "published"]
            ].to_string(index=False)
        )
        return 0
    if command == "add":
        registry_path = args.registry or paths.REGISTRY
        try:
            added = add(args.path, url=args.url, registry_path=registry_path, cache=args.cache)
        except RawDataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(_added_message(added, registry_path))
        return 0
    registry = load_registry()
    print(
        f"Fetching and verifying {len(registry)} raw files (sha256) into {paths.relative(paths.RAW)}/",
        flush=True,
    )
    try:
        table = fetch_all(registry=registry, progress=True)
    except RawDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    by_folder = table.assign(folder=table["path"].str.split("/").str[0]).groupby("folder")
    summary = by_folder.agg(files=("path", "size"), megabytes=("bytes", lambda b: round(b.sum() / 1e6, 1)))
    print(summary.to_string())
    print(f"{len(table)} raw files verified by sha256 in {paths.relative(paths.RAW)}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
