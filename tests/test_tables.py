"""helpers.tables: the one CSV writer (stable bytes, spreadsheet-safe cells, atomic replace)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from helpers import paths, tables

# value written -> value in the file (the rule stated in data/README.md)
NEUTRALISE = [
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("'quoted", "''quoted"),
    ("-3", "-3"),  # a number written as text is not a formula
    ("+1.5", "+1.5"),
    ("-1e3", "-1e3"),
    ("Cass County Sheriff's Office", "Cass County Sheriff's Office"),
    ("", ""),
    ("a=b", "a=b"),
]


@pytest.mark.parametrize(("value", "written"), NEUTRALISE, ids=[repr(v) for v, _ in NEUTRALISE])
def test_neutralise_rule(value, written):
    assert tables.neutralise(value) == written
    assert tables.restore(written) == value


def test_numeric_cells_are_never_changed(tmp_path):
    df = pd.DataFrame({"agency": ["=cmd", "Cass"], "change": [-3, 2], "rate": [-0.5, 1.25]})
    out = tables.write_csv(df, tmp_path / "t.csv")
    assert out.read_text() == "agency,change,rate\n'=cmd,-3,-0.5\nCass,2,1.25\n"
    assert tables.read_csv(out)["agency"].tolist() == ["=cmd", "Cass"]


CELLS = ["=cmd", "Cass", None, "-3", "'x", "+1+2", "", "a=b", "\tx"]


@pytest.mark.parametrize("dtype", ["str", "string", object], ids=["str", "string", "object"])
def test_every_text_dtype_is_neutralised_cell_by_cell(tmp_path, dtype):
    """Text columns of every dtype are written by the rule of :func:`helpers.tables.neutralise`, cell by cell
    (missing cells stay empty); an object column of numbers is left as numbers."""
    df = pd.DataFrame({"text": pd.Series(CELLS, dtype=dtype), "n": pd.Series([1, 2, 3] * 3, dtype=object)})
    out = tables.write_csv(df, tmp_path / "t.csv")
    expected = ["" if v is None else tables.neutralise(v) for v in CELLS]
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert back["text"].tolist() == expected and back["n"].tolist() == ["1", "2", "3"] * 3
    assert df["text"].tolist()[0] == "=cmd", "the caller's table is not changed"


def test_write_csv_sorts_creates_folders_and_writes_lf(tmp_path):
    df = pd.DataFrame({"k": ["b", "a", "c"], "v": [2.123, 1.0, 3.5]})
    out = tables.write_csv(df, tmp_path / "deep" / "er" / "t.csv", sort_by="k", float_format="%.2f")
    assert out.read_bytes() == b"k,v\na,1.00\nb,2.12\nc,3.50\n"
    assert not list(out.parent.glob("*.partial")), "no temporary file is left behind"


def test_relative_path_goes_to_the_processed_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path))
    out = tables.write_csv(pd.DataFrame({"a": [1]}), "x.csv")
    assert out == tmp_path / "data" / "processed" / "x.csv"


def test_failed_write_leaves_the_previous_table(tmp_path, monkeypatch):
    target = tmp_path / "t.csv"
    target.write_text("old\n")

    def broken(self, path, **kwargs):
        Path(path).write_text("half a ta")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(KeyboardInterrupt):
        tables.write_csv(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"], "the temporary file is removed"


def test_failed_figure_save_leaves_the_previous_figure(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from helpers import plotting

    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path))
    target = tmp_path / "figures" / "f.png"
    target.parent.mkdir()
    target.write_bytes(b"old")
    fig = plt.figure()

    def broken(path, **kwargs):
        Path(path).write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(KeyboardInterrupt):
        plotting.save_figure(fig, "f", "test")
    plt.close(fig)
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["f.png"]


HELPER_MODULES = {p.stem for p in (paths.ROOT / "src" / "helpers").glob("*.py")}


def _csv_writes(tree: ast.AST) -> list[int]:
    """Lines that write CSV other than through helpers.tables: ``.to_csv(`` calls or the csv module's writers.

    ``detention.to_csv(...)`` is a helper (its own body is checked), not pandas' method.
    """
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value.id if isinstance(node.func.value, ast.Name) else None
            if (node.func.attr == "to_csv" and receiver not in HELPER_MODULES) or (
                node.func.attr in ("writer", "DictWriter") and receiver == "csv"
            ):
                lines.append(node.lineno)
    return lines


def _sources() -> list[tuple[str, str]]:
    out = []
    for path in sorted((paths.ROOT / "src" / "helpers").glob("*.py")):
        if path.name != "tables.py":
            out.append((path.relative_to(paths.ROOT).as_posix(), path.read_text(encoding="utf-8")))
    for path in sorted(paths.NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
                out.append((f"{path.relative_to(paths.ROOT).as_posix()} cell {i}", source))
    return out


def test_every_csv_is_written_by_tables_write_csv():
    offenders = [f"{where}, line {line}" for where, source in _sources() for line in _csv_writes(ast.parse(source))]
    assert not offenders, f"write CSV tables with helpers.tables.write_csv, not directly: {offenders}"


def test_the_writer_check_catches_a_direct_write():
    assert _csv_writes(ast.parse("df.sort_values('a').to_csv(out, index=False)")) == [1]
    assert _csv_writes(ast.parse("import csv\nw = csv.writer(fh)")) == [2]
    assert _csv_writes(ast.parse("tables.write_csv(df, out)")) == []
    assert _csv_writes(ast.parse("detention.to_csv(rows, out)")) == []
