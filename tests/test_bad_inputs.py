"""Bad input never becomes a number (issue 13): every kind of bad input, in tables.

Each row names the input, and asserts the error type and the key words of its
message (what is wrong, for which input, what to do), the warning, or the
documented handling.  Sheet-level cases (edited ICE workbooks) are in
``tests/test_bad_inputs_sheets.py``.  The ``item`` column is the case's number
in issue 13 (``pass`` for cases that were already handled).

Tables:

* ``ERRORS``: in-process calls that must raise;
* ``WARNINGS``: calls that go on but must warn;
* ``HANDLED``: inputs with a documented handling (formula-like cells, dates);
* ``RUNS``: the documented commands, run as a user runs them (subprocesses);
* ``SIGNALS``: interrupted runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import nbformat
import openpyxl
import pandas as pd
import pytest

from helpers import (
    context,
    counties,
    data,
    detention,
    geo,
    ice,
    notebooks,
    params,
    paths,
    tables,
)

REGISTERED_SHEET = "ice-287g/participatingAgencies10312025pm.xlsx"
HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED"]
GOOD_ROW = ["MINNESOTA", "Cass County Sheriff's Office", "County", "Cass", "Task Force Model", date(2025, 2, 28)]


# ---------------------------------------------------------------- builders


def _entry(path: str, content: bytes, url: str = "http://127.0.0.1:9/none") -> data.Entry:
    return data.Entry(path, hashlib.sha256(content).hexdigest(), len(content), url, url, "test", "2025-01-01", "test", "test")


def _workbook(folder: Path, name: str, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    folder.mkdir(parents=True, exist_ok=True)
    wb.save(folder / name)
    return folder / name


def _registry_copy(tmp: Path) -> Path:
    copy = tmp / "registry.csv"
    copy.write_bytes(paths.REGISTRY.read_bytes())
    return copy


def _tampered_mirror(tmp: Path, mp: Any) -> Any:
    registry = {"x/file.csv": _entry("x/file.csv", b"state,count\nMINNESOTA,8\n")}
    (tmp / "mirror" / "x").mkdir(parents=True)
    (tmp / "mirror" / "x" / "file.csv").write_bytes(b"state,count\nMINNESOTA,9\n")
    return data.fetch("x/file.csv", registry=registry, cache=tmp / "cache", mirror=tmp / "mirror", allow_download=False)


def _tampered_cache(tmp: Path, mp: Any, earlier: bool = False) -> Any:
    mp.delenv(data.MIRROR_ENV, raising=False)
    registry = {"x/f.csv": _entry("x/f.csv", b"a,b\n1,2\n")}
    (tmp / "cache" / "x").mkdir(parents=True)
    if earlier:  # a previous run already set the bad copy aside
        (tmp / "cache" / "x" / "f.csv.rejected").write_bytes(b"a,b\n1,3\n")
    else:
        (tmp / "cache" / "x" / "f.csv").write_bytes(b"a,b\n1,3\n")
    with pytest.warns(data.RawDataWarning) if not earlier else _nothing():
        return data.fetch("x/f.csv", registry=registry, cache=tmp / "cache", timeout=2)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _missing_offline(tmp: Path, mp: Any) -> Any:
    mp.delenv(data.MIRROR_ENV, raising=False)
    registry = {"a/b.csv": _entry("a/b.csv", b"x", url="http://127.0.0.1:9/a/b.csv")}
    return data.fetch("a/b.csv", registry=registry, cache=tmp, timeout=2)


def _registry_file(tmp: Path, text: str | None) -> Any:
    path = tmp / "registry.csv"
    if text is not None:
        path.write_text(text)
    return data.load_registry(path)


def _missing_corrections(tmp: Path, mp: Any) -> Any:
    mp.setattr(ice, "SUPPORT_CORRECTIONS", tmp / "support_types.csv")
    ice._corrections.cache_clear()
    try:
        return ice.canonical_support_type("Task Force Modle", "test, row 2")
    finally:
        ice._corrections.cache_clear()


def _load(tmp: Path, row: list) -> Any:
    """A downloaded sheet with a good row and ``row``, loaded (its own parsed-sheet cache)."""
    os.environ[ice.CACHE_ENV] = "off"
    try:
        rows = [HEADER + ["MOA", "ADDENDUM"], GOOD_ROW + ["link", None], row + ["link", None]]
        return ice.load_sheet(_workbook(tmp, "participatingAgencies01152026am.xlsx", rows))
    finally:
        os.environ.pop(ice.CACHE_ENV, None)


def _add(tmp: Path, file: Path) -> Any:
    return data.add(file, registry_path=_registry_copy(tmp), cache=tmp / "cache")


def _add_registered_copy(tmp: Path, name: str) -> Any:
    source = data.fetch(REGISTERED_SHEET)
    (tmp / "dl").mkdir()
    shutil.copyfile(source, tmp / "dl" / name)
    return _add(tmp, tmp / "dl" / name)


@dataclass(frozen=True)
class Case:
    id: str
    item: str
    action: Callable[[Path, Any], Any]
    expected: type
    words: tuple[str, ...]


ERRORS = [
    # raw files
    Case("tampered-mirror-copy", "pass", _tampered_mirror, data.HashMismatchError,
         ("sha256 mismatch", "x/file.csv", "not used", "download URL")),
    Case("tampered-cached-copy-no-replacement", "11", _tampered_cache, data.CachedCopyRejectedError,
         ("sha256 check failed", "x/f.csv", "f.csv.rejected", "RAW_DATA_MIRROR", "make data")),
    Case("tampered-cached-copy-set-aside-earlier", "11", lambda t, m: _tampered_cache(t, m, earlier=True),
         data.CachedCopyRejectedError, ("sha256 check failed", "x/f.csv", "f.csv.rejected", "make data")),
    Case("missing-raw-file-offline", "pass", _missing_offline, data.RawFileUnavailableError,
         ("a/b.csv", "http://127.0.0.1:9/a/b.csv", "RAW_DATA_MIRROR", "../shared/data/raw")),
    Case("unknown-raw-file-name", "pass", lambda t, m: data.fetch("ice-287g/participatingAgencies10312025.xlsx"),
         data.UnknownRawFileError, ("not in the raw-data registry", "participatingAgencies10312025pm.xlsx")),
    Case("registry-missing-columns", "pass", lambda t, m: _registry_file(t, "path,sha256\nx,abc\n"), data.RegistryError,
         ("missing columns", "bytes")),
    Case("registry-file-missing", "pass", lambda t, m: _registry_file(t, None), data.RegistryError,
         ("registry.csv", "does not exist")),
    Case("missing-corrections-file", "pass", _missing_corrections, FileNotFoundError, ("support_types.csv",)),
    # parameters
    Case("state-misspelled", "pass", lambda t, m: params.check_state("MINESOTA"), params.ParameterError,
         ("Parameter state='MINESOTA'", "Did you mean MINNESOTA", "This is a parameter")),
    Case("state-postal-code", "pass", lambda t, m: params.check_state("MN"), params.ParameterError,
         ("Parameter state='MN'", "postal code", "write MINNESOTA")),
    Case("groups-unknown-state", "17", lambda t, m: params.check_groups({"Upper Midwest": ["WISCONSON", "IOWA"]}),
         params.ParameterError, ("Parameter groups['Upper Midwest']='WISCONSON'", "Did you mean WISCONSIN",
                                 "This is a parameter", "state_names.csv corrects misspellings inside ICE's sheets, not parameters")),
    Case("groups-state-twice", "17", lambda t, m: params.check_groups({"g": ["IOWA", "Iowa"]}), params.ParameterError,
         ("groups['g']", "names IOWA twice", "list each state once")),
    Case("groups-not-a-list", "17", lambda t, m: params.check_groups({"g": "IOWA"}), params.ParameterError,
         ("groups['g']", "non-empty list of states")),
    Case("groups-not-a-mapping", "17", lambda t, m: params.check_groups(["IOWA"]), params.ParameterError,
         ("Parameter groups", "map a label to a list of states")),
    Case("fb_years-repeated", "16", lambda t, m: params.check_years([2023, 2023]), params.ParameterError,
         ("Parameter fb_years=[2023, 2023]", "2023 more than once", "give each year once")),
    Case("fb_years-not-a-list", "16", lambda t, m: params.check_years(2023), params.ParameterError,
         ("Parameter fb_years=2023", "list of years")),
    Case("as_of-not-a-date", "14", lambda t, m: params.check_date("not a date"), params.ParameterError,
         ("Parameter as_of='not a date'", "not an ISO date", "YYYY-MM-DD")),
    Case("as_of-impossible-date", "14", lambda t, m: params.check_date("2025-02-30"), params.ParameterError,
         ("Parameter as_of='2025-02-30'", "not a calendar date", "YYYY-MM-DD")),
    Case("baseline_as_of-bad", "14", lambda t, m: params.check_all({"baseline_as_of": "12/01/2025"}), params.ParameterError,
         ("Parameter baseline_as_of='12/01/2025'", "YYYY-MM-DD")),
    Case("start-after-end", "pass", lambda t, m: params.check_all({"start": "2025-12-01", "end": "2025-01-01"}),
         params.ParameterError, ("start='2025-12-01'", "end='2025-01-01'", "start is after end")),
    Case("sheet-file-does-not-exist", "15", lambda t, m: params.check_sheet(str(t / "participatingAgencies01152026am.xlsx")),
         params.ParameterError, ("Parameter sheet=", "participatingAgencies01152026am.xlsx", "no such file")),
    Case("counties-not-a-list", "pass", lambda t, m: params.check_counties("Cass"), params.ParameterError,
         ("Parameter counties='Cass'", "list of county names")),
    Case("county-unknown", "pass", lambda t, m: detention.counties_for("MINNESOTA", ["Nowhere"]), ValueError,
         ("'Nowhere'", "not found in MINNESOTA")),
    Case("measure-unknown", "pass", lambda t, m: context.state_table(pd.DataFrame(), measure="rows"), ValueError,
         ("measure must be one of", "'rows'")),
    Case("unknown-parameter-name", "pass",
         lambda t, m: notebooks.run_with_parameters(paths.NOTEBOOKS / "01_state_counties.ipynb", t / "x.ipynb", {"stat": "IOWA"}),
         ValueError, ("01_state_counties.ipynb has no parameter(s) ['stat']", "it takes")),
    Case("run-over-committed-notebook", "pass",
         lambda t, m: notebooks.run_with_parameters(paths.NOTEBOOKS / "01_state_counties.ipynb",
                                                    paths.NOTEBOOKS / "01_state_counties.ipynb", {"state": "IOWA"}),
         ValueError, ("never over the committed notebooks",)),
    Case("parameter-file-not-a-mapping", "10", lambda t, m: (t / "p.yaml").write_text("- IOWA\n") and params.load_yaml(t / "p.yaml"),
         params.ParameterError, ("p.yaml", "mapping of parameter names")),
    # counties (item 3, item 6, issue 12 part 1): a county that matches nothing is never dropped silently
    Case("county-agency-county-unmatched", "3",
         lambda t, m: _load(t, ["MINNESOTA", "Itasca County Sheriff's Office", "County", "Itaska County",
                                "Task Force Model", date(2025, 2, 27)]),
         ice.SheetFormatError, ("participatingAgencies01152026am.xlsx, row 3", "'Itaska County' matches no county of Minnesota",
                                "data/corrections/county_names.csv")),
    Case("municipal-county-misspelt", "12.1",
         lambda t, m: _load(t, ["TEXAS", "Seguin Police Department", "Municipality", "Guadalupe Cnty",
                                "Task Force Model", date(2025, 6, 1)]),
         ice.SheetFormatError, ("row 3", "'Guadalupe Cnty' matches no county of Texas", "TYPE Municipality",
                                "data/corrections/county_names.csv")),
    Case("state-without-census-counties", "6", lambda t, m: geo.require_counties("GUAM"), geo.NoCountiesError,
         ("Parameter state='GUAM'", "Guam has no counties in the Census county list", "Choose a state")),
    Case("county-table-of-guam", "6", lambda t, m: counties.county_table(pd.DataFrame(columns=["state"]), "GUAM"),
         geo.NoCountiesError, ("Guam has no counties",)),
    # pinning a downloaded sheet (issue 10 part 4)
    Case("add-file-does-not-exist", "10.4", lambda t, m: _add(t, t / "participatingAgencies01152026am.xlsx"), data.AddError,
         ("participatingAgencies01152026am.xlsx", "no such file")),
    Case("add-name-cannot-be-dated", "10.4",
         lambda t, m: _add(t, _workbook(t, "agencies-today.xlsx", [HEADER, GOOD_ROW])), data.AddError,
         ("agencies-today.xlsx", "cannot date", "rename")),
    Case("add-impossible-date-in-name", "10.4",
         lambda t, m: _add(t, _workbook(t, "participatingAgencies13452025am.xlsx", [HEADER, GOOD_ROW])), data.AddError,
         ("participatingAgencies13452025am.xlsx", "cannot date")),
    Case("add-not-an-ice-sheet", "10.4",
         lambda t, m: _add(t, _workbook(t, "participatingAgencies01152026am.xlsx", [["NAME", "VALUE"], ["a", 1]])),
         data.AddError, ("participatingAgencies01152026am.xlsx", "does not parse as an ICE participating sheet", "was not added")),
    Case("add-html-saved-as-workbook", "10.4",
         lambda t, m: (t / "participatingAgencies01152026am.xlsx").write_text("<html>Access Denied</html>")
         and _add(t, t / "participatingAgencies01152026am.xlsx"),
         data.AddError, ("participatingAgencies01152026am.xlsx", "does not parse")),
    Case("add-empty-sheet", "10.4", lambda t, m: _add(t, _workbook(t, "participatingAgencies01152026am.xlsx", [HEADER])),
         data.AddError, ("participatingAgencies01152026am.xlsx",)),
    Case("add-same-bytes-as-registered", "10.4", lambda t, m: _add_registered_copy(t, "participatingAgencies01152026am.xlsx"),
         data.AddError, ("same bytes", "ice-287g/", "participatingAgencies10312025pm.xlsx", "nothing was added")),
    Case("add-same-path-as-registered", "10.4", lambda t, m: _add_registered_copy(t, "participatingAgencies10312025pm.xlsx"),
         data.AddError, ("ice-287g/participatingAgencies10312025pm.xlsx", "already in the registry", "nothing was added")),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c.id for c in ERRORS])
def test_bad_input_raises_a_clear_error(case, tmp_path, monkeypatch):
    with pytest.raises(case.expected) as err:
        case.action(tmp_path, monkeypatch)
    message = str(err.value)
    missing = [w for w in case.words if w not in message]
    assert not missing, f"{case.id}: message lacks {missing}: {message}"


def test_a_refused_add_writes_nothing(tmp_path):
    registry = _registry_copy(tmp_path)
    before = registry.read_bytes()
    with pytest.raises(data.AddError):
        data.add(_workbook(tmp_path, "participatingAgencies01152026am.xlsx", [["NAME"], ["a"]]), registry_path=registry,
                 cache=tmp_path / "cache")
    assert registry.read_bytes() == before and not (tmp_path / "cache").exists()


# ---------------------------------------------------------------- warnings: the run goes on, and says so


def _missing_mirror(tmp: Path, mp: Any) -> Any:
    data._WARNED_MIRRORS.discard(str(tmp / "no-such-mirror"))
    mp.setenv(data.MIRROR_ENV, str(tmp / "no-such-mirror"))
    return data.fetch(REGISTERED_SHEET)


def _tampered_cache_refetched(tmp: Path, mp: Any) -> Any:
    registry = {"f.txt": _entry("f.txt", b"abc\n")}
    (tmp / "mirror").mkdir()
    (tmp / "mirror" / "f.txt").write_bytes(b"abc\n")
    (tmp / "cache").mkdir()
    (tmp / "cache" / "f.txt").write_bytes(b"abd\n")
    path = data.fetch("f.txt", registry=registry, cache=tmp / "cache", mirror=tmp / "mirror", allow_download=False)
    assert path.read_bytes() == b"abc\n" and (tmp / "cache" / "f.txt.rejected").read_bytes() == b"abd\n"
    return path


def _new_sheet(target: Path) -> Path:
    """ICE's article-date sheet saved again as a new workbook: the same rows, bytes that no registered file has
    (a byte-for-byte copy of a registered sheet is that sheet, verified by its sha256, and is not warned about)."""
    book = openpyxl.load_workbook(data.fetch(REGISTERED_SHEET))
    book.save(target)
    return target


def _unregistered_sheet(tmp: Path, mp: Any) -> Any:
    return params.check_sheet(str(_new_sheet(tmp / "participatingAgencies01152026am.xlsx")))


def _registered_bytes_under_a_new_name(tmp: Path, mp: Any) -> Any:
    copy = tmp / "participatingAgencies01152026am.xlsx"
    shutil.copyfile(data.fetch(REGISTERED_SHEET), copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checked = params.check_sheet(str(copy))
        choice = ice.choose_sheet(str(copy), "2025-11-01")
    return checked == str(copy) and choice.registry_path == REGISTERED_SHEET


def _unregistered_sheet_warned_once(tmp: Path, mp: Any) -> Any:
    """The parameter check and the sheet lookup both meet the file; the warning (and the terminal) says it once."""
    sheet = str(_new_sheet(tmp / "participatingAgencies01152026am.xlsx"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        params.check_sheet(sheet)
        ice.choose_sheet(sheet, "2025-11-01")
    return [w.category.__name__ for w in caught if "not in the raw-data registry" in str(w.message)]


WARNINGS = [
    Case("mirror-folder-missing", "8", _missing_mirror, data.RawDataWarning,
         ("RAW_DATA_MIRROR=", "no-such-mirror", "does not exist", "../shared/data/raw")),
    Case("tampered-cached-copy-refetched", "pass", _tampered_cache_refetched, data.RawDataWarning,
         ("sha256 check failed", "f.txt", "f.txt.rejected", "fetching a verified copy")),
    Case("sheet-not-in-registry", "12.4", _unregistered_sheet, data.UnregisteredFileWarning,
         ("participatingAgencies01152026am.xlsx", "not in the raw-data registry", "not verified",
          "python -m helpers.data add", "make add-sheet FILE=")),
]


@pytest.mark.parametrize("case", WARNINGS, ids=[c.id for c in WARNINGS])
def test_bad_input_warns(case, tmp_path, monkeypatch):
    with pytest.warns(case.expected) as record:
        case.action(tmp_path, monkeypatch)
    messages = [str(w.message) for w in record if issubclass(w.category, case.expected)]
    assert any(all(word in m for word in case.words) for m in messages), f"{case.id}: {messages}"


# ---------------------------------------------------------------- documented handling


def _written(tmp: Path, df: pd.DataFrame) -> str:
    return tables.write_csv(df, tmp / "t.csv").read_text()


HANDLED = [
    # (id, item, what is done, what must come out)
    ("formula-like-agency-names", "7",
     lambda t: _written(t, pd.DataFrame({"agency": ["=HYPERLINK(A1)", "+A1", "-cmd", "@SUM(A1)", "Cass County"]})),
     "agency\n'=HYPERLINK(A1)\n'+A1\n'-cmd\n'@SUM(A1)\nCass County\n"),
    ("negative-numbers-are-not-formulas", "7",
     lambda t: _written(t, pd.DataFrame({"change": [-3, 2], "as_text": ["-3", "-2+3"]})),
     "change,as_text\n-3,-3\n2,'-2+3\n"),
    ("neutralised-cells-read-back", "7",
     lambda t: tables.read_csv(tables.write_csv(pd.DataFrame({"a": ["=x", "'y"]}), t / "t.csv"))["a"].tolist(),
     ["=x", "'y"]),
    ("iso-date-after-dash-p", "10", lambda t: params.parse_value("2025-12-01"), "2025-12-01"),
    ("iso-date-in-parameter-file", "10",
     lambda t: (t / "p.yaml").write_text("as_of: 2025-12-01\n") and params.load_yaml(t / "p.yaml"), {"as_of": "2025-12-01"}),
    ("date-object-as-parameter", "10", lambda t: params.check_date(date(2025, 12, 1)), date(2025, 12, 1)),
    ("municipal-county-typo-corrected", "12.1",
     lambda t: _load(t, ["TEXAS", "New Berlin Marshal's Office", "Municipality", "Guadalupe Conty", "Task Force Model",
                         date(2025, 6, 1)])[["county_name", "county_match", "county_agency"]].iloc[-1].tolist(),
     ["Guadalupe County", "correction", False]),
    ("state-agency-county-not-used", "12.1",
     lambda t: _load(t, ["MINNESOTA", "Minnesota State Patrol", "State Agency", "Ramsey County", "Task Force Model",
                         date(2025, 6, 1)])[["county_printed", "county_match"]].iloc[-1].tolist(),
     ["Ramsey County", "state agency"]),
    ("registered-bytes-under-a-new-name", "12.4", lambda t: _registered_bytes_under_a_new_name(t, None), True),
    ("unregistered-sheet-warned-once", "12.4", lambda t: _unregistered_sheet_warned_once(t, None),
     ["UnregisteredFileWarning"]),
]


@pytest.mark.parametrize(("case_id", "item", "action", "expected"), HANDLED, ids=[h[0] for h in HANDLED])
def test_bad_input_documented_handling(case_id, item, action, expected, tmp_path):
    assert action(tmp_path) == expected


# ---------------------------------------------------------------- the documented commands, as a user runs them


def _snapshot() -> dict[str, str]:
    """Hashes of the committed outputs a stray run could overwrite."""
    files = [*paths.NOTEBOOKS.glob("*.ipynb"), *(paths.ROOT / "figures").glob("*.png"), *(paths.DATA / "processed").glob("*.csv")]
    return {str(f.relative_to(paths.ROOT)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def _env(mirror: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (paths.OUTPUT_ENV, paths.REPRODUCE_ENV)}
    env[data.MIRROR_ENV] = str(Path(mirror).resolve())
    return env


def _run(args: list[str], mirror: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=paths.ROOT, env=_env(mirror), capture_output=True, text=True, timeout=timeout)


def _wrapper(*args: str) -> list[str]:
    return [sys.executable, "-m", "helpers.notebooks", *args]


def _printed(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])


def _expect_routed(nb_path: Path, stem: str, values: dict[str, Any]) -> None:
    folder = paths.OUTPUT / f"{stem}-{paths.params_hash(values)}"
    assert f"Figures and tables go to output/{folder.name}/" in _printed(nb_path)
    assert list((folder / "figures").glob("*.png")), f"figures go to {folder}"


def run_plain_papermill(tmp: Path, mirror: Path) -> None:
    """notebooks/README.md's plain papermill, without ICE287G_OUTPUT (item 9)."""
    out = tmp / "04.ipynb"
    done = _run([str(Path(sys.executable).parent / "papermill"), "-k", "python3", "notebooks/04_detention_contracts.ipynb",
                 str(out), "-p", "state", "IOWA"], mirror)
    assert done.returncode == 0, done.stderr[-2000:]
    values = {**notebooks.parameter_defaults(paths.NOTEBOOKS / "04_detention_contracts.ipynb"), "state": "IOWA"}
    _expect_routed(out, "04_detention_contracts", values)


