"""Every parameter file in notebooks/params/ runs, and never touches committed outputs.

Each (parameter file, notebook) pair is one test, so that pytest-xdist spreads the runs over the cores.  A pair whose
effective parameters (the notebook's defaults updated with the file's values) are the defaults is the committed
notebook itself, which nbval runs in the same session; a pair whose effective parameters equal an earlier file's for
the same notebook is that file's run.  Neither is run twice (:func:`plan`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from helpers import notebooks, params, paths

PARAM_FILES = sorted((paths.NOTEBOOKS / "params").glob("*.yaml"))
COMMITTED = ("notebooks/*.ipynb", "figures/*.png", "data/processed/*.csv")


def plan(files: dict[str, dict[str, Any]], defaults: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(file, notebook, what covers it) for every notebook that takes all of a file's parameters.

    ``files`` maps a file's name to its values, ``defaults`` a notebook's name to its parameters cell.
    "run" = this test runs it; "nbval" = the effective parameters are the notebook's defaults;
    otherwise the name of the earlier file whose run has the same effective parameters.
    """
    seen: dict[tuple[str, str], str] = {}
    out = []
    for file, values in files.items():
        for nb, cell in defaults.items():
            if not set(values) <= set(cell):
                continue
            effective = json.dumps({**cell, **values}, sort_keys=True)
            if effective == json.dumps(cell, sort_keys=True):
                out.append((file, nb, "nbval"))
            elif (nb, effective) in seen:
                out.append((file, nb, seen[nb, effective]))
            else:
                seen[nb, effective] = file
                out.append((file, nb, "run"))
    return out


FILES = {f.name: params.load_yaml(f) for f in PARAM_FILES}
DEFAULTS = {nb.name: notebooks.parameter_defaults(nb) for nb in notebooks.ordered_notebooks()}
PLAN = plan(FILES, DEFAULTS)
RUNS = [(file, nb) for file, nb, how in PLAN if how == "run"]


