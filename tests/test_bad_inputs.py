"""Bad input never becomes a number (issue 13): every kind of bad input, in tables.

Each row names the input, and asserts the error type and the key words of its
message (what is wrong, for which input, what to do), the warning, or the
documented handling.  The ``item`` column is the case's number in issue 13
(``pass`` for cases that were already handled).

Tables:

* ``ERRORS``: in-process calls that must raise;
* ``WARNINGS``: calls that go on but must warn;
* ``HANDLED``: inputs with a documented handling (formula-like cells, dates);
* ``RUNS``: the documented commands, run as a user runs them (subprocesses);
* ``SIGNALS``: interrupted runs;
* ``SHEETS``: edited ICE workbooks and sheet choices (items 1, 2, 4, 5, 12-15, 18, 19).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
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
    sheets,
    tables,
)
from workbooks import GOOD_ROW, HEADER, NEW_NAME, PENDING_HEADER, registry_entry, write_rows, write_worksheets

REGISTERED_SHEET = "ice-287g/participatingAgencies10312025pm.xlsx"


# ---------------------------------------------------------------- builders


def _registry_copy(tmp: Path) -> Path:
    copy = tmp / "registry.csv"
    copy.write_bytes(paths.REGISTRY.read_bytes())
    return copy


def _tampered_mirror(tmp: Path, mp: Any) -> Any:
    registry = {"x/file.csv": registry_entry("x/file.csv", b"state,count\nMINNESOTA,8\n")}
    (tmp / "mirror" / "x").mkdir(parents=True)
    (tmp / "mirror" / "x" / "file.csv").write_bytes(b"state,count\nMINNESOTA,9\n")
    return data.fetch("x/file.csv", registry=registry, cache=tmp / "cache", mirror=tmp / "mirror", allow_download=False)


def _tampered_cache(tmp: Path, mp: Any, earlier: bool = False) -> Any:
    mp.delenv(data.MIRROR_ENV, raising=False)
    registry = {"x/f.csv": registry_entry("x/f.csv", b"a,b\n1,2\n")}
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
    registry = {"a/b.csv": registry_entry("a/b.csv", b"x", url="http://127.0.0.1:9/a/b.csv")}
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
        return ice.load_sheet(
            write_rows(tmp, [HEADER, GOOD_ROW, row + ["link", None]], "participatingAgencies01152026am.xlsx")
        )
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
    Case(
        "tampered-mirror-copy",
        "pass",
        _tampered_mirror,
        data.HashMismatchError,
        ("sha256 mismatch", "x/file.csv", "not used", "download URL"),
    ),
    Case(
        "tampered-cached-copy-no-replacement",
        "11",
        _tampered_cache,
        data.CachedCopyRejectedError,
        ("sha256 check failed", "x/f.csv", "f.csv.rejected", "RAW_DATA_MIRROR", "make data"),
    ),
    Case(
        "tampered-cached-copy-set-aside-earlier",
        "11",
        lambda t, m: _tampered_cache(t, m, earlier=True),
        data.CachedCopyRejectedError,
        ("sha256 check failed", "x/f.csv", "f.csv.rejected", "make data"),
    ),
    Case(
        "missing-raw-file-offline",
        "pass",
        _missing_offline,
        data.RawFileUnavailableError,
        ("a/b.csv", "http://127.0.0.1:9/a/b.csv", "RAW_DATA_MIRROR", "../shared/data/raw"),
    ),
    Case(
        "unknown-raw-file-name",
        "pass",
        lambda t, m: data.fetch("ice-287g/participatingAgencies10312025.xlsx"),
        data.UnknownRawFileError,
        ("not in the raw-data registry", "participatingAgencies10312025pm.xlsx"),
    ),
    Case(
        "registry-missing-columns",
        "pass",
        lambda t, m: _registry_file(t, "path,sha256\nx,abc\n"),
        data.RegistryError,
        ("missing columns", "bytes"),
    ),
    Case(
        "registry-file-missing",
        "pass",
        lambda t, m: _registry_file(t, None),
        data.RegistryError,
        ("registry.csv", "does not exist"),
    ),
    Case("missing-corrections-file", "pass", _missing_corrections, FileNotFoundError, ("support_types.csv",)),
    # parameters
    Case(
        "state-misspelled",
        "pass",
        lambda t, m: params.check_state("MINESOTA"),
        params.ParameterError,
        ("Parameter state='MINESOTA'", "Did you mean MINNESOTA", "This is a parameter"),
    ),
    Case(
        "state-postal-code",
        "pass",
        lambda t, m: params.check_state("MN"),
        params.ParameterError,
        ("Parameter state='MN'", "postal code", "write MINNESOTA"),
    ),
    Case(
        "groups-unknown-state",
        "17",
        lambda t, m: params.check_groups({"Upper Midwest": ["WISCONSON", "IOWA"]}),
        params.ParameterError,
        (
            "Parameter groups['Upper Midwest']='WISCONSON'",
            "Did you mean WISCONSIN",
            "This is a parameter",
            "state_names.csv corrects misspellings inside ICE's sheets, not parameters",
        ),
    ),
    Case(
        "groups-state-twice",
        "17",
        lambda t, m: params.check_groups({"g": ["IOWA", "Iowa"]}),
        params.ParameterError,
        ("groups['g']", "names IOWA twice", "list each state once"),
    ),
    Case(
        "groups-not-a-list",
        "17",
        lambda t, m: params.check_groups({"g": "IOWA"}),
        params.ParameterError,
        ("groups['g']", "non-empty list of states"),
    ),
    Case(
        "groups-not-a-mapping",
        "17",
        lambda t, m: params.check_groups(["IOWA"]),
        params.ParameterError,
        ("Parameter groups", "map a label to a list of states"),
    ),
    Case(
        "fb_years-repeated",
        "16",
        lambda t, m: params.check_years([2023, 2023]),
        params.ParameterError,
        ("Parameter fb_years=[2023, 2023]", "2023 more than once", "give each year once"),
    ),
    Case(
        "fb_years-not-a-list",
        "16",
        lambda t, m: params.check_years(2023),
        params.ParameterError,
        ("Parameter fb_years=2023", "list of years"),
    ),
    Case(
        "as_of-not-a-date",
        "14",
        lambda t, m: params.check_date("not a date"),
        params.ParameterError,
        ("Parameter as_of='not a date'", "not an ISO date", "YYYY-MM-DD"),
    ),
    Case(
        "as_of-impossible-date",
        "14",
        lambda t, m: params.check_date("2025-02-30"),
        params.ParameterError,
        ("Parameter as_of='2025-02-30'", "not a calendar date", "YYYY-MM-DD"),
    ),
    Case(
        "baseline_as_of-bad",
        "14",
        lambda t, m: params.check_all({"baseline_as_of": "12/01/2025"}),
        params.ParameterError,
        ("Parameter baseline_as_of='12/01/2025'", "YYYY-MM-DD"),
    ),
    Case(
        "start-after-end",
        "pass",
        lambda t, m: params.check_all({"start": "2025-12-01", "end": "2025-01-01"}),
        params.ParameterError,
        ("start='2025-12-01'", "end='2025-01-01'", "start is after end"),
    ),
    Case(
        "sheet-file-does-not-exist",
        "15",
        lambda t, m: params.check_sheet(str(t / "participatingAgencies01152026am.xlsx")),
        params.ParameterError,
        ("Parameter sheet=", "participatingAgencies01152026am.xlsx", "no such file"),
    ),
    Case(
        "counties-not-a-list",
        "pass",
        lambda t, m: params.check_counties("Cass"),
        params.ParameterError,
        ("Parameter counties='Cass'", "list of county names"),
    ),
    Case(
        "county-unknown",
        "pass",
        lambda t, m: detention.counties_for("MINNESOTA", ["Nowhere"]),
        ValueError,
        ("'Nowhere'", "not found in MINNESOTA"),
    ),
    Case(
        "measure-unknown",
        "pass",
        lambda t, m: context.state_table(pd.DataFrame(), measure="rows"),
        ValueError,
        ("measure must be one of", "'rows'"),
    ),
    Case(
        "unknown-parameter-name",
        "pass",
        lambda t, m: notebooks.run_with_parameters(
            paths.NOTEBOOKS / "01_state_counties.ipynb", t / "x.ipynb", {"stat": "IOWA"}
        ),
        ValueError,
        ("01_state_counties.ipynb has no parameter(s) ['stat']", "it takes"),
    ),
    Case(
        "run-over-committed-notebook",
        "pass",
        lambda t, m: notebooks.run_with_parameters(
            paths.NOTEBOOKS / "01_state_counties.ipynb", paths.NOTEBOOKS / "01_state_counties.ipynb", {"state": "IOWA"}
        ),
        ValueError,
        ("never over the committed notebooks",),
    ),
    Case(
        "parameter-file-not-a-mapping",
        "10",
        lambda t, m: (t / "p.yaml").write_text("- IOWA\n") and params.load_yaml(t / "p.yaml"),
        params.ParameterError,
        ("p.yaml", "mapping of parameter names"),
    ),
    # counties (item 3, item 6, issue 12 part 1): a county that matches nothing is never dropped silently
    Case(
        "county-agency-county-unmatched",
        "3",
        lambda t, m: _load(
            t,
            [
                "MINNESOTA",
                "Itasca County Sheriff's Office",
                "County",
                "Itaska County",
                "Task Force Model",
                date(2025, 2, 27),
            ],
        ),
        ice.SheetFormatError,
        (
            "participatingAgencies01152026am.xlsx, row 3",
            "'Itaska County' matches no county of Minnesota",
            "data/corrections/county_names.csv",
        ),
    ),
    Case(
        "municipal-county-misspelt",
        "12.1",
        lambda t, m: _load(
            t,
            [
                "TEXAS",
                "Seguin Police Department",
                "Municipality",
                "Guadalupe Cnty",
                "Task Force Model",
                date(2025, 6, 1),
            ],
        ),
        ice.SheetFormatError,
        (
            "row 3",
            "'Guadalupe Cnty' matches no county of Texas",
            "TYPE Municipality",
            "data/corrections/county_names.csv",
        ),
    ),
    Case(
        "state-without-census-counties",
        "6",
        lambda t, m: geo.require_counties("GUAM"),
        geo.NoCountiesError,
        ("Parameter state='GUAM'", "Guam has no counties in the Census county list", "Choose a state"),
    ),
    Case(
        "county-table-of-guam",
        "6",
        lambda t, m: counties.county_table(pd.DataFrame(columns=["state"]), "GUAM"),
        geo.NoCountiesError,
        ("Guam has no counties",),
    ),
    # pinning a downloaded sheet (issue 10 part 4)
    Case(
        "add-file-does-not-exist",
        "10.4",
        lambda t, m: _add(t, t / "participatingAgencies01152026am.xlsx"),
        data.AddError,
        ("participatingAgencies01152026am.xlsx", "no such file"),
    ),
    Case(
        "add-name-cannot-be-dated",
        "10.4",
        lambda t, m: _add(t, write_rows(t, [HEADER, GOOD_ROW], "agencies-today.xlsx")),
        data.AddError,
        ("agencies-today.xlsx", "cannot date", "rename"),
    ),
    Case(
        "add-impossible-date-in-name",
        "10.4",
        lambda t, m: _add(t, write_rows(t, [HEADER, GOOD_ROW], "participatingAgencies13452025am.xlsx")),
        data.AddError,
        ("participatingAgencies13452025am.xlsx", "cannot date"),
    ),
    Case(
        "add-not-an-ice-sheet",
        "10.4",
        lambda t, m: _add(t, write_rows(t, [["NAME", "VALUE"], ["a", 1]], "participatingAgencies01152026am.xlsx")),
        data.AddError,
        ("participatingAgencies01152026am.xlsx", "does not parse as an ICE participating sheet", "was not added"),
    ),
    Case(
        "add-html-saved-as-workbook",
        "10.4",
        lambda t, m: (
            (t / "participatingAgencies01152026am.xlsx").write_text("<html>Access Denied</html>")
            and _add(t, t / "participatingAgencies01152026am.xlsx")
        ),
        data.AddError,
        ("participatingAgencies01152026am.xlsx", "does not parse"),
    ),
    Case(
        "add-empty-sheet",
        "10.4",
        lambda t, m: _add(t, write_rows(t, [HEADER], "participatingAgencies01152026am.xlsx")),
        data.AddError,
        ("participatingAgencies01152026am.xlsx",),
    ),
    Case(
        "add-same-bytes-as-registered",
        "10.4",
        lambda t, m: _add_registered_copy(t, "participatingAgencies01152026am.xlsx"),
        data.AddError,
        ("same bytes", "ice-287g/", "participatingAgencies10312025pm.xlsx", "nothing was added"),
    ),
    Case(
        "add-same-path-as-registered",
        "10.4",
        lambda t, m: _add_registered_copy(t, "participatingAgencies10312025pm.xlsx"),
        data.AddError,
        ("ice-287g/participatingAgencies10312025pm.xlsx", "already in the registry", "nothing was added"),
    ),
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
        data.add(
            write_rows(tmp_path, [["NAME"], ["a"]], "participatingAgencies01152026am.xlsx"),
            registry_path=registry,
            cache=tmp_path / "cache",
        )
    assert registry.read_bytes() == before and not (tmp_path / "cache").exists()


# ---------------------------------------------------------------- warnings: the run goes on, and says so


def _missing_mirror(tmp: Path, mp: Any) -> Any:
    data._WARNED_MIRRORS.discard(str(tmp / "no-such-mirror"))
    mp.setenv(data.MIRROR_ENV, str(tmp / "no-such-mirror"))
    return data.fetch(REGISTERED_SHEET)


def _tampered_cache_refetched(tmp: Path, mp: Any) -> Any:
    registry = {"f.txt": registry_entry("f.txt", b"abc\n")}
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
    Case(
        "mirror-folder-missing",
        "8",
        _missing_mirror,
        data.RawDataWarning,
        ("RAW_DATA_MIRROR=", "no-such-mirror", "does not exist", "../shared/data/raw"),
    ),
    Case(
        "tampered-cached-copy-refetched",
        "pass",
        _tampered_cache_refetched,
        data.RawDataWarning,
        ("sha256 check failed", "f.txt", "f.txt.rejected", "fetching a verified copy"),
    ),
    Case(
        "sheet-not-in-registry",
        "12.4",
        _unregistered_sheet,
        data.UnregisteredFileWarning,
        (
            "participatingAgencies01152026am.xlsx",
            "not in the raw-data registry",
            "not verified",
            "python -m helpers.data add",
            "make add-sheet FILE=",
        ),
    ),
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
    (
        "formula-like-agency-names",
        "7",
        lambda t: _written(t, pd.DataFrame({"agency": ["=HYPERLINK(A1)", "+A1", "-cmd", "@SUM(A1)", "Cass County"]})),
        "agency\n'=HYPERLINK(A1)\n'+A1\n'-cmd\n'@SUM(A1)\nCass County\n",
    ),
    (
        "negative-numbers-are-not-formulas",
        "7",
        lambda t: _written(t, pd.DataFrame({"change": [-3, 2], "as_text": ["-3", "-2+3"]})),
        "change,as_text\n-3,-3\n2,'-2+3\n",
    ),
    (
        "neutralised-cells-read-back",
        "7",
        lambda t: tables.read_csv(tables.write_csv(pd.DataFrame({"a": ["=x", "'y"]}), t / "t.csv"))["a"].tolist(),
        ["=x", "'y"],
    ),
    ("iso-date-after-dash-p", "10", lambda t: params.parse_value("2025-12-01"), "2025-12-01"),
    (
        "iso-date-in-parameter-file",
        "10",
        lambda t: (t / "p.yaml").write_text("as_of: 2025-12-01\n") and params.load_yaml(t / "p.yaml"),
        {"as_of": "2025-12-01"},
    ),
    ("date-object-as-parameter", "10", lambda t: params.check_date(date(2025, 12, 1)), date(2025, 12, 1)),
    (
        "municipal-county-typo-corrected",
        "12.1",
        lambda t: (
            _load(
                t,
                [
                    "TEXAS",
                    "New Berlin Marshal's Office",
                    "Municipality",
                    "Guadalupe Conty",
                    "Task Force Model",
                    date(2025, 6, 1),
                ],
            )[["county_name", "county_match", "county_agency"]]
            .iloc[-1]
            .tolist()
        ),
        ["Guadalupe County", "correction", False],
    ),
    (
        "state-agency-county-not-used",
        "12.1",
        lambda t: (
            _load(
                t,
                [
                    "MINNESOTA",
                    "Minnesota State Patrol",
                    "State Agency",
                    "Ramsey County",
                    "Task Force Model",
                    date(2025, 6, 1),
                ],
            )[["county_printed", "county_match"]]
            .iloc[-1]
            .tolist()
        ),
        ["Ramsey County", "state agency"],
    ),
    ("registered-bytes-under-a-new-name", "12.4", lambda t: _registered_bytes_under_a_new_name(t, None), True),
    (
        "unregistered-sheet-warned-once",
        "12.4",
        lambda t: _unregistered_sheet_warned_once(t, None),
        ["UnregisteredFileWarning"],
    ),
]


@pytest.mark.parametrize(("case_id", "item", "action", "expected"), HANDLED, ids=[h[0] for h in HANDLED])
def test_bad_input_documented_handling(case_id, item, action, expected, tmp_path):
    assert action(tmp_path) == expected


# ---------------------------------------------------------------- the documented commands, as a user runs them


def _snapshot() -> dict[str, str]:
    """Hashes of the committed outputs a stray run could overwrite."""
    files = [
        *paths.NOTEBOOKS.glob("*.ipynb"),
        *(paths.ROOT / "figures").glob("*.png"),
        *(paths.DATA / "processed").glob("*.csv"),
    ]
    return {str(f.relative_to(paths.ROOT)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def _env(mirror: Path) -> dict[str, str]:
    # as a user runs it: the default output folders and the shared parsed-sheet cache
    env = {k: v for k, v in os.environ.items() if k not in (paths.OUTPUT_ENV, paths.REPRODUCE_ENV, ice.CACHE_ENV)}
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
    done = _run(
        [
            str(Path(sys.executable).parent / "papermill"),
            "-k",
            "python3",
            "notebooks/04_detention_contracts.ipynb",
            str(out),
            "-p",
            "state",
            "IOWA",
        ],
        mirror,
    )
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
    done = _run(
        [
            jupyter,
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.kernel_name=python3",
            "--output",
            str(tmp / "executed.ipynb"),
            str(edited),
        ],
        mirror,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    values = {
        **notebooks.parameter_defaults(paths.NOTEBOOKS / "03_partisanship_immigration.ipynb"),
        "measure": "agencies",
    }
    _expect_routed(tmp / "executed.ipynb", "03_partisanship_immigration", values)
    assert "measure='agencies' (default 'agreements')" in _printed(tmp / "executed.ipynb")


def run_downloaded_sheet_with_baseline_date(tmp: Path, mirror: Path) -> None:
    """The README's downloaded-sheet command with -p baseline_as_of 2025-12-01 (items 10 and 12.4)."""
    sheet = _new_sheet(tmp / "participatingAgencies01152026am.xlsx")
    out = tmp / "today" / "02.ipynb"
    done = _run(
        _wrapper(
            "run",
            "notebooks/02_regional_comparison.ipynb",
            str(out),
            "-p",
            "sheet",
            str(sheet),
            "-p",
            "baseline_as_of",
            "2025-12-01",
        ),
        mirror,
    )
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
        assert json.loads(executed.read_text())["metadata"]["papermill"]["parameters"] == {
            "as_of": "2025-12-01",
            "measure": "agencies",
        }
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
    assert "Traceback" in (paths.BUILD / "logs" / "uses_raw_file.log").read_text(), (
        "the full traceback is kept in build/logs/"
    )
    assert any(
        o["output_type"] == "error"
        for c in json.loads((tmp / "out" / nb.name).read_text())["cells"]
        for o in c.get("outputs", [])
    ), "and in the executed notebook"


