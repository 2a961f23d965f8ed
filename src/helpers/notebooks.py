"""Run the notebooks with papermill and keep their stored outputs stable.

``python -m helpers.notebooks run-all`` executes every ``notebooks/NN_*.ipynb``
in numeric order, in place, with default parameters: this is ``make
reproduce``.  ``python -m helpers.notebooks run NB OUT [-f params.yaml]
[-p name value ...]`` executes one notebook with other parameters into ``OUT``,
and ``python -m helpers.notebooks adapt notebooks/params/X.yaml`` runs every
notebook that takes those parameters into ``output/X/`` (adaptation runs; see
``notebooks/README.md``).  Neither ever writes over committed files.

How a run behaves:

* **Never half-written.** A notebook is executed into a temporary file and
  moved onto its target only when it ran to the end and was scrubbed; an
  interrupted run (Ctrl-C, SIGTERM, SIGKILL) leaves the target as it was.
* **Plain errors.** When a cell fails, the terminal shows the package's own
  message (exception type and text, notebook and cell) first and last; the
  full traceback stays in the executed notebook and in ``build/logs/``.
* **Quiet kernel.** On POSIX the kernel talks over IPC sockets rather than TCP,
  which also removes the kernel's "running over TCP without encryption" warning.
* **Stable bytes.** :func:`scrub` removes what changes from run to run or
  machine to machine (timings, absolute paths, the Python patch version), so
  that a second ``make reproduce`` leaves ``git status`` clean, and
  :func:`stamp_defaults` records the default parameters the committed outputs
  were made with (:func:`helpers.paths.start_run` compares a run with them).
  :func:`pre_save_hook` applies the same scrub when JupyterLab saves a
  notebook, so opening and saving one leaves ``git status`` clean.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import signal
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
    for i, cell in enumerate(nb.get("cells", [])):
        if nb.get("nbformat_minor", 0) >= 5 or "id" in cell:
            cell["id"] = f"cell-{i:02d}"  # by position: nbformat would otherwise make up random ids
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


class NotebookError(RuntimeError):
    """A notebook cell raised an exception; the message is the package's own, plainly."""

    def __init__(self, notebook: Path, exc: Any, saved: Path | None, log: Path | None) -> None:
        self.notebook = notebook
        self.ename: str = exc.ename
        self.evalue: str = _strip_ansi(exc.evalue)
        self.exec_count = exc.exec_count
        first = next((line for line in (exc.source or "").splitlines() if line.strip()), "")
        self.cell = f"cell In [{exc.exec_count}]" + (f" ({first.strip()[:60]})" if first else "")
        self.saved = saved
        self.log = log
        super().__init__(self.headline())

    def headline(self) -> str:
        """``ename: evalue``, as the package raised it."""
        return f"{self.ename}: {self.evalue}"

    def report(self) -> str:
        """What the terminal shows: the message first and last, where the traceback is in between."""
        where = [paths.relative(p) for p in (self.saved, self.log) if p is not None]
        return "\n".join(
            [
                f"error: {paths.relative(self.notebook)}, {self.cell}:",
                f"  {self.headline()}",
                f"  (full traceback: {' and '.join(where)})" if where else "",
                f"error: {self.headline()}",
            ]
        ).replace("\n\n", "\n")


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text or "")


