"""helpers.table_cache: derived tables cached under a key of their inputs (used by helpers.detention and helpers.geo)."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import table_cache


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(table_cache.ENV, str(tmp_path))
    return tmp_path


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": pd.Series(["a", None, "c"], dtype="str"),
            "n": pd.Series([1, None, 3], dtype="Int64"),
            "x": [0.5, float("nan"), 2.0],
            "day": pd.to_datetime(["2025-01-01", None, "2025-03-01"]).as_unit("us"),
            "flag": [True, False, True],
        }
    )


def test_a_table_comes_back_as_it_was_stored(folder):
    made = []
    first = table_cache.cached("demo", "k1", lambda: made.append(1) or _table())
    again = table_cache.cached("demo", "k1", lambda: made.append(1) or _table())
    assert made == [1]
    for table in (first, again):
        pd.testing.assert_frame_equal(table, _table(), check_exact=True)


def test_off_stores_nothing(folder, monkeypatch):
    monkeypatch.setenv(table_cache.ENV, "off")
    assert table_cache.path("demo", "k1") is None and table_cache.write("demo", "k1", _table()) is None
    made = []
    table_cache.cached("demo", "k1", lambda: made.append(1) or _table())
    table_cache.cached("demo", "k1", lambda: made.append(1) or _table())
    assert made == [1, 1] and not list(folder.iterdir())


def test_a_new_key_replaces_the_old_file_of_its_kind_only(folder):
    table_cache.write("demo", "k1", _table())
    table_cache.write("other", "k1", _table())
    table_cache.write("demo", "k2", _table())
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "demo",
        f"demo/k2{table_cache.SUFFIX}",
        "other",
        f"other/k1{table_cache.SUFFIX}",
    ]
    assert table_cache.read("demo", "k1") is None


DAMAGED = [
    ("half-written", lambda b: b[: len(b) // 2]),
    ("empty", lambda b: b""),
    ("foreign", lambda b: b"PAR1 not an arrow file PAR1"),
]


@pytest.mark.parametrize("damage", [d[1] for d in DAMAGED], ids=[d[0] for d in DAMAGED])
def test_a_damaged_file_reads_as_missing_and_is_made_again(folder, damage):
    target = table_cache.write("demo", "k1", _table())
    target.write_bytes(damage(target.read_bytes()))
    assert table_cache.read("demo", "k1") is None
    made = []
    table = table_cache.cached("demo", "k1", lambda: made.append(1) or _table())
    assert made == [1] and table_cache.read("demo", "k1") is not None
    pd.testing.assert_frame_equal(table, _table(), check_exact=True)


def test_a_file_of_the_earlier_parquet_format_is_removed(folder):
    (folder / "demo").mkdir(parents=True)
    (folder / "demo" / "k0.parquet").write_bytes(b"PAR1")
    (folder / "demo" / "notes.txt").write_text("kept")
    table_cache.write("demo", "k1", _table())
    assert sorted(p.name for p in (folder / "demo").iterdir()) == [f"k1{table_cache.SUFFIX}", "notes.txt"]


KEYS = [  # (what changes, parts before, parts after)
    ("a text part", ["a"], ["b"]),
    ("the order of parts", ["a", "b"], ["b", "a"]),
    ("a part split differently", ["ab", "c"], ["a", "bc"]),
]


@pytest.mark.parametrize(("what", "before", "after"), KEYS, ids=[k[0] for k in KEYS])
def test_the_key_changes_with_its_parts(what, before, after):
    assert table_cache.key(before) == table_cache.key(list(before))
    assert table_cache.key(before) != table_cache.key(after)


def test_a_file_part_counts_by_its_name_and_bytes(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text("a,b\n")
    key = table_cache.key([path])
    path.write_text("a,b\n1,2\n")
    assert table_cache.key([path]) != key
    renamed = path.rename(tmp_path / "other.csv")
    renamed.write_text("a,b\n")
    assert table_cache.key([renamed]) != key


def test_the_key_changes_with_a_library_version(monkeypatch):
    """Library versions are looked up once per process (table_cache.version); another version is another key."""
    key = table_cache.key(["a"])
    assert table_cache.version("pandas") == pd.__version__ and table_cache.version("no-such-package") == "absent"
    real = table_cache.version
    monkeypatch.setattr(table_cache, "version", lambda lib: "0.0" if lib == "pyarrow" else real(lib))
    assert table_cache.key(["a"]) != key
