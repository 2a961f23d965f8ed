"""Run the notebooks with papermill and keep their stored outputs stable.

``python -m helpers.notebooks run-all`` executes every ``notebooks/NN_*.ipynb``
in numeric order, in place, with default parameters: this is ``make
reproduce``.  ``python -m helpers.notebooks run NB OUT [-f params.yaml]
[-p name value ...]`` executes one notebook with other parameters into ``OUT``,
and ``python -m helpers.notebooks adapt notebooks/params/X.yaml`` runs every
notebook that takes those parameters into ``output/X/`` (adaptation runs; see
``notebooks/README.md``).  Neither ever writes over committed files.

After execution :func:`scrub` removes what changes from run to run or machine
to machine (timings, absolute paths, the Python patch version), so that a
second ``make reproduce`` leaves ``git status`` clean.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from helpers import paths

#: Kernel name passed to papermill and nbval; ipykernel provides it in every environment.
KERNEL = "python3"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL}


def ordered_notebooks(folder: Path | None = None) -> list[Path]:
    """``NN_*.ipynb`` notebooks of ``folder`` in run order (by their number)."""
    folder = folder or paths.NOTEBOOKS
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def scrub(nb: dict[str, Any]) -> dict[str, Any]:
    """Remove run-to-run and machine-specific metadata from a notebook (in place)."""
    meta = nb.setdefault("metadata", {})
    meta["kernelspec"] = dict(KERNELSPEC)
    meta.get("language_info", {}).pop("version", None)
    pm = meta.get("papermill")
    if pm is not None:
        meta["papermill"] = {"parameters": pm.get("parameters", {})}
    meta.pop("widgets", None)
    for cell in nb.get("cells", []):
        cmeta = cell.get("metadata", {})
        cmeta.pop("papermill", None)
        cmeta.pop("execution", None)
        cmeta.pop("ExecuteTime", None)
        if cell.get("cell_type") == "code":
            for output in cell.get("outputs", []):
                output.get("metadata", {}).pop("execution", None)
            cell["outputs"] = coalesce_streams(cell.get("outputs", []))
    return nb


def coalesce_streams(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge consecutive stdout (or stderr) outputs into one.

    How a kernel splits printed text into messages depends on timing (a loaded
    machine splits ``print`` text from its newline), so merging makes the
    stored outputs the same on every run.
    """
    merged: list[dict[str, Any]] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            text = "".join(previous["text"]) + "".join(output["text"])
            previous["text"] = text.splitlines(keepends=True)
        else:
            if output.get("output_type") == "stream":
                output = dict(output, text="".join(output["text"]).splitlines(keepends=True))
            merged.append(output)
    return merged


def execute(
    notebook: Path,
    output: Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (in place by default), then scrub it."""
    import papermill as pm

    notebook = Path(notebook).resolve()
    output = Path(output).resolve() if output else notebook
    output.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters or {},
        kernel_name=KERNEL,
        cwd=str(notebook.parent),
        progress_bar=False,
        log_output=False,
        report_mode=False,
        start_timeout=300,  # generous: kernels start slowly on a loaded 2-core machine
        iopub_timeout=60,
    )
    nb = json.loads(output.read_text(encoding="utf-8"))
    output.write_text(json.dumps(scrub(nb), indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    return output


def parameter_names(notebook: Path) -> set[str]:
    """Names assigned in a notebook's ``parameters`` cell."""
    import ast

    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    names: set[str] = set()
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse("".join(cell["source"])).body:
                if isinstance(node, ast.Assign):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _check_output(output: Path) -> None:
    committed = paths.NOTEBOOKS.resolve()
    if output.resolve().parent == committed:
        raise ValueError(
            f"{output}: executed copies with other parameters go outside notebooks/ "
            "(e.g. output/<name>/), never over the committed notebooks"
        )


def run_with_parameters(notebook: Path, output: Path, parameters: dict[str, Any]) -> Path:
    """Execute one notebook with ``parameters`` into ``output``.

    Figures and tables go beside the output (``$ICE287G_OUTPUT`` is set to its
    folder for the run), so the committed ``figures/`` and ``data/processed/``
    are never touched; claims are recorded only for the claims' own parameters.
    """
    import os

    output = Path(output)
    _check_output(output)
    unknown = set(parameters) - parameter_names(notebook)
    if unknown:
        raise ValueError(f"{Path(notebook).name} has no parameter(s) {sorted(unknown)}; it takes {sorted(parameter_names(notebook))}")
    previous = os.environ.get(paths.OUTPUT_ENV)
    os.environ[paths.OUTPUT_ENV] = str(output.parent.resolve())
    try:
        return execute(notebook, output, parameters)
    finally:
        if previous is None:
            os.environ.pop(paths.OUTPUT_ENV, None)
        else:
            os.environ[paths.OUTPUT_ENV] = previous


def adapt(params_file: Path, out_root: Path | None = None) -> list[Path]:
    """Run every notebook that takes all the parameters in ``params_file`` (YAML) with them.

    Outputs go to ``output/<file stem>/`` (git-ignored): executed notebooks,
    ``figures/`` and ``data/processed/``.  Returns the executed notebooks.
    """
    import yaml

    params = yaml.safe_load(Path(params_file).read_text(encoding="utf-8")) or {}
    if not isinstance(params, dict) or not params:
        raise ValueError(f"{params_file}: expected a mapping of parameter names to values")
    out_dir = (out_root or paths.ROOT / "output") / Path(params_file).stem
    ran = []
    for nb in ordered_notebooks():
        if set(params) <= parameter_names(nb):
            print(f"running {nb.name} with {params_file.name} -> {out_dir.name}/", flush=True)
            ran.append(run_with_parameters(nb, out_dir / nb.name, params))
    if not ran:
        raise ValueError(f"{params_file}: no notebook takes all of {sorted(params)}")
    return ran


def _parse_value(text: str) -> Any:
    """A ``-p`` value: YAML-parsed like papermill does (numbers, lists, null), else a string."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m helpers.notebooks")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run-all", help="execute every NN_*.ipynb in place, in order")
    one = sub.add_parser("run", help="execute one notebook with parameters into OUT")
    one.add_argument("notebook", type=Path)
    one.add_argument("output", type=Path)
    one.add_argument("-f", "--parameters-file", type=Path, action="append", default=[])
    one.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    many = sub.add_parser("adapt", help="run every notebook that takes the parameters in a YAML file")
    many.add_argument("params_file", type=Path)
    args = parser.parse_args(argv)

    if args.command == "run-all":
        for nb in ordered_notebooks():
            print(f"running {paths.relative(nb)}", flush=True)
            execute(nb)
        return 0

    if args.command == "adapt":
        for out in adapt(args.params_file):
            print(f"wrote {paths.relative(out)}")
        return 0

    import yaml

    params: dict[str, Any] = {}
    for f in args.parameters_file:
        params.update(yaml.safe_load(f.read_text()) or {})
    for name, value in args.parameter:
        params[name] = _parse_value(value)
    run_with_parameters(args.notebook, args.output, params)
    print(f"wrote {args.output} (figures and tables beside it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
