"""Every parameter file in notebooks/params/ runs, and never touches committed outputs."""

from __future__ import annotations

import hashlib
import json

import pytest

from helpers import notebooks, params, paths

PARAM_FILES = sorted((paths.NOTEBOOKS / "params").glob("*.yaml"))


def _snapshot() -> dict[str, str]:
    """Hashes of the committed outputs a stray run could overwrite."""
    files = [*paths.NOTEBOOKS.glob("*.ipynb"), *(paths.ROOT / "figures").glob("*.png"), *(paths.DATA / "processed").glob("*.csv")]
    return {str(f.relative_to(paths.ROOT)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.mark.parametrize("params_file", PARAM_FILES, ids=[p.stem for p in PARAM_FILES])
def test_parameter_file_runs_into_the_output_folder(params_file, tmp_path):
    before = _snapshot()
    ran = notebooks.adapt(params_file, out_root=tmp_path)
    values = params.load_yaml(params_file)
    expected = [nb.name for nb in notebooks.ordered_notebooks() if set(values) <= notebooks.parameter_names(nb)]
    assert [p.name for p in ran] == expected and ran
    for out in ran:
        nb = json.loads(out.read_text())
        assert nb["metadata"]["papermill"]["parameters"] == values
        errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
        assert not errors, f"{out.name} failed with {params_file.name}"
    assert any((tmp_path / params_file.stem / "figures").glob("*.png")), "figures go beside the executed notebooks"
    assert _snapshot() == before, "an adaptation run changed committed outputs"


def test_runs_refuse_to_overwrite_committed_notebooks():
    nb = paths.NOTEBOOKS / "01_state_counties.ipynb"
    with pytest.raises(ValueError, match="never over the committed notebooks"):
        notebooks.run_with_parameters(nb, nb, {"state": "IOWA"})


def test_unknown_parameters_are_refused(tmp_path):
    with pytest.raises(ValueError, match="has no parameter"):
        notebooks.run_with_parameters(paths.NOTEBOOKS / "01_state_counties.ipynb", tmp_path / "x.ipynb", {"stat": "IOWA"})


def test_parameter_names_are_read_from_the_tagged_cell():
    assert notebooks.parameter_names(paths.NOTEBOOKS / "01_state_counties.ipynb") == {"state", "as_of", "sheet", "baseline_as_of"}


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
