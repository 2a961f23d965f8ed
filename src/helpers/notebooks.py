"""Run the notebooks with papermill and keep their stored outputs stable.

``python -m helpers.notebooks run-all`` executes every ``notebooks/NN_*.ipynb``
in place, with default parameters: this is ``make reproduce``.  The
independent notebooks run at the same time, as many at once as there are
cores (``-j N`` to choose), and the ``99_*`` notebooks run after all of them
(they read what the others recorded).  ``python -m helpers.notebooks run NB OUT [-f params.yaml]
[-p name value ...]`` executes one notebook with other parameters into ``OUT``,
and ``python -m helpers.notebooks adapt notebooks/params/X.yaml`` runs every
notebook that takes those parameters into ``output/X/`` (adaptation runs; see
``notebooks/README.md``).  Neither ever writes over committed files.

How a run behaves:

* **In parallel, with the same bytes.**  Each notebook runs in its own process
  and kernel; what a notebook writes depends only on its inputs, never on
  which notebooks run beside it (the recorded-claims table is updated under a
  lock, :func:`helpers.claims.store_lock`; every other file has one writer).
  Each notebook's time is printed when it ends.
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
import contextlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

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


@contextlib.contextmanager
def quick_jsonschema() -> Iterator[None]:
    """Within the block, importing jsonschema (nbformat, papermill, nbconvert do) skips ``rfc3987_syntax``.

    jsonschema registers an "iri" format checker when ``rfc3987_syntax`` is
    importable (jupyterlab's jupyter-events installs it), and that package
    compiles Earley parsers when imported: about a second of CPU on a quiet
    machine, several on a loaded one, in every process that runs notebooks.
    Notebook validation never checks the "iri" format, so while the block runs
    the module is made unavailable (only if neither it nor jsonschema is loaded
    yet), then importable again.  The only effect: jsonschema in this process
    has no "iri"/"iri-reference" checker.
    """
    blocked = "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # None makes `import` raise ImportError
    try:
        yield
    finally:
        if blocked and sys.modules.get("rfc3987_syntax", False) is None:
            del sys.modules["rfc3987_syntax"]


def _papermill() -> Any:
    """papermill, imported quickly (:func:`quick_jsonschema`)."""
    with quick_jsonschema():
        import papermill

    return papermill


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

    class QuietKernelManager(AsyncKernelManager):
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
    pm = _papermill()
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
            # papermill rewrites the whole notebook before and after every cell by default (about 0.1-0.3 s of a
            # notebook's run); it is written once, at the end or at the failing cell, which is all that is read.
            request_save_on_cell_execute=False,
            start_timeout=300,  # generous: kernels start slowly on a loaded 2-core machine
            iopub_timeout=60,
            # Every output has arrived when the last cell ends; a graceful shutdown only adds a race in ipykernel
            # (a control reply flushed to an iopub socket already closed) that prints a traceback to the terminal.
            shutdown_kernel="immediate",
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
        raise ValueError(
            f"{Path(notebook).name} has no parameter(s) {sorted(unknown)}; it takes {sorted(parameter_names(notebook))}"
        )
    previous = os.environ.get(paths.OUTPUT_ENV)
    os.environ[paths.OUTPUT_ENV] = str(output.parent.resolve())
    try:
        return execute(notebook, output, parameters)
    finally:
        if previous is None:
            os.environ.pop(paths.OUTPUT_ENV, None)
        else:
            os.environ[paths.OUTPUT_ENV] = previous


def adapt_tasks(params_file: Path, out_root: Path | None = None) -> list[Task]:
    """The runs :func:`adapt` makes: every notebook that takes all the parameters in ``params_file``."""
    from helpers import params as checks

    params_file = Path(params_file)
    params = checks.load_yaml(params_file)
    out_dir = (out_root or paths.OUTPUT) / params_file.stem
    tasks = [Task(nb, out_dir / nb.name, params) for nb in ordered_notebooks() if set(params) <= parameter_names(nb)]
    if not tasks:
        raise ValueError(f"{params_file}: no notebook takes all of {sorted(params)}")
    return tasks


def adapt(params_file: Path, out_root: Path | None = None, jobs: int = 1, out: TextIO | None = None) -> list[Path]:
    """Run every notebook that takes all the parameters in ``params_file`` (YAML) with them.

    Outputs go to ``output/<file stem>/`` (git-ignored): executed notebooks,
    ``figures/`` and ``data/processed/``.  Returns the executed notebooks.
    Dates in the file stay as written (:func:`helpers.params.load_yaml`).
    ``jobs`` notebooks run at once; a failing notebook raises :class:`RunFailed`.
    """
    tasks = adapt_tasks(params_file, out_root)
    results = run_tasks(tasks, jobs, out)
    if len(results) < len(tasks) or not all(r.ok for r in results):
        raise RunFailed(results)
    return [t.output for t in tasks if t.output is not None]


# --------------------------------------------------------------------------- running many notebooks

#: Notebooks with this number run after all the others: they read what the others recorded.
LAST = "99"


def default_jobs() -> int:
    """How many notebooks run at once by default: the cores this process may use.

    1 where ``fcntl`` is missing (Windows): parallel notebooks record claims into
    one table under an ``flock`` (:func:`helpers.claims.store_lock`).
    """
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - not POSIX
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)


def run_batches(notebooks: Sequence[Path]) -> list[list[Path]]:
    """The notebooks in the order they run: the independent ones, then those numbered :data:`LAST`."""
    first = [nb for nb in notebooks if not nb.name.startswith(LAST + "_")]
    last = [nb for nb in notebooks if nb.name.startswith(LAST + "_")]
    return [batch for batch in (first, last) if batch]


@dataclass(frozen=True)
class Task:
    """One notebook to execute: in place (``output`` None) or into ``output`` with ``parameters``."""

    notebook: Path
    output: Path | None = None
    parameters: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """The notebook's file name (and where it goes, for a run with parameters)."""
        if self.output is None:
            return self.notebook.name
        return f"{self.notebook.name} -> {paths.relative(self.output)}"


@dataclass(frozen=True)
class Result:
    """How one task ended: ``error`` is the terminal report of a failed cell (empty when it ran to the end)."""

    task: Task
    seconds: float
    error: str = ""
    headline: str = ""

    @property
    def ok(self) -> bool:
        """True when the notebook ran to the end."""
        return not self.error


#: Files that notebooks running at the same time may all write: the recorded claims, updated under
#: :func:`helpers.claims.store_lock` (``claims.RECORD_FILE``; tests/test_loop.py checks the name).
SHARED_OUTPUTS = ("claims_recorded.csv",)


class SharedOutputError(ValueError):
    """Two notebooks that run at the same time write the same file: whichever ends last would win."""


class RunFailed(RuntimeError):
    """One or more notebooks of a run failed; ``results`` holds every notebook that ran."""

    def __init__(self, results: list[Result]) -> None:
        self.results = results
        failed = [r for r in results if not r.ok]
        super().__init__(f"{len(failed)} notebook(s) failed: {', '.join(r.task.notebook.name for r in failed)}")

    def report(self) -> str:
        """Every failure's message (first and last, as :meth:`NotebookError.report` prints it)."""
        return "\n".join(r.error for r in self.results if not r.ok)


def _perform(task: Task, writes: Path | None = None) -> Result:
    """Execute one task in this process; a failing cell becomes a :class:`Result` with its report.

    ``writes`` receives the path of every file the notebook writes (:data:`helpers.paths.WRITES_ENV`).
    """
    start = time.perf_counter()
    previous = os.environ.get(paths.WRITES_ENV)
    if writes is not None:
        writes.parent.mkdir(parents=True, exist_ok=True)
        writes.write_text("", encoding="utf-8")
        os.environ[paths.WRITES_ENV] = str(writes)
    try:
        if task.output is None:
            execute(task.notebook)
        else:
            run_with_parameters(task.notebook, task.output, task.parameters or {})
    except NotebookError as exc:
        return Result(task, time.perf_counter() - start, exc.report(), f"{exc.cell}: {exc.headline()}")
    finally:
        if previous is None:
            os.environ.pop(paths.WRITES_ENV, None)
        else:
            os.environ[paths.WRITES_ENV] = previous
    return Result(task, time.perf_counter() - start)


def _writes_log(task: Task, folder: Path | None) -> Path | None:
    return None if folder is None else folder / f"{task.notebook.stem}.txt"


def check_outputs_apart(tasks: Sequence[Task], folder: Path) -> None:
    """Raise :class:`SharedOutputError` if two of ``tasks`` wrote the same file (other than :data:`SHARED_OUTPUTS`).

    ``folder`` holds what each wrote (:func:`run_tasks` with ``writes``).
    """
    writers: dict[str, list[str]] = {}
    for task in tasks:
        log = _writes_log(task, folder)
        if log is None or not log.is_file():
            continue
        for line in sorted(set(log.read_text(encoding="utf-8").splitlines())):
            if line and Path(line).name not in SHARED_OUTPUTS:
                writers.setdefault(line, []).append(task.notebook.name)
    shared = {path: names for path, names in writers.items() if len(names) > 1}
    if shared:
        listing = "; ".join(f"{paths.relative(Path(p))} by {' and '.join(n)}" for p, n in sorted(shared.items()))
        raise SharedOutputError(
            f"notebooks that run at the same time write the same file: {listing}. Whichever ends last would win: "
            "give each notebook its own file (or record shared values through helpers.claims.record)."
        )


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel send this process SIGTERM when its parent dies (even by SIGKILL).

    A worker whose runner was killed then stops its notebook like Ctrl-C does,
    leaving the target as it was, instead of finishing on its own.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        raise KeyboardInterrupt("runner gone")


def _worker(task: Task, parent: int, conn: Any, writes: Path | None = None) -> None:
    """Body of a worker process: run one task, send its :class:`Result` back."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        _die_with_parent(parent)
        conn.send(_perform(task, writes))
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        conn.close()


def _say(out: TextIO | None, text: str) -> None:
    if out is not None:
        print(text, file=out, flush=True)


def _line(result: Result, width: int = 0) -> str:
    status = "ran   " if result.ok else "FAILED"
    tail = "" if result.ok else f"  ({result.headline})"
    return f"  {status} {result.task.label:{width}}  {result.seconds:5.1f} s{tail}"


def run_tasks(
    tasks: Sequence[Task], jobs: int = 1, out: TextIO | None = None, width: int = 0, writes: Path | None = None
) -> list[Result]:
    """Execute ``tasks``, at most ``jobs`` at once; returns their results in the order of ``tasks``.

    With ``jobs`` 1 (or one task) they run one after the other in this process;
    otherwise each runs in a worker process of its own (forked on Linux, so the
    runner's imports are not repeated).  A line with each notebook's time goes
    to ``out`` as it ends.  After a failure no new task starts; those running
    finish.  Ctrl-C or SIGTERM stops every worker, and each leaves its target
    as it was (:func:`execute`).
    """
    results: dict[int, Result] = {}
    width = max([width, *(len(t.label) for t in tasks)])
    if jobs <= 1 or len(tasks) <= 1:
        for i, task in enumerate(tasks):
            results[i] = _perform(task, _writes_log(task, writes))
            _say(out, _line(results[i], width))
            if not results[i].ok:
                break
        return [results[i] for i in sorted(results)]

    import multiprocessing
    from multiprocessing.connection import Connection, wait
    from multiprocessing.context import ForkContext, SpawnContext

    if sys.platform.startswith("linux"):
        context: ForkContext | SpawnContext = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("spawn")
    waiting = list(enumerate(tasks))
    running: dict[Connection[Any, Any], tuple[int, Any, float]] = {}  # its end of the pipe -> (index, process, start)
    failed = False
    try:
        while waiting or running:
            while waiting and len(running) < jobs and not failed:
                i, task = waiting.pop(0)
                receive, send = context.Pipe(duplex=False)
                args = (task, os.getpid(), send, _writes_log(task, writes))
                process = context.Process(target=_worker, args=args, daemon=False)
                process.start()
                send.close()
                running[receive] = (i, process, time.perf_counter())
            if not running:
                break
            ready = set(wait(list(running)))  # readable: a result, or the end of a worker that died
            for receive in [conn for conn in running if conn in ready]:
                i, process, start = running.pop(receive)
                try:
                    result = receive.recv()
                except EOFError:
                    result = None
                receive.close()
                process.join()
                if result is None:  # the worker died without a word (killed, out of memory)
                    message = f"the process running it exited with code {process.exitcode}"
                    report = f"error: {paths.relative(tasks[i].notebook)}: {message}"
                    result = Result(tasks[i], time.perf_counter() - start, report, message)
                results[i] = result
                failed = failed or not result.ok
                _say(out, _line(result, width))
    except BaseException:
        for _, process, _ in running.values():
            process.terminate()  # SIGTERM: the worker stops its kernel and removes its temporary file
        for _, process, _ in running.values():
            process.join(120)
        raise
    return [results[i] for i in sorted(results)]


def _durations_file() -> Path:
    return paths.BUILD / "logs" / "durations.json"


def _longest_first(notebooks: list[Path]) -> list[Path]:
    """Notebooks by their last measured time, longest first (unknown ones first, in number order).

    Starting the longest first keeps the cores busy to the end; the order changes nothing that is written.
    """
    try:
        known = json.loads(_durations_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    return sorted(notebooks, key=lambda nb: -float(known.get(nb.name, float("inf"))))


def _remember(results: list[Result]) -> None:
    target = _durations_file()
    try:
        known = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known.update({r.task.notebook.name: round(r.seconds, 2) for r in results if r.ok})
    target.parent.mkdir(parents=True, exist_ok=True)
    with paths.atomic_write(target) as tmp:
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def run_all(folder: Path | None = None, jobs: int | None = None, out: TextIO | None = sys.stdout) -> list[Result]:
    """Execute every ``NN_*.ipynb`` of ``folder`` (``notebooks/``) in place: ``make reproduce``.

    The independent notebooks run ``jobs`` at a time (default :func:`default_jobs`),
    then the ``99_*`` ones; two notebooks of one batch that write the same file raise
    :class:`SharedOutputError` (:func:`check_outputs_apart`).  Raises :class:`RunFailed` when a notebook fails (the
    ``99_*`` notebooks then do not run).  Returns the results in run order.
    """
    jobs = jobs or default_jobs()
    batches = run_batches(ordered_notebooks(folder))
    count = sum(len(b) for b in batches)
    last = f", then {', '.join(nb.stem for nb in batches[-1])}" if len(batches) > 1 else ""
    at_once = min(jobs, len(batches[0])) if batches else 0
    _say(out, f"Running {count} notebooks in place ({at_once} at a time{last}):")
    width = max((len(nb.name) for batch in batches for nb in batch), default=0)
    start = time.perf_counter()
    results: list[Result] = []
    import tempfile

    for batch in batches:
        tasks = [Task(nb) for nb in _longest_first(batch)]
        with tempfile.TemporaryDirectory(prefix="notebook-writes-") as tmp:  # what each notebook wrote
            done = run_tasks(tasks, jobs, out, width, Path(tmp))
            results += done
            if folder is None:
                _remember(done)
            if len(done) < len(batch) or not all(r.ok for r in done):
                raise RunFailed(results)
            check_outputs_apart(tasks, Path(tmp))
    _say(out, f"Ran {count} notebooks in {time.perf_counter() - start:.1f} s.")
    return results


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM: stop like Ctrl-C, so temporary files are removed and the kernel is shut down."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from helpers import params as checks

    parser = argparse.ArgumentParser(prog="python -m helpers.notebooks")
    sub = parser.add_subparsers(dest="command", required=True)
    every = sub.add_parser("run-all", help="execute every NN_*.ipynb in place (99_* last)")
    every.add_argument("-j", "--jobs", type=int, default=None, help="notebooks at once (default: the cores)")
    every.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)  # the benchmark's floor
    one = sub.add_parser("run", help="execute one notebook with parameters into OUT")
    one.add_argument("notebook", type=Path)
    one.add_argument("output", type=Path)
    one.add_argument("-f", "--parameters-file", type=Path, action="append", default=[])
    one.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    many = sub.add_parser("adapt", help="run every notebook that takes the parameters in a YAML file")
    many.add_argument("params_file", type=Path)
    many.add_argument("-j", "--jobs", type=int, default=None, help="notebooks at once (default: the cores)")
    sub.add_parser("install-jupyter-config", help="make Jupyter servers of this environment scrub notebooks on save")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    try:
        if args.command == "install-jupyter-config":
            print(f"wrote {install_jupyter_config()}")
            return 0
        if args.command == "run-all":
            run_all(args.folder, args.jobs)
            return 0
        if args.command == "adapt":
            tasks = adapt_tasks(args.params_file)
            print(
                f"Running {len(tasks)} notebooks with {args.params_file.name} -> "
                f"{paths.relative(tasks[0].output.parent) if tasks[0].output else ''}/",
                flush=True,
            )
            for out in adapt(args.params_file, jobs=args.jobs or default_jobs(), out=sys.stdout):
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
    except RunFailed as exc:
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
