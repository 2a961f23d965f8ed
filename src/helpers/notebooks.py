"""Run the notebooks with papermill and keep their stored outputs stable.

``python -m helpers.notebooks run-all`` executes every ``notebooks/NN_*.ipynb``
in numeric order, in place, with default parameters: this is ``make
reproduce``.  ``python -m helpers.notebooks run NB OUT [-f params.yaml]
[-p name value ...]`` executes one notebook with other parameters into ``OUT``
(adaptation runs; see ``notebooks/README.md``).

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
    return nb


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
    )
    nb = json.loads(output.read_text(encoding="utf-8"))
    output.write_text(json.dumps(scrub(nb), indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    return output


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
    args = parser.parse_args(argv)

    if args.command == "run-all":
        for nb in ordered_notebooks():
            print(f"running {paths.relative(nb)}", flush=True)
            execute(nb)
        return 0

    import yaml

    params: dict[str, Any] = {}
    for f in args.parameters_file:
        params.update(yaml.safe_load(f.read_text()) or {})
    for name, value in args.parameter:
        params[name] = _parse_value(value)
    execute(args.notebook, args.output, params)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