def _kernel_manager_class() -> type:
    """papermill's kernel manager: IPC sockets on POSIX when their path fits, no interrupt on shutdown.

    Over TCP, ipykernel warns in the terminal that the connection is not
    encrypted; IPC sockets are files in Jupyter's runtime folder, private to
    the user.  A Unix socket path is limited to about 100 bytes, so very long
    runtime paths (and Windows) keep TCP.  jupyter_client interrupts a kernel
    before shutting it down, which makes ipykernel print "KeyboardInterrupt
    caught in kernel" in the terminal after every run; papermill shuts the
    kernel down only once it is idle or has failed, so that interrupt is skipped.
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import default

    runtime = Path(jupyter_runtime_dir())
    ipc = os.name == "posix" and len(str(runtime / "kernel-0123456789ab-ipc-99")) <= 100

    class QuietKernelManager(AsyncKernelManager):  # type: ignore[misc]
        """An AsyncKernelManager for batch runs: IPC transport when possible, no shutdown interrupt."""

        @default("transport")
        def _default_transport(self) -> str:
            return "ipc" if ipc else "tcp"

        @default("ip")
        def _default_ip(self) -> str:
            if self.transport != "ipc":
                return "127.0.0.1"
            # Socket files go to Jupyter's runtime folder, never the notebook's working folder.
            import uuid

            runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
            return str(runtime / f"kernel-{uuid.uuid4().hex[:12]}-ipc")

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return QuietKernelManager


def _partial_path(output: Path) -> Path:
    """Where papermill writes while it runs: ``build/running/`` for targets in the repository.

    ``build/`` is git-ignored and never collected by nbval, so a run killed with
    SIGKILL leaves nothing in ``notebooks/``.
    """
    import tempfile

    try:
        output.resolve().relative_to(paths.ROOT)
        folder = paths.BUILD / "running"
    except ValueError:
        folder = output.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{output.stem}.", suffix=".partial.ipynb")
    os.close(fd)
    return Path(name)


def _write_notebook(nb: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def execute(
    notebook: Path,
    output: Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (in place by default), then scrub it.

    The notebook runs into a temporary file that replaces ``output`` only once
    it is complete and scrubbed.  An in-place run is a reproduction: its
    parameters cell is the reference for :func:`helpers.paths.start_run`, and
    ``$ICE287G_OUTPUT`` is ignored.  A failing cell raises
    :class:`NotebookError`; the executed notebook with the traceback is kept
    (at ``output``, or for an in-place run at ``build/failed/<name>``, leaving
    the committed notebook as it was) together with ``build/logs/<stem>.log``.
    """
    import papermill as pm

    notebook = Path(notebook).resolve()
    output = Path(output).resolve() if output else notebook
    in_place = output == notebook
    tmp = _partial_path(output)
    saved_env = {k: os.environ.get(k) for k in (paths.REPRODUCE_ENV, paths.OUTPUT_ENV)}
    if in_place:
        os.environ[paths.REPRODUCE_ENV] = "1"
        os.environ.pop(paths.OUTPUT_ENV, None)
    try:
        pm.execute_notebook(
            str(notebook),
            str(tmp),
            parameters=parameters or {},
            kernel_name=KERNEL,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=False,
            report_mode=False,
            start_timeout=300,  # generous: kernels start slowly on a loaded 2-core machine
            iopub_timeout=60,
            kernel_manager_class=_kernel_manager_class(),
        )
    except pm.PapermillExecutionError as exc:
        saved = paths.BUILD / "failed" / output.name if in_place else output
        saved.parent.mkdir(parents=True, exist_ok=True)
        _write_notebook(scrub(json.loads(tmp.read_text(encoding="utf-8"))), tmp)
        os.replace(tmp, saved)
        log = paths.BUILD / "logs" / f"{notebook.stem}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(_strip_ansi(str(exc)).strip() + "\n", encoding="utf-8")
        raise NotebookError(notebook, exc, saved, log) from None
    else:
        nb = json.loads(tmp.read_text(encoding="utf-8"))
        _write_notebook(scrub(stamp_defaults(nb)), tmp)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return output


def parameter_cell(nb: dict[str, Any]) -> str | None:
    """Source of the notebook's cell tagged ``parameters`` (None if it has none)."""
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else source
    return None


def parameter_defaults(notebook: Path | dict[str, Any]) -> dict[str, Any]:
    """Names and literal values assigned in a notebook's ``parameters`` cell."""
    nb = notebook if isinstance(notebook, dict) else json.loads(Path(notebook).read_text(encoding="utf-8"))
    source = parameter_cell(nb)
    out: dict[str, Any] = {}
    for node in ast.parse(source or "").body:
        if isinstance(node, ast.Assign):
            value = ast.literal_eval(node.value)
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = value
    return out


