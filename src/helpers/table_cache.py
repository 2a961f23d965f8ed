"""Tables derived from raw files, cached on disk under a key of everything they are made from.

A table that is slow to make from raw files and the same on every run (the detention facility-year table, read
from eleven workbooks; the Census county list; each state's county shapes) is written once as an uncompressed Arrow
IPC file to ``data/interim/tables/<kind>/<key>.arrow`` (git-ignored; every notebook reads some of them, and these
read several times faster than Parquet and need no Parquet reader in the kernel) and read back while its key is
unchanged.  The key (:func:`key`) is a sha256 over the inputs the caller names:
the raw files' verified sha256, the source of the modules that shape the table, the correction files they read,
and the versions of the libraries that parse and store it.  Any change of input bytes or code gives a new key, so
a stale table is never read; writing a table deletes the files of the same kind under other keys.

The cache is invisible: a table read back equals the table made (values, dtypes, column order; tested).  Writes
are atomic (:func:`helpers.paths.atomic_write`), so a crashed or concurrent run never leaves a half-written table; a
damaged or foreign file is ignored and made again.  ``$ICE287G_TABLE_CACHE`` names another folder, or ``off``.
(ICE sheets have their own cache, :mod:`helpers.ice`, keyed by content in ``data/interim/sheets/``.)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from helpers import paths

if TYPE_CHECKING:
    import pyarrow as pa

FOLDER = paths.DATA / "interim" / "tables"
ENV = "ICE287G_TABLE_CACHE"
#: Libraries whose versions are part of every key: they parse the raw files and store the tables.
LIBRARIES = ("pandas", "numpy", "pyarrow", "python-calamine")
SUFFIX = ".arrow"


def folder() -> Path | None:
    """Where tables are cached (None when ``$ICE287G_TABLE_CACHE`` is ``off``)."""
    env = os.environ.get(ENV, "").strip()
    if env.lower() == "off":
        return None
    return Path(env) if env else FOLDER


def key(parts: Iterable[str | Path]) -> str:
    """16 hex digits of a sha256 over ``parts`` and :data:`LIBRARIES`' versions: a text counts as itself, a
    path by its name and bytes (a source file, a corrections table)."""
    digest = hashlib.sha256()
    for library in LIBRARIES:
        digest.update(f"{library} {version(library)}\0".encode())
    for part in parts:
        if isinstance(part, Path):
            digest.update(part.name.encode() + b"\0" + part.read_bytes() + b"\0")
        else:
            digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


@cache
def version(library: str) -> str:
    """The installed version of ``library`` ("absent" when it is not installed), looked up once per process:
    the modules a process has imported do not change when a package is reinstalled under it."""
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return "absent"


def path(kind: str, table_key: str) -> Path | None:
    """The file of one table: ``<folder>/<kind>/<key>.arrow`` (None when the cache is off)."""
    where = folder()
    return None if where is None else where / kind / f"{table_key}{SUFFIX}"


def read(kind: str, table_key: str) -> pd.DataFrame | None:
    """The cached table, or None when there is none (or it cannot be read: it is then made again)."""
    target = path(kind, table_key)
    if target is None:
        return None
    table = read_arrow(target)
    return None if table is None else table.to_pandas()


def write(kind: str, table_key: str, table: pd.DataFrame) -> Path | None:
    """Store ``table`` atomically and delete the files of ``kind`` under other keys (and in the earlier Parquet
    format); returns the file (None when the cache is off)."""
    import pyarrow as pa

    target = path(kind, table_key)
    if target is None:
        return None
    write_arrow(target, pa.Table.from_pandas(table, preserve_index=False))
    for old in target.parent.iterdir():
        if old.name.endswith((SUFFIX, ".parquet")) and old != target:
            old.unlink(missing_ok=True)
    return target


def read_arrow(target: Path) -> pa.Table | None:
    """The Arrow table in the IPC file ``target``, or None when it is missing or cannot be read (half-written by a
    killed process, or foreign); the caches here and in :mod:`helpers.ice` then make it again."""
    import pyarrow as pa

    try:
        with pa.OSFile(str(target), "rb") as source:
            return pa.ipc.open_file(source).read_all()
    except (OSError, ValueError):  # pyarrow.ArrowInvalid is a ValueError
        return None


def write_arrow(target: Path, table: pa.Table) -> None:
    """Write ``table`` to ``target`` as an uncompressed Arrow IPC file, atomically (:func:`helpers.paths.atomic_write`:
    a crashed or concurrent run never leaves a half-written file)."""
    import pyarrow as pa

    with paths.atomic_write(target, logged=False) as tmp:  # a content-addressed cache, not a notebook output
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


def cached(kind: str, table_key: str, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The table of ``kind`` under ``table_key``: read from the cache, or made by ``make()`` and stored."""
    table = read(kind, table_key)
    if table is None:
        table = make().reset_index(drop=True)
        write(kind, table_key, table)
    return table
