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

    python -m helpers.data fetch      # fetch and verify everything, print a table
    python -m helpers.data list       # the registry as a table
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

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


class RegistryError(RawDataError):
    """The registry file itself is malformed."""


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
    """Read and validate the registry; returns entries keyed by relative path."""
    path = path or paths.REGISTRY
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in REGISTRY_COLUMNS if c not in df.columns]
    if missing:
        raise RegistryError(f"{path}: missing columns {missing}; expected {REGISTRY_COLUMNS}")
    dupes = df.loc[df["path"].duplicated(), "path"].tolist()
    if dupes:
        raise RegistryError(f"{path}: duplicate paths {dupes}")
    entries: dict[str, Entry] = {}
    for i, row in df.iterrows():
        sha = row["sha256"].strip().lower()
        if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
            raise RegistryError(f"{path}, row {i + 2} ({row['path']}): sha256 is not 64 hex digits")
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
    by_base = sorted((e for p, e in registry.items() if Path(p).name == name), key=lambda e: (len(e.path), e.path))
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
      deleted) and the file is fetched again;
    * a mirror copy or download that fails raises :class:`HashMismatchError`
      naming the file, the expected and the actual hash, and is not copied;
    * if nothing is available, :class:`RawFileUnavailableError` names the file,
      its URL and ``$RAW_DATA_MIRROR``.
    """
    registry = registry if registry is not None else load_registry()
    entry = _lookup(name, registry)
    cache = Path(cache) if cache is not None else paths.RAW
    target = cache / entry.path

    if target.is_file():
        actual = file_sha256(target)
        if actual == entry.sha256:
            return target
        rejected = target.with_name(target.name + ".rejected")
        target.replace(rejected)
        print(
            f"warning: cached copy of {entry.path} failed its sha256 check "
            f"(actual {actual}); moved to {paths.relative(rejected)} and fetching again",
            file=sys.stderr,
        )

    mirror_dir = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    mirror_note = f"${MIRROR_ENV}={mirror_dir}" if mirror_dir else f"${MIRROR_ENV} is not set"
    if mirror_dir:
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
        raise RawFileUnavailableError(
            f"Raw file '{entry.path}' is not in the cache or the mirror ({mirror_note}) "
            f"and could not be downloaded from {entry.url}: {type(exc).__name__}: {exc}. "
            f"Offline? Point {MIRROR_ENV} at a folder holding the raw files "
            "(on this project's machines: ../shared/data/raw)."
        ) from exc
    return target


def _actual_hash_from_pooch(message: str, expected: str) -> str:
    """The downloaded file's hash as pooch reports it in its mismatch message."""
    found = [h for h in re.findall(r"[0-9a-f]{64}", message.lower()) if h != expected]
    return found[0] if found else "unknown (see the download error)"


def fetch_all(
    names: Iterable[str] | None = None, **kwargs
) -> pd.DataFrame:
    """Fetch every registered file (or ``names``); returns a verification table."""
    registry = kwargs.pop("registry", None) or load_registry()
    rows = []
    for name in names if names is not None else sorted(registry):
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
        p.relative_to(mirror).as_posix()
        for p in mirror.rglob("*")
        if p.is_file() and p.name not in MIRROR_METADATA
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


SOURCES_START = "<!-- sources-table:start (written by notebooks/99_claims.ipynb from data/registry.csv; do not edit) -->"
SOURCES_END = "<!-- sources-table:end -->"


def sources_markdown(registry: Mapping[str, Entry] | None = None) -> str:
    """The data-sources table for the README, one row per folder and publisher."""
    table = sources_table(registry)
    lines = ["| folder | publisher | files | published | licence |", "|---|---|---|---|---|"]
    for r in table.itertuples():
        span = r.first if r.first == r.last else f"{r.first} to {r.last}"
        lines.append(f"| `{r.folder}/` | {r.publisher} | {r.files} | {span} | {r.license} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``fetch`` or ``list``."""
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else "fetch"
    if command == "list":
        print(pd.DataFrame([e.__dict__ for e in load_registry().values()])[
            ["path", "bytes", "publisher", "published"]].to_string(index=False))
        return 0
    if command != "fetch":
        print("usage: python -m helpers.data [fetch|list]", file=sys.stderr)
        return 2
    try:
        table = fetch_all()
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