def run_edited_parameters_cell(tmp: Path, mirror: Path) -> None:
    """A student edits the parameters cell (as in JupyterLab) and runs the notebook with nbconvert (item 9b)."""
    nb = json.loads((paths.NOTEBOOKS / "03_partisanship_immigration.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = "".join(cell["source"]).replace('measure = "agreements"', 'measure = "agencies"')
    edited = tmp / "03_partisanship_immigration.ipynb"
    edited.write_text(json.dumps(nb))
    jupyter = str(Path(sys.executable).parent / "jupyter")
    done = _run([jupyter, "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=python3",
                 "--output", str(tmp / "executed.ipynb"), str(edited)], mirror)
    assert done.returncode == 0, done.stderr[-2000:]
    values = {**notebooks.parameter_defaults(paths.NOTEBOOKS / "03_partisanship_immigration.ipynb"), "measure": "agencies"}
    _expect_routed(tmp / "executed.ipynb", "03_partisanship_immigration", values)
    assert "measure='agencies' (default 'agreements')" in _printed(tmp / "executed.ipynb")


def run_downloaded_sheet_with_baseline_date(tmp: Path, mirror: Path) -> None:
    """The README's downloaded-sheet command with -p baseline_as_of 2025-12-01 (items 10 and 12.4)."""
    sheet = _new_sheet(tmp / "participatingAgencies01152026am.xlsx")
    out = tmp / "today" / "02.ipynb"
    done = _run(_wrapper("run", "notebooks/02_regional_comparison.ipynb", str(out), "-p", "sheet", str(sheet),
                         "-p", "baseline_as_of", "2025-12-01"), mirror)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(out.read_text())["metadata"]["papermill"]["parameters"]["baseline_as_of"] == "2025-12-01"
    assert list((out.parent / "figures").glob("*.png")), "figures go beside the executed copy"
    warning = [line for line in done.stderr.splitlines() if "not in the raw-data registry" in line]
    assert warning and "python -m helpers.data add" in warning[0], f"the terminal names the pin command: {done.stderr}"
    assert len(warning) == 1, f"the terminal says it once (issue 12 part 4): {warning}"


def run_adapt_with_a_date(tmp: Path, mirror: Path) -> None:
    """`make adapt` with `as_of:` written as a YAML date (item 10)."""
    params_file = tmp / "test-bad-inputs-dates.yaml"
    params_file.write_text("as_of: 2025-12-01\nmeasure: agencies\n")
    out_dir = paths.OUTPUT / params_file.stem
    try:
        done = _run(_wrapper("adapt", str(params_file)), mirror)
        assert done.returncode == 0, done.stderr[-2000:]
        executed = out_dir / "03_partisanship_immigration.ipynb"
        assert json.loads(executed.read_text())["metadata"]["papermill"]["parameters"] == {"as_of": "2025-12-01", "measure": "agencies"}
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _first_and_last(stderr: str, *words: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and all(w in lines[1] for w in words), stderr
    assert lines[-1].startswith("error: ") and all(w in lines[-1] for w in words), stderr
    for noise in ("Traceback", "PapermillExecutionError", "TCP", "KeyboardInterrupt"):
        assert noise not in stderr, f"{noise!r} in the terminal: {stderr}"


def run_tampered_cache_in_a_notebook(tmp: Path, mirror: Path) -> None:
    """A notebook whose raw file was tampered with in the cache, no mirror, offline (item 11; error output)."""
    nb = tmp / "uses_raw_file.ipynb"
    good = b"a,b\n1,2\n"
    make = nbformat.v4
    book = make.new_notebook()
    book.metadata["kernelspec"] = dict(notebooks.KERNELSPEC)
    book.cells = [
        make.new_markdown_cell("# a notebook that reads one raw file"),
        make.new_code_cell(f"cache = {str(tmp / 'cache')!r}", metadata={"tags": ["parameters"]}),
        make.new_code_cell(
            "import os\nfrom pathlib import Path\nfrom helpers import data\n"
            f"entry = data.Entry('x/f.csv', {hashlib.sha256(good).hexdigest()!r}, {len(good)}, 'http://127.0.0.1:9/f.csv', "
            "'http://127.0.0.1:9/f.csv', 't', '2025-01-01', 't', 't')\n"
            "os.environ.pop('RAW_DATA_MIRROR', None)\n"
            "data.fetch('x/f.csv', registry={'x/f.csv': entry}, cache=Path(cache), timeout=2)"
        ),
    ]
    nbformat.write(book, nb)
    (tmp / "cache" / "x").mkdir(parents=True)
    (tmp / "cache" / "x" / "f.csv").write_bytes(b"a,b\n1,3\n")
    done = _run(_wrapper("run", str(nb), str(tmp / "out" / nb.name)), mirror)
    assert done.returncode == 1
    _first_and_last(done.stderr, "CachedCopyRejectedError", "sha256 check failed for raw file 'x/f.csv'", "make data")
    assert "Traceback" in (paths.BUILD / "logs" / "uses_raw_file.log").read_text(), "the full traceback is kept in build/logs/"
    assert any(o["output_type"] == "error" for c in json.loads((tmp / "out" / nb.name).read_text())["cells"]
               for o in c.get("outputs", [])), "and in the executed notebook"


def run_repeated_year(tmp: Path, mirror: Path) -> None:
    """fb_years with a repeated year, on notebook 03 (item 16)."""
    done = _run(_wrapper("run", "notebooks/03_partisanship_immigration.ipynb", str(tmp / "03.ipynb"),
                         "-p", "fb_years", "[2023, 2023]"), mirror)
    assert done.returncode == 1
    _first_and_last(done.stderr, "ParameterError", "Parameter fb_years=[2023, 2023]", "more than once")


def run_unknown_state_in_groups(tmp: Path, mirror: Path) -> None:
    """An unknown state in groups, on notebook 05 (item 17)."""
    done = _run(_wrapper("run", "notebooks/05_timeline.ipynb", str(tmp / "05.ipynb"),
                         "-p", "groups", '{"Upper Midwest": [WISCONSON, IOWA]}'), mirror)
    assert done.returncode == 1
    _first_and_last(done.stderr, "ParameterError", "groups['Upper Midwest']='WISCONSON'", "This is a parameter")


def run_state_without_counties(tmp: Path, mirror: Path) -> None:
    """Notebook 01 for Guam (item 6): a clear message naming the parameter, not "0 of Guam's 0 counties"."""
    done = _run(_wrapper("run", "notebooks/01_state_counties.ipynb", str(tmp / "01.ipynb"), "-p", "state", "GUAM"), mirror)
    assert done.returncode == 1
    _first_and_last(done.stderr, "NoCountiesError", "Parameter state='GUAM'", "Guam has no counties in the Census county list")
    assert "0 of Guam" not in _printed(tmp / "01.ipynb")


RUNS = [
    ("plain-papermill-non-default", "9", run_plain_papermill),
    ("state-without-counties-in-notebook-01", "6", run_state_without_counties),
    ("jupyter-edited-parameters-cell", "9b", run_edited_parameters_cell),
    ("dash-p-iso-date-and-downloaded-sheet", "10, 12.4", run_downloaded_sheet_with_baseline_date),
    ("adapt-yaml-date", "10", run_adapt_with_a_date),
    ("tampered-cache-used-by-a-notebook", "11", run_tampered_cache_in_a_notebook),
    ("repeated-year-in-a-notebook", "16", run_repeated_year),
    ("unknown-state-in-groups-in-a-notebook", "17", run_unknown_state_in_groups),
]


@pytest.mark.parametrize(("case_id", "item", "run"), RUNS, ids=[r[0] for r in RUNS])
def test_documented_command_with_bad_input(case_id, item, run, tmp_path, mirror):
    before = _snapshot()
    run(tmp_path, mirror)
    assert _snapshot() == before, f"{case_id} changed committed notebooks, figures or tables"


# ---------------------------------------------------------------- interrupted runs


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(k) for t in tasks.iterdir() for k in (t / "children").read_text().split()] if tasks.is_dir() else []


SIGNALS = [("SIGINT", 130), ("SIGTERM", 130), ("SIGKILL", -9)]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to find the kernel process")
@pytest.mark.parametrize(("name", "code"), SIGNALS, ids=[s[0] for s in SIGNALS])
def test_interrupted_reproduce_leaves_the_notebook_as_it_was(name, code, tmp_path):
    """`make reproduce` killed mid-notebook: the committed notebook is unchanged, nothing half-written is left."""
    root = tmp_path / "project"
    marker = tmp_path / "started"
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = dict(notebooks.KERNELSPEC)
    book.cells = [
        nbformat.v4.new_markdown_cell("# a slow notebook"),
        nbformat.v4.new_code_cell(f"marker = {str(marker)!r}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import pathlib, time\npathlib.Path(marker).write_text('running')\ntime.sleep(300)"),
    ]
    target = root / "notebooks" / "01_slow.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(book, target)
    committed = target.read_bytes()
    env = {k: v for k, v in os.environ.items() if k != paths.OUTPUT_ENV}
    env[paths.ROOT_ENV] = str(root)
    run = subprocess.Popen(_wrapper("run-all"), cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)
    kernels: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.2)
        kernels = _children(run.pid)
        run.send_signal(getattr(signal, name))
        _, err = run.communicate(timeout=120)
        assert run.returncode == code, err
        if name != "SIGKILL":
            assert "interrupted: the notebook being run was left as it was" in err
            time.sleep(1)
            assert not [k for k in kernels if Path(f"/proc/{k}").is_dir() and "ipykernel" in Path(f"/proc/{k}/cmdline").read_text()], \
                "the kernel is shut down"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for k in kernels:  # a SIGKILLed runner cannot stop its kernel; this test started it, so it stops it
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert target.read_bytes() == committed, "the committed notebook is unchanged"
    assert sorted(p.name for p in target.parent.iterdir()) == ["01_slow.ipynb"], "nothing else in notebooks/"
    leftovers = list((root / "build" / "running").glob("*"))
    assert not leftovers if name != "SIGKILL" else all(p.name.endswith(".partial.ipynb") for p in leftovers)