def _refused(tmp: Path, mirror: Path, notebook: str, parameter: str, value: str, *words: str) -> str:
    """Run ``notebook`` with ``-p parameter value`` through the wrapper: it stops (exit 1) and prints ``words`` in its
    first and last lines; returns what the executed notebook printed."""
    out = tmp / f"{notebook[:2]}.ipynb"
    done = _run(_wrapper("run", f"notebooks/{notebook}", str(out), "-p", parameter, value), mirror)
    assert done.returncode == 1
    _first_and_last(done.stderr, *words)
    return _printed(out)


def run_repeated_year(tmp: Path, mirror: Path) -> None:
    """fb_years with a repeated year, on notebook 03 (item 16)."""
    _refused(
        tmp,
        mirror,
        "03_partisanship_immigration.ipynb",
        "fb_years",
        "[2023, 2023]",
        "ParameterError",
        "Parameter fb_years=[2023, 2023]",
        "more than once",
    )


def run_unknown_state_in_groups(tmp: Path, mirror: Path) -> None:
    """An unknown state in groups, on notebook 05 (item 17)."""
    _refused(
        tmp,
        mirror,
        "05_timeline.ipynb",
        "groups",
        '{"Upper Midwest": [WISCONSON, IOWA]}',
        "ParameterError",
        "groups['Upper Midwest']='WISCONSON'",
        "This is a parameter",
    )