def parameter_names(notebook: Path) -> set[str]:
    """Names assigned in a notebook's ``parameters`` cell."""
    return set(parameter_defaults(notebook))


def stamp_defaults(nb: dict[str, Any]) -> dict[str, Any]:
    """Record the parameters cell's values as ``metadata.ice287g.defaults`` (in place).

    These are the parameters the committed outputs were made with;
    :func:`helpers.paths.start_run` compares a run with them, so a parameters
    cell edited (and autosaved) in JupyterLab still routes outputs to ``output/``.
    """
    if parameter_cell(nb) is not None:
        nb.setdefault("metadata", {})["ice287g"] = {"defaults": parameter_defaults(nb)}
    return nb


def pre_save_hook(model: dict[str, Any], path: str = "", contents_manager: Any = None, **kwargs: Any) -> None:
    """jupyter_server pre-save hook: scrub notebooks of this repository before they are written.

    The kernel adds ``language_info.version`` (and JupyterLab may add timing
    metadata); without this hook, opening and saving a notebook would change it
    on disk.  ``make env`` installs the hook for every Jupyter server started
    from ``.venv`` (:func:`install_jupyter_config`).
    """
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    root = getattr(contents_manager, "root_dir", None)
    if root is not None:
        try:
            (Path(root) / path).resolve().relative_to(paths.ROOT)
        except ValueError:
            return  # a notebook of another project
    scrub(model["content"])


HOOK = "helpers.notebooks.pre_save_hook"


def install_jupyter_config(prefix: Path | None = None) -> Path:
    """Name :func:`pre_save_hook` in ``<prefix>/etc/jupyter/jupyter_server_config.json``.

    ``prefix`` defaults to the running environment (``.venv`` under ``make``);
    every ``jupyter lab`` started from it then scrubs notebooks on save.  Other
    settings in that file are kept.  (jupyter_server reads ``ContentsManager``
    settings from this file, not from ``jupyter_server_config.d/``.)
    """
    target = Path(prefix or sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.json"
    config = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else {}
    config.setdefault("ContentsManager", {})["pre_save_hook"] = HOOK
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


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
    Dates in the file stay as written (:func:`helpers.params.load_yaml`).
    """
    from helpers import params as checks

    params_file = Path(params_file)
    params = checks.load_yaml(params_file)
    out_dir = (out_root or paths.OUTPUT) / params_file.stem
    ran = []
    for nb in ordered_notebooks():
        if set(params) <= parameter_names(nb):
            print(f"running {nb.name} with {params_file.name} -> {out_dir.name}/", flush=True)
            ran.append(run_with_parameters(nb, out_dir / nb.name, params))
    if not ran:
        raise ValueError(f"{params_file}: no notebook takes all of {sorted(params)}")
    return ran


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM: stop like Ctrl-C, so temporary files are removed and the kernel is shut down."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from helpers import params as checks

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
    sub.add_parser("install-jupyter-config", help="make Jupyter servers of this environment scrub notebooks on save")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    try:
        if args.command == "install-jupyter-config":
            print(f"wrote {install_jupyter_config()}")
            return 0
        if args.command == "run-all":
            for nb in ordered_notebooks():
                print(f"running {paths.relative(nb)}", flush=True)
                execute(nb)
            return 0
        if args.command == "adapt":
            for out in adapt(args.params_file):
                print(f"wrote {paths.relative(out)}")
            return 0
        params: dict[str, Any] = {}
        for f in args.parameters_file:
            params.update(checks.load_yaml(f))
        for name, value in args.parameter:
            params[name] = checks.parse_value(value)
        run_with_parameters(args.notebook, args.output, params)
        print(f"wrote {args.output} (figures and tables beside it)")
        return 0
    except NotebookError as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    except (ValueError, checks.ParameterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the notebook being run was left as it was", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
