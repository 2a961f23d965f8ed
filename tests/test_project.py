"""Project conventions: pins in sync, notebooks well-formed, outputs free of machine paths."""

from __future__ import annotations

import ast
import json
import re

import pytest

from helpers import notebooks, paths

NOTEBOOKS = notebooks.ordered_notebooks()


def test_environment_yml_has_the_same_pins_as_the_lock():
    lock = sorted(line.strip() for line in (paths.ROOT / "requirements.lock").read_text().splitlines() if "==" in line)
    env = sorted(
        line.strip()[2:]
        for line in (paths.ROOT / "environment.yml").read_text().splitlines()
        if line.strip().startswith("- ") and "==" in line
    )
    assert env == lock


def test_the_environment_sync_test_is_named_where_it_is():
    """pyproject.toml and environment.yml point to the test that keeps the pins in sync, by its real place."""
    name = "tests/test_project.py::test_environment_yml_has_the_same_pins_as_the_lock"
    for f in ("pyproject.toml", "environment.yml"):
        assert name in (paths.ROOT / f).read_text(), f"{f} names {name}"
    assert test_environment_yml_has_the_same_pins_as_the_lock.__name__ in name


def test_lock_pins_every_direct_dependency():
    lock = (paths.ROOT / "requirements.lock").read_text().splitlines()
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in lock if "==" in line}
    requirements = (paths.ROOT / "requirements.in").read_text().splitlines()
    direct = {line.strip().lower() for line in requirements if line.strip() and not line.startswith("#")}
    assert direct <= pinned, direct - pinned


def test_ci_runs_the_readme_test_command():
    readme = paths.README.read_text()
    ci = (paths.ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make reproduce" in readme
    assert re.search(r"^make test$", ci, flags=re.MULTILINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_conventions(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == notebooks.KERNEL
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown", "the first cell states the question"
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if path.stem != "99_claims":
        assert len(tagged) == 1 and cells.index(tagged[0]) == 1, "the second cell holds the parameters"
    for cell in tagged:
        for node in ast.parse("".join(cell["source"])).body:
            assert isinstance(node, ast.Assign), f"parameters cell holds assignments only: {ast.dump(node)[:60]}"
            ast.literal_eval(node.value)  # raises if not a literal
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c.get("outputs") is not None for c in code)
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, "committed notebooks ran without errors"
    # the last cell states the answer as a rendered Markdown sentence (helpers.text.say), not as printed text
    last = code[-1]
    rendered = [o for o in last["outputs"] if "text/markdown" in o.get("data", {})]
    assert rendered, "the last cell states the answer with helpers.text.say (a Markdown output)"
    assert "text.say(" in "".join(last["source"]), "the closing sentence is built with helpers.text.say"
    assert not any(o.get("name") == "stdout" for o in last["outputs"]), "the closing sentence is not printed"
    assert "".join(rendered[-1]["data"]["text/markdown"]).strip(), "the closing sentence is empty"


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS
    + sorted((paths.ROOT / "data" / "processed").glob("*.csv"))
    + [paths.ROOT / "tests" / "helpers_tour.ipynb"],
    ids=lambda p: p.name,
)
def test_outputs_carry_no_machine_paths_or_timestamps(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"/(root|tmp|home|work|Users)/", text), f"{path.name} contains a machine path"
    assert "start_time" not in text and "end_time" not in text
    # pandas Styler ids are random unless set (Styler.set_uuid): they would break nbval on every run
    assert not re.search(r"\bT_[0-9a-f]{5}_", text), f"{path.name} holds a random Styler id; use .style.set_uuid(...)"
    # an object repr with a memory address ("<... at 0x7f...>") changes on every run
    assert not re.search(r" at 0x[0-9a-f]{6,}", text), f"{path.name} shows an object's memory address"


def test_scrub_merges_split_streams_and_drops_volatile_metadata():
    nb = {
        "metadata": {
            "language_info": {"name": "python", "version": "3.11.7"},
            "papermill": {"start_time": "x", "parameters": {"state": "IOWA"}, "input_path": "/tmp/a"},
        },
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"papermill": {"duration": 1.0}, "execution": {"t": 1}},
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": ["8 of 87"]},
                    {"output_type": "stream", "name": "stdout", "text": ["\n"]},
                ],
            }
        ],
    }
    out = notebooks.scrub(nb)
    assert out["metadata"]["papermill"] == {"parameters": {"state": "IOWA"}}
    assert "version" not in out["metadata"]["language_info"]
    assert out["cells"][0]["metadata"] == {}
    assert out["cells"][0]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": ["8 of 87\n"]}]
