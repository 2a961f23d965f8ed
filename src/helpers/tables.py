"""The one writer of CSV tables: stable bytes, safe to open in a spreadsheet, never half-written.

Every processed table (and the registry, when ``python -m helpers.data add``
extends it) is written by :func:`write_csv`; ``tests/test_tables.py`` fails if
a helper or notebook calls ``to_csv`` or the ``csv`` module directly.  It

* writes UTF-8, ``\\n`` line endings, no index, rows sorted when asked;
* creates parent folders and writes to a temporary file that replaces the
  target only once it is complete (:func:`helpers.paths.atomic_write`), so an
  interrupted run leaves the previous table as it was;
* neutralises formula-like text (:func:`neutralise`), so that a value such as
  an agency name ``=HYPERLINK(...)`` read from a sheet is shown as text by
  Excel, LibreOffice or Google Sheets, never run as a formula.

The rule (also in ``data/README.md``): a *text* cell whose first character is
``=``, ``+``, ``-``, ``@``, a tab, a carriage return or ``'`` is written with a
``'`` in front, unless the whole cell is a plain number such as ``-3`` or
``+1.5``.  Numeric columns are never changed, so ``-3`` in a count column is
written as ``-3``.  Spreadsheets hide the leading ``'``; :func:`read_csv`
removes it, giving back the original text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import paths

#: First characters that make a spreadsheet treat a cell as a formula (OWASP "CSV injection"),
#: plus the apostrophe itself, so that the escape can be undone without ambiguity.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: object) -> object:
    """``value`` with a leading ``'`` if it is text that a spreadsheet could run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def restore(value: object) -> object:
    """Undo :func:`neutralise` (for text read back from a table written by :func:`write_csv`)."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def _neutralised(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.StringDtype):  # text only: the cells that start like a formula are found at once
            risky = values.str.startswith(FORMULA_START, na=False)
            if risky.any():
                out.loc[risky, column] = values[risky].map(neutralise)
        elif values.dtype == object or pd.api.types.is_string_dtype(values):  # any objects: each cell
            out[column] = values.map(neutralise)
    return out


def write_csv(
    df: pd.DataFrame,
    path: str | Path,
    *,
    sort_by: str | Sequence[str] | None = None,
    float_format: str | None = None,
) -> Path:
    """Write ``df`` to ``path`` as a stable, spreadsheet-safe CSV; returns the path.

    A relative ``path`` is taken inside :func:`helpers.paths.processed_dir`
    (``data/processed/``, or the run's output folder).  ``sort_by`` sorts the
    rows (stable sort) before writing; the index is never written.
    """
    path = Path(path)
    if not path.is_absolute():
        path = paths.processed_dir() / path
    out = df.sort_values(list([sort_by] if isinstance(sort_by, str) else sort_by), kind="stable") if sort_by else df
    out = _neutralised(out)
    with paths.atomic_write(path) as tmp:
        out.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8", float_format=float_format)
    return path


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_csv` as text, with neutralised cells restored."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return df.apply(lambda column: column.map(restore))


def show(
    df: pd.DataFrame,
    *,
    empty: str | None,
    written: str | Path | None = None,
    rows: int = 25,
    full: str = "the full table",
) -> Any:
    """What a notebook shows for a table: ``df`` itself; the sentence ``empty`` when it has no rows (never
    ``Empty DataFrame``; None shows nothing, for a table a sentence above already accounts for); its first ``rows``
    rows, then a sentence saying where ``full`` (the full table, or what else holds its rows) was written
    (``written``, shown relative to the project, never a machine path), when it is longer."""
    from IPython.display import display

    from helpers.text import say

    if df.empty:
        return None if empty is None else say(empty)
    if len(df) <= rows:
        return df
    display(df.head(rows))
    where = f"; {full} is in `{paths.relative(Path(written))}`" if written is not None else ""
    return say(f"The first {rows} of {len(df)} rows{where}.")
