"""Every parameter file in notebooks/params/ runs, and never touches committed outputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from helpers import notebooks, paths

PARAM_FILES = sorted((paths.NOTEBOOKS / "params").glob("*.yaml"))


def _snapshot() -> dict[str, str]:
    """Hashes of the committed outputs a stray run could overwrite."""
    files = [*paths.NOTEBOOKS.glob("*.ipynb"), *(paths.ROOT / "figures").glob("*.png"), *(paths.DATA / "processed").glob("*.csv")]
    return {str(f.relative_to(paths.ROOT)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.mark.parametrize("params_file", PARAM_FILES, ids=[p.stem for p in PARAM_FILES])
def test_parameter_file_runs_into_the_output_folder(params_file, tmp_path):
    before = _snapshot()
    ran = notebooks.adapt(params_file, out_root=tmp_path)
    params = yaml.safe_load(params_file.read_text())
    expected = [nb.name for nb in notebooks.ordered_notebooks() if set(params) <= notebooks.parameter_names(nb)]
    assert [p.name for p in ran] == expected and ran
    for out in ran:
        nb = json.loads(out.read_text())
        assert nb["metadata"]["papermill"]["parameters"] == params
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
    assert notebooks.parameter_names(paths.NOTEBOOKS / "01_state_counties.ipynb") == {"state", "as_of", "sheet"}