def _snapshot() -> dict[str, str]:
    """Hashes of the committed outputs a stray run could overwrite (or add to)."""
    files = sorted({f for pattern in COMMITTED for f in paths.ROOT.glob(pattern)})
    return {str(f.relative_to(paths.ROOT)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


# effective parameters of two files for one notebook -> what the second file's run is
PLAN_CASES = [
    ("new values run", {"a.yaml": {"state": "IOWA"}}, [("a.yaml", "01.ipynb", "run")]),
    ("the defaults are nbval's run", {"a.yaml": {"state": "MINNESOTA"}}, [("a.yaml", "01.ipynb", "nbval")]),
    (
        "same as an earlier file",
        {"a.yaml": {"state": "IOWA"}, "b.yaml": {"state": "IOWA", "as_of": "2025-11-01"}},
        [("a.yaml", "01.ipynb", "run"), ("b.yaml", "01.ipynb", "a.yaml")],
    ),
    ("a notebook without the parameter is left out", {"a.yaml": {"measure": "agencies"}}, []),
]


@pytest.mark.parametrize(("case", "files", "expected"), PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_plan_runs_each_set_of_parameters_once(case, files, expected):
    assert plan(files, {"01.ipynb": {"state": "MINNESOTA", "as_of": "2025-11-01"}}) == expected


def test_every_parameter_file_is_covered():
    """Each file applies to at least one notebook, and each pair is run here, by nbval, or by another file."""
    for f in PARAM_FILES:
        tasks = notebooks.adapt_tasks(f, out_root=paths.OUTPUT)
        assert [t.notebook.name for t in tasks] == [nb for file, nb, _ in PLAN if file == f.name] and tasks
        assert all(t.output == paths.OUTPUT / f.stem / t.notebook.name and t.parameters == FILES[f.name] for t in tasks)


@pytest.mark.registered_sheets
@pytest.mark.parametrize(("file", "notebook"), RUNS, ids=[f"{Path(f).stem}-{nb[:2]}" for f, nb in RUNS])
def test_parameter_file_runs_into_the_output_folder(file, notebook, tmp_path):
    """What `make adapt PARAMS=notebooks/params/<file>` runs for one notebook: outputs beside the executed copy."""
    before = _snapshot()
    task = next(
        t
        for t in notebooks.adapt_tasks(paths.NOTEBOOKS / "params" / file, out_root=tmp_path)
        if t.notebook.name == notebook
    )
    [result] = notebooks.run_tasks([task])
    assert result.ok, result.error
    nb = json.loads(task.output.read_text())
    assert nb["metadata"]["papermill"]["parameters"] == FILES[file]
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{notebook} failed with {file}"
    folder = task.output.parent
    assert list((folder / "figures").glob(f"{notebook[:2]}_*.png")), "figures go beside the executed notebook"
    assert list((folder / "data" / "processed").glob("*.csv")), "tables go beside the executed notebook"
    after = _snapshot()
    assert set(after) == set(before), f"the run added or removed committed files: {set(after) ^ set(before)}"
    changed = [f for f in after if after[f] != before[f]]
    assert not changed, (
        f"committed outputs changed during the run: {changed} (by this run, or, if they are out of date, "
        "by a notebook nbval re-ran at the same time: run `make reproduce` and check again)"
    )


def test_runs_refuse_to_overwrite_committed_notebooks():
    nb = paths.NOTEBOOKS / "01_state_counties.ipynb"
    with pytest.raises(ValueError, match="never over the committed notebooks"):
        notebooks.run_with_parameters(nb, nb, {"state": "IOWA"})


def test_unknown_parameters_are_refused(tmp_path):
    with pytest.raises(ValueError, match="has no parameter"):
        notebooks.run_with_parameters(
            paths.NOTEBOOKS / "01_state_counties.ipynb", tmp_path / "x.ipynb", {"stat": "IOWA"}
        )


def test_parameter_names_are_read_from_the_tagged_cell():
    assert notebooks.parameter_names(paths.NOTEBOOKS / "01_state_counties.ipynb") == {
        "state",
        "as_of",
        "sheet",
        "baseline_as_of",
    }


# ---------------------------------------------------------------- values from the command line

# text after -p NAME -> the value the notebook receives
CLI_VALUES = [
    ("2025-12-01", "2025-12-01"),  # dates stay as written, like the parameters cells
    ("2025-12-01T10:00:00", "2025-12-01T10:00:00"),
    ("IOWA", "IOWA"),
    ("[2021, 2022, 2023]", [2021, 2022, 2023]),
    ("3", 3),
    ("null", None),
    ("true", True),
    ('{"Upper Midwest": [WISCONSIN, IOWA]}', {"Upper Midwest": ["WISCONSIN", "IOWA"]}),
    ("output/downloads/participatingAgencies01152026am.xlsx", "output/downloads/participatingAgencies01152026am.xlsx"),
    ("[unclosed", "[unclosed"),
]


@pytest.mark.parametrize(("text", "value"), CLI_VALUES, ids=[t for t, _ in CLI_VALUES])
def test_command_line_values(text, value):
    assert params.parse_value(text) == value


def test_parameter_files_keep_dates_as_text(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("as_of: 2025-12-01\nfb_years: [2022, 2023]\nstate: IOWA\n")
    assert params.load_yaml(f) == {"as_of": "2025-12-01", "fb_years": [2022, 2023], "state": "IOWA"}
    json.dumps(params.load_yaml(f))  # papermill stores parameters as JSON


@pytest.mark.parametrize("text", ["", "- a list\n", "as_of: [unclosed\n"], ids=["empty", "list", "invalid"])
def test_malformed_parameter_files_are_refused(tmp_path, text):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(params.ParameterError, match="p.yaml"):
        params.load_yaml(f)


def test_every_shipped_parameter_file_passes_the_checks():
    for f in PARAM_FILES:
        params.check_all(params.load_yaml(f))
