"""Documentation stays in step with the data: every processed column is described."""

from __future__ import annotations

import re

import pandas as pd

from helpers import paths


def _documented_tables() -> dict[str, set[str]]:
    """`### `pattern`` sections of data/README.md -> the column names in their tables."""
    text = (paths.DATA / "README.md").read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    out = {}
    for section in sections:
        title = re.match(r"`([^`]+)`", section)
        if not title:
            continue
        columns = set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))
        out[title.group(1)] = columns
    return out


def _pattern(title: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"<[^>]+>", ".+", re.escape(title).replace(r"\<", "<").replace(r"\>", ">")) + "$")


def test_every_processed_table_and_column_is_documented():
    documented = _documented_tables()
    assert documented, "data/README.md has no table sections"
    tables = sorted(paths.processed_dir().glob("*.csv"))
    assert tables, "no processed tables: run `make reproduce`"
    for table in tables:
        matches = [t for t in documented if _pattern(t).match(table.name)]
        assert matches, f"{table.name} is not described in data/README.md"
        columns = set(pd.read_csv(table, nrows=0).columns)
        undocumented = columns - set().union(*(documented[m] for m in matches))
        assert not undocumented, f"{table.name}: columns {sorted(undocumented)} are not in data/README.md"


def test_pattern_matching():
    assert _pattern("<state>_agreements_<sheet>.csv").match("minnesota_agreements_participatingAgencies10312025pm.csv")
    assert not _pattern("claims_report.csv").match("claims_recorded.csv")
