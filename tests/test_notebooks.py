"""The notebook runner: where a run's outputs go, what its terminal shows, what JupyterLab saves."""

from __future__ import annotations

import json
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from helpers import notebooks, params, paths


def make_notebook(path: Path, parameters: str, *code: str) -> Path:
    """A small notebook: a markdown cell, a tagged parameters cell and ``code`` cells."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# test"),
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
    ]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in code]
    nb.metadata["kernelspec"] = dict(notebooks.KERNELSPEC)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture()
def fake_notebooks(tmp_path, monkeypatch):
    """A notebooks/ folder holding ``07_x.ipynb`` with parameters state and as_of; the run is reset after."""
    folder = tmp_path / "notebooks"
    make_notebook(folder / "07_x.ipynb", 'state = "MINNESOTA"\nas_of = "2025-11-01"', "print(state)")
    monkeypatch.setattr(paths, "NOTEBOOKS", folder)
    monkeypatch.delenv(paths.OUTPUT_ENV, raising=False)
    monkeypatch.delenv(paths.REPRODUCE_ENV, raising=False)
    yield folder / "07_x.ipynb"
    paths.end_run()


def test_default_run_writes_to_the_committed_folders(fake_notebooks, capsys):
    run = paths.start_run("07_x", {"state": "MINNESOTA", "as_of": "2025-11-01", "other": 1})
    assert run.is_default and run.params == {"state": "MINNESOTA", "as_of": "2025-11-01"}
    assert paths.figures_dir() == paths.ROOT / "figures"
    assert paths.processed_dir() == paths.ROOT / "data" / "processed"
    assert capsys.readouterr().out == "", "a default run prints nothing (committed outputs stay as they are)"


def test_non_default_run_goes_to_output_and_says_so(fake_notebooks, capsys):
    run = paths.start_run("07_x", {"state": "IOWA", "as_of": "2025-11-01"})
    expected = paths.OUTPUT / f"07_x-{paths.params_hash({'state': 'IOWA', 'as_of': '2025-11-01'})}"
    assert not run.is_default and run.changed == {"state": ("IOWA", "MINNESOTA")}
    assert paths.figures_dir() == expected / "figures"
    assert paths.processed_dir() == expected / "data" / "processed"
    printed = capsys.readouterr().out
    assert "state='IOWA' (default 'MINNESOTA')" in printed and f"output/{expected.name}/" in printed
    paths.end_run()
    assert paths.figures_dir() == paths.ROOT / "figures"


def test_ice287g_output_wins(fake_notebooks, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path / "mine"))
    paths.start_run("07_x", {"state": "IOWA", "as_of": "2025-11-01"})
    assert paths.figures_dir() == tmp_path / "mine" / "figures"


def test_edited_and_saved_parameters_cell_still_counts_as_non_default(fake_notebooks):
    """JupyterLab autosaves an edited parameters cell; the defaults stamped by make reproduce still decide."""
    nb = json.loads(fake_notebooks.read_text())
    notebooks.stamp_defaults(nb)  # what make reproduce records: MINNESOTA
    nb["cells"][1]["source"] = 'state = "IOWA"\nas_of = "2025-11-01"'  # the student's edit, saved
    fake_notebooks.write_text(json.dumps(nb))
    assert not paths.start_run("07_x", {"state": "IOWA", "as_of": "2025-11-01"}).is_default
    assert paths.start_run("07_x", {"state": "MINNESOTA", "as_of": "2025-11-01"}).is_default


def test_make_reproduce_takes_the_parameters_cell_as_the_defaults(fake_notebooks, monkeypatch):
    nb = json.loads(fake_notebooks.read_text())
    notebooks.stamp_defaults(nb)
    nb["cells"][1]["source"] = 'state = "IOWA"\nas_of = "2025-11-01"'  # a maintainer changed the default
    fake_notebooks.write_text(json.dumps(nb))
    monkeypatch.setenv(paths.REPRODUCE_ENV, "1")
    assert paths.start_run("07_x", {"state": "IOWA", "as_of": "2025-11-01"}).is_default


def test_start_run_checks_the_values_and_the_call(fake_notebooks):
    with pytest.raises(params.ParameterError, match="Parameter as_of='2025-02-30'"):
        paths.start_run("07_x", {"state": "MINNESOTA", "as_of": "2025-02-30"})
    with pytest.raises(ValueError, match=r"parameter\(s\) \['as_of'\] are not defined"):
        paths.start_run("07_x", {"state": "MINNESOTA"})
    with pytest.raises(ValueError, match="does not exist"):
        paths.start_run("08_missing", {})


def test_every_parameterised_notebook_starts_a_run_first():
    for path in notebooks.ordered_notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        if notebooks.parameter_cell(nb) is None:
            continue
        first_code = [c for c in nb["cells"] if c["cell_type"] == "code"][1]  # the cell after the parameters
        source = "".join(first_code["source"])
        assert f'paths.start_run("{path.stem}", globals())' in source, f"{path.name}: call paths.start_run first"
        assert source.index("start_run") < source.index("plotting.use_style()") if "use_style" in source else True


def test_parameter_defaults_are_read_from_the_tagged_cell(fake_notebooks):
    assert notebooks.parameter_defaults(fake_notebooks) == {"state": "MINNESOTA", "as_of": "2025-11-01"}
    defaults = notebooks.parameter_defaults(paths.ROOT / "notebooks" / "03_partisanship_immigration.ipynb")
    assert defaults["fb_years"] == [2023] and defaults["sheet"] is None


def test_stamp_records_the_parameters_cell():
    nb = {
        "cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["x = 1\n", "y = [2023]\n"]}],
        "metadata": {},
    }
    assert notebooks.stamp_defaults(nb)["metadata"]["ice287g"] == {"defaults": {"x": 1, "y": [2023]}}
    assert "ice287g" not in notebooks.stamp_defaults({"cells": [], "metadata": {}})["metadata"]


def test_kernel_manager_uses_ipc_on_posix():
    manager = notebooks._kernel_manager_class()(kernel_name=notebooks.KERNEL)
    assert manager.transport == ("ipc" if sys.platform != "win32" else "tcp")


def test_notebook_error_prints_the_message_first_and_last():
    class Exc:
        ename, evalue, exec_count, source = (
            "ParameterError",
            "Parameter state='X' is not a state",
            3,
            "\nrun = paths.start_run()",
        )

    err = notebooks.NotebookError(
        paths.NOTEBOOKS / "01_state_counties.ipynb", Exc, paths.BUILD / "failed" / "01.ipynb", None
    )
    lines = err.report().splitlines()
    assert lines[0] == "error: notebooks/01_state_counties.ipynb, cell In [3] (run = paths.start_run()):"
    assert lines[1].strip() == lines[-1].removeprefix("error: ") == "ParameterError: Parameter state='X' is not a state"
    assert "build/failed/01.ipynb" in lines[2]


def test_install_jupyter_config_keeps_other_settings(tmp_path):
    target = tmp_path / "etc" / "jupyter" / "jupyter_server_config.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"ServerApp": {"port": 9999}}))
    assert notebooks.install_jupyter_config(tmp_path) == target
    assert json.loads(target.read_text()) == {
        "ServerApp": {"port": 9999},
        "ContentsManager": {"pre_save_hook": notebooks.HOOK},
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_opening_and_saving_in_jupyter_leaves_the_notebook_unchanged():
    """A Jupyter server from this environment (as `make lab` starts it) saves a notebook the kernel touched.

    The kernel adds ``language_info.version`` when a notebook opens; the pre-save hook that
    ``make env`` installs removes it again, so the saved bytes equal the committed ones.
    """
    config = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.json"
    if not config.is_file() or notebooks.HOOK not in config.read_text():
        pytest.fail(
            f"{config} does not name {notebooks.HOOK}: run `make env` (or python -m helpers.notebooks install-jupyter-config)"
        )
    paths.BUILD.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=paths.BUILD, prefix="save-test-"))
    committed = paths.NOTEBOOKS / "04_detention_contracts.ipynb"
    copy = folder / committed.name
    copy.write_bytes(committed.read_bytes())
    port = _free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    server = subprocess.Popen(
        [
            str(jupyter),
            "server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--IdentityProvider.token=t",
            f"--ServerApp.root_dir={paths.ROOT}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/contents/{copy.relative_to(paths.ROOT).as_posix()}"
    headers = {"Authorization": "token t", "Content-Type": "application/json"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(url + "?content=1", headers=headers), timeout=10
                ) as r:
                    model = json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        model["content"]["metadata"]["language_info"]["version"] = platform.python_version()  # what the kernel sends
        body = json.dumps({"type": "notebook", "format": "json", "content": model["content"]}).encode()
        with urllib.request.urlopen(
            urllib.request.Request(url, data=body, headers=headers, method="PUT"), timeout=30
        ) as r:
            assert r.status == 200
        assert copy.read_bytes() == committed.read_bytes(), "saving from Jupyter changed the notebook"
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder)


def test_pre_save_hook_leaves_other_projects_alone(tmp_path):
    model = {"type": "notebook", "content": {"metadata": {"language_info": {"version": "3.11.7"}}, "cells": []}}

    class Manager:
        root_dir = str(tmp_path)

    notebooks.pre_save_hook(model, "x.ipynb", Manager())
    assert model["content"]["metadata"]["language_info"] == {"version": "3.11.7"}
    Manager.root_dir = str(paths.ROOT)
    notebooks.pre_save_hook(model, "notebooks/x.ipynb", Manager())
    assert model["content"]["metadata"]["language_info"] == {}