def run_state_without_counties(tmp: Path, mirror: Path) -> None:
    """Notebook 01 for Guam (item 6): a clear message naming the parameter, not "0 of Guam's 0 counties"."""
    printed = _refused(
        tmp,
        mirror,
        "01_state_counties.ipynb",
        "state",
        "GUAM",
        "NoCountiesError",
        "Parameter state='GUAM'",
        "Guam has no counties in the Census county list",
    )
    assert "0 of Guam" not in printed


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
    run = subprocess.Popen(
        _wrapper("run-all"),
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
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
            assert not [
                k
                for k in kernels
                if Path(f"/proc/{k}").is_dir() and "ipykernel" in Path(f"/proc/{k}/cmdline").read_text()
            ], "the kernel is shut down"
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


# ---------------------------------------------------------------- SHEETS: edited ICE workbooks, sheet choices

ARTICLE_DATE = "2025-11-01"
ARTICLE_FILE = "participatingAgencies10312025pm.xlsx"
TEXAS_ROW = [
    "TEXAS",
    "Smith County Constable Precinct 4",
    "County",
    "Smith County",
    "Task Force Model",
    date(2025, 10, 17),
    "link",
    None,
]


def write_bytes(folder: Path, content: bytes, name: str = NEW_NAME) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("notes.txt", "not a spreadsheet")
    return buffer.getvalue()


def tampered_copy(folder: Path) -> Path:
    """The registered article sheet with one byte changed, saved under its registered name."""
    content = bytearray(data.fetch(ARTICLE_FILE).read_bytes())
    content[-10] ^= 0xFF
    return write_bytes(folder, bytes(content), ARTICLE_FILE)


@dataclass
class SheetCase:
    """One bad input: ``run(tmp_path)`` must raise ``error`` with every word in ``words`` in its message, or (no
    ``error``) return a result that ``check`` accepts."""

    item: str
    run: Callable[[Path], object]
    error: type[BaseException] | None = None
    words: list[str] = field(default_factory=list)
    check: Callable[[object, str], None] | None = None
    warns: str | None = None  # a warning the handling must give (regex)


def _duplicates_reported(df: pd.DataFrame, printed: str) -> None:
    assert len(df) == 2, "the repeated rows are not counted"
    assert [(d["row"], d["same_as_row"]) for d in df.attrs["duplicates"]] == [(4, 2), (5, 3)]
    assert "Dropped 2 exact duplicate rows" in printed and f"{NEW_NAME} row 4 = row 2" in printed
    assert ice.group_totals(df, {"tx": ["TEXAS"]})["agreements"].iloc[0] == 1


def _other_worksheet_read(df: pd.DataFrame, printed: str) -> None:
    assert df.attrs["worksheet"] == "Agencies" and df["agency"].tolist() == [GOOD_ROW[1]]


def _age_reported(choice: sheets.SheetChoice, printed: str) -> None:
    assert choice.age_days > sheets.STALE_DAYS and f"{choice.age_days} days older than as_of" in choice.sentence


SHEETS = [
    # 1. A pending list where participating agreements are needed, however it arrives.
    SheetCase(
        "1 registered pending sheet passed as sheet",
        lambda tmp: ice.load_as_of(ARTICLE_DATE, sheet="pendingAgencies10312025pm.xlsx"),
        ice.SheetKindError,
        ["pendingAgencies10312025pm.xlsx", "is a pending list", "participating list is needed"],
    ),
    SheetCase(
        "1 pending content saved under a participating name",
        lambda tmp: ice.resolve_sheet(
            str(write_worksheets(tmp, {"Sheet 1": [PENDING_HEADER, GOOD_ROW[:5]]})), ARTICLE_DATE
        ),
        ice.SheetKindError,
        [NEW_NAME, "is a pending list (its name says participating)", "lack SIGNED/MOA"],
    ),
    SheetCase(
        "1 the archive's pending list under a participating name",
        lambda tmp: ice.resolve_sheet("participatingAgencies09222025pm.xlsx", ARTICLE_DATE),
        ice.SheetKindError,
        ["participatingAgencies09222025pm.xlsx", "pending list (its name says participating)"],
    ),
    SheetCase(
        "1 pending list asked for as pending is fine",
        lambda tmp: ice.choose_sheet("pendingAgencies10312025pm.xlsx", ARTICLE_DATE, kind="pending"),
        check=lambda choice, printed: choice.list == "pending" or pytest.fail("pending list refused"),
    ),
    # 2. Exact duplicate rows: dropped by the stated rule, listed in attrs and a printed line, never counted.
    SheetCase(
        "2 every Texas row doubled",
        lambda tmp: ice.load_sheet(
            write_worksheets(tmp, {"Sheet 1": [HEADER, GOOD_ROW, TEXAS_ROW, GOOD_ROW, TEXAS_ROW]})
        ),
        check=_duplicates_reported,
    ),
    # 4. A file named like a registered raw file must hold its registered bytes.
    SheetCase(
        "4 tampered copy passed by path",
        lambda tmp: ice.resolve_sheet(str(tampered_copy(tmp)), ARTICLE_DATE),
        data.HashMismatchError,
        [ARTICLE_FILE, "registered raw file", "bytes differ", f"sheet='{ARTICLE_FILE}'"],
    ),
    SheetCase(
        "4 tampered copy through load_as_of",
        lambda tmp: ice.load_as_of(ARTICLE_DATE, sheet=str(tampered_copy(tmp))),
        data.HashMismatchError,
        ["bytes differ", "not used"],
    ),
    # 5. A future as_of is an error; an as_of long after the newest sheet says how old the sheet is.
    SheetCase(
        "5 future as_of",
        lambda tmp: ice.resolve_sheet(None, "2030-01-01"),
        ice.AsOfError,
        ["as_of=2030-01-01", "after today", "no sheet can be in force on a future date"],
    ),
    SheetCase(
        "5 as_of long after the newest registered sheet",
        lambda tmp: ice.choose_sheet(None, date.today()),
        check=_age_reported,
        warns="older than as_of.*download ICE's current sheet",
    ),
    # 12. Not a workbook, whatever the extension says.
    SheetCase(
        "12 CSV text saved as .xlsx",
        lambda tmp: ice.load_sheet(write_bytes(tmp, b"STATE,LAW ENFORCEMENT AGENCY\nTEXAS,Smith County\n")),
        ice.SheetFormatError,
        [NEW_NAME, "not a workbook", "CSV or other plain text", "Download the sheet again"],
    ),
    SheetCase(
        "12 Access Denied page saved as .xlsx",
        lambda tmp: ice.load_sheet(
            write_bytes(tmp, b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>x</BODY></HTML>")
        ),
        ice.SheetFormatError,
        [NEW_NAME, "an HTML page, an 'Access Denied' page"],
    ),
    SheetCase(
        "12 other HTML page",
        lambda tmp: ice.load_sheet(write_bytes(tmp, b"<!DOCTYPE html><html><body>Error</body></html>")),
        ice.SheetFormatError,
        ["an HTML page, perhaps an 'Access Denied' or error page"],
    ),
    SheetCase(
        "12 empty file",
        lambda tmp: ice.load_sheet(write_bytes(tmp, b"")),
        ice.SheetFormatError,
        [NEW_NAME, "an empty file"],
    ),
    SheetCase(
        "12 zip archive that holds no workbook",
        lambda tmp: ice.load_sheet(write_bytes(tmp, zip_without_workbook())),
        ice.SheetFormatError,
        [NEW_NAME, "a zip archive that holds no Excel workbook"],
    ),
    SheetCase(
        "12 truncated workbook",
        lambda tmp: ice.load_sheet(write_bytes(tmp, data.fetch(ARTICLE_FILE).read_bytes()[:5000])),
        ice.SheetFormatError,
        [NEW_NAME, "damaged zip archive, perhaps an interrupted download"],
    ),
    # 13. A file name that cannot be dated.
    SheetCase(
        "13 impossible date in the name",
        lambda tmp: ice.load_sheet(
            write_worksheets(tmp, {"Sheet 1": [HEADER, GOOD_ROW]}, "participatingAgencies13452025am.xlsx")
        ),
        ice.SheetFormatError,
        ["participatingAgencies13452025am.xlsx", "not a calendar date", "Rename the file"],
    ),
    SheetCase(
        "13 name without a date",
        lambda tmp: ice.load_sheet(
            write_worksheets(tmp, {"Sheet 1": [HEADER, GOOD_ROW]}, "287g participating agencies.xlsx")
        ),
        ice.SheetFormatError,
        ["287g participating agencies.xlsx", "cannot read the publication time"],
    ),
    SheetCase(
        "13 a name whose date is too early for its agreements (wrong year)",
        lambda tmp: ice.load_sheet(
            write_worksheets(tmp, {"Sheet 1": [HEADER, GOOD_ROW]}, "participatingAgencies01052025pm.xlsx")
        ),
        ice.SheetFormatError,
        ["participatingAgencies01052025pm.xlsx", "signed after the sheet's publication", "sheet_names.csv"],
    ),
    # 14. as_of that is not a date names the parameter.
    SheetCase(
        "14 as_of='not a date'",
        lambda tmp: ice.load_as_of("not a date"),
        ice.AsOfError,
        ["as_of='not a date' is not a date", "YYYY-MM-DD"],
    ),
    SheetCase(
        "14 as_of='2025-02-30'",
        lambda tmp: ice.resolve_sheet(None, "2025-02-30"),
        ice.AsOfError,
        ["as_of='2025-02-30' is not a date", "day is out of range"],
    ),
    SheetCase(
        "14 as_of=20251101 (a number)",
        lambda tmp: ice.select_sheet(20251101),
        ice.AsOfError,
        ["as_of=20251101 is not a date"],
    ),
    # 15. sheet naming a file that does not exist.
    SheetCase(
        "15 sheet path that does not exist",
        lambda tmp: ice.resolve_sheet(str(tmp / NEW_NAME), ARTICLE_DATE),
        ice.SheetNotFoundError,
        [NEW_NAME, "no such file", "no registered raw file has that name"],
    ),
    SheetCase(
        "15 relative path that does not exist",
        lambda tmp: ice.load_as_of(ARTICLE_DATE, sheet=f"output/{NEW_NAME}"),
        ice.SheetNotFoundError,
        [f"sheet='output/{NEW_NAME}'", "no such file"],
    ),
    # 18. The data is not on the first worksheet.
    SheetCase(
        "18 ICE's header on the second worksheet",
        lambda tmp: ice.load_sheet(write_worksheets(tmp, {"Notes": [["read me"]], "Agencies": [HEADER, GOOD_ROW]})),
        check=_other_worksheet_read,
        warns="worksheet 'Agencies', which is read.*'Notes', 'Agencies'",
    ),
    SheetCase(
        "18 no worksheet holds ICE's header",
        lambda tmp: ice.load_sheet(write_worksheets(tmp, {"Notes": [["read me"]], "Other": [["a", "b"], [1, 2]]})),
        ice.SheetFormatError,
        [NEW_NAME, "no worksheet holds ICE's header row", "worksheets: ['Notes', 'Other']"],
    ),
    # 19. Data in an unnamed column says what to do.
    SheetCase(
        "19 data in an unnamed column",
        lambda tmp: ice.load_sheet(write_worksheets(tmp, {"Sheet 1": [HEADER, GOOD_ROW + ["stray note"]]})),
        ice.SheetFormatError,
        [
            NEW_NAME,
            "['I']",
            "no header",
            "first at row(s) [2]",
            "delete it",
            "add the header to helpers.sheets.COLUMNS",
        ],
    ),
]


@pytest.mark.parametrize("case", SHEETS, ids=[c.item for c in SHEETS])
def test_bad_sheet_input(case, tmp_path, capsys):
    if case.error is not None:
        with pytest.raises(case.error) as err, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "(?s).*not in the raw-data registry")  # said before the refusal
            case.run(tmp_path)
        for word in case.words:
            assert word in str(err.value), f"{case.item}: {word!r} not in {err.value}"
        return
    if case.warns:
        with pytest.warns(UserWarning, match=case.warns):
            result = case.run(tmp_path)
    else:
        result = case.run(tmp_path)
    case.check(result, capsys.readouterr().out)


def test_every_issue_13_sheet_item_has_a_case():
    items = {c.item.split()[0] for c in SHEETS}
    assert items == {"1", "2", "4", "5", "12", "13", "14", "15", "18", "19"}
