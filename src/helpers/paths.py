"""Repository-rooted paths, and where a run's outputs go.

Every other module and notebook gets its paths from here, so no code needs
``../..`` or ``sys.path`` tricks.  Outputs (figures, processed tables, recorded
claims) go under :func:`output_root`:

* the repository itself (``figures/``, ``data/processed/``) for a run with the
  default parameters, whose outputs are committed;
* the folder named by ``$ICE287G_OUTPUT`` when it is set (``make adapt`` and
  ``python -m helpers.notebooks run`` set it to the executed copy's folder);
* otherwise, for a run whose parameters differ from the defaults, the
  git-ignored ``output/<notebook>-<hash of the parameters>/``.

Each notebook's first code cell calls :func:`start_run` with its own name and
its variables; that call compares the parameters with the notebook's defaults
and routes the outputs, whichever runner executes the notebook (JupyterLab,
papermill, nbconvert, nbval or ``helpers.notebooks``).  :func:`atomic_write`
lets every writer replace a file only once its new bytes are complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

OUTPUT_ENV = "ICE287G_OUTPUT"
ROOT_ENV = "ICE287G_ROOT"
#: Set by ``helpers.notebooks`` when it re-executes a committed notebook in place
#: (``make reproduce``): the notebook's parameters cell is then the reference.
REPRODUCE_ENV = "ICE287G_REPRODUCE"
#: Suffix of the temporary files that :func:`atomic_write` renames into place (git-ignored).
PARTIAL_SUFFIX = ".partial"
#: Set by ``helpers.notebooks`` for each notebook it runs: :func:`atomic_write` appends every file it writes to the
#: file this names, so that a run can check that no two notebooks that run at the same time write the same file.
WRITES_ENV = "ICE287G_WRITES_LOG"


def _find_root() -> Path:
    """Return the repository root: ``$ICE287G_ROOT`` or the folder holding ``pyproject.toml``."""
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "data" / "registry.csv").is_file():
            return parent
    raise RuntimeError(
        "Cannot locate the repository root from "
        f"{here}. Install the package in editable mode (`make` does this) or set {ROOT_ENV}."
    )


ROOT: Path = _find_root()
DATA: Path = ROOT / "data"
RAW: Path = DATA / "raw"  # git-ignored cache filled by helpers.data.fetch
REGISTRY: Path = DATA / "registry.csv"
CLAIMS: Path = DATA / "claims.csv"
CORRECTIONS: Path = DATA / "corrections"
NOTEBOOKS: Path = ROOT / "notebooks"
README: Path = ROOT / "README.md"
OUTPUT: Path = ROOT / "output"  # git-ignored: runs with other parameters
BUILD: Path = ROOT / "build"  # git-ignored: logs and failed runs


def output_root() -> Path:
    """Folder that receives figures and processed tables.

    ``$ICE287G_OUTPUT`` when set; else the folder of the current non-default
    run (:func:`start_run`); else the repository.
    """
    env = os.environ.get(OUTPUT_ENV)
    if env:
        return Path(env).resolve()
    if _RUN is not None and not _RUN.is_default:
        return _RUN.output
    return ROOT


def figures_dir() -> Path:
    """Folder for figure PNGs (``figures/`` by default)."""
    return output_root() / "figures"


def processed_dir() -> Path:
    """Folder for processed tables (``data/processed/`` by default)."""
    return output_root() / "data" / "processed"


def is_default_output() -> bool:
    """True when outputs go to the committed folders (no ``$ICE287G_OUTPUT``)."""
    return output_root() == ROOT


def relative(path: Path) -> str:
    """Path as a POSIX string relative to the repo root when possible (never a machine path)."""
    path = Path(path).resolve()
    for base in (ROOT, output_root()):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.name


T = TypeVar("T")
#: Files read once in this process (:func:`read_once`): (kind, resolved path) -> (stamp, what was made of them).
_READ_ONCE: dict[tuple[str, Path], tuple[tuple[int, int, int, int], Any]] = {}


def read_once(kind: str, path: Path, read: Callable[[Path], T]) -> T:
    """``read(path)``, made once per process for each ``kind`` of file, and again whenever the file changes (its
    inode, modification or change time, or size), e.g. after ``python -m helpers.data add``.

    For tables a notebook asks for many times (the raw-data registry, the claims registry).  Every caller gets the
    same object: copy it before changing it.  A missing file raises :class:`FileNotFoundError` naming it.
    """
    stat = path.stat()
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
    key = (kind, path.resolve())
    cached = _READ_ONCE.get(key)
    if cached is None or cached[0] != stamp:
        cached = (stamp, read(path))
        _READ_ONCE[key] = cached
    return cached[1]


@contextlib.contextmanager
def atomic_write(path: Path, *, logged: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    An interrupted or failed write leaves ``path`` as it was (the temporary file,
    ``.<name>.<random>.partial``, is removed, or left git-ignored if the process
    is killed).  Parent folders are created.  The write is logged for
    ``run-all``'s check that parallel notebooks write different outputs, unless
    ``logged`` is False: content-addressed caches, which any process may write
    with the same bytes, pass False.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        log = os.environ.get(WRITES_ENV)
        if log and logged:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"{path.resolve()}\n")
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Run:
    """One execution of a notebook: its parameters, their defaults and where its outputs go."""

    notebook: str
    params: dict[str, Any]
    defaults: dict[str, Any]
    output: Path
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (value, default)

    @property
    def is_default(self) -> bool:
        """True when every parameter has its default value."""
        return not self.changed

    def describe(self) -> str:
        """One paragraph: what differs from the defaults and where the outputs go."""
        root = output_root()
        try:
            where = root.relative_to(ROOT).as_posix() + "/"
        except ValueError:
            where = f"the folder named by ${OUTPUT_ENV} (beside the executed notebook)"
        if self.is_default:
            return f"Default parameters; figures and tables go to {where}."
        diff = ", ".join(f"{k}={v!r} (default {d!r})" for k, (v, d) in self.changed.items())
        return (
            f"Parameters differ from the defaults: {diff}. Figures and tables go to {where} "
            "(git-ignored); the committed figures/ and data/processed/ are not touched, and claims "
            "are recorded only for the article's own parameters."
        )


_RUN: Run | None = None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def params_hash(params: Mapping[str, Any]) -> str:
    """First 8 hex digits of the sha256 of the parameters as sorted JSON."""
    return hashlib.sha256(_canonical(dict(params)).encode()).hexdigest()[:8]


def start_run(notebook: str, namespace: Mapping[str, Any]) -> Run:
    """Check a notebook's parameters and route its outputs; call it first in every notebook.

    ``notebook`` is the notebook's file stem as a literal (``"01_state_counties"``,
    found in ``notebooks/``); a notebook cannot reliably find its own file under
    every runner.  ``namespace`` holds the parameter values: pass ``globals()``;
    the names are those of the notebook's tagged parameters cell.

    The values are checked (:func:`helpers.params.check_all`: an error names the
    parameter) and compared with the defaults: those the committed outputs were
    made with (``metadata.ice287g.defaults``, stamped by ``make reproduce``), else
    the parameters cell of the notebook file.  ``make reproduce`` itself uses the
    parameters cell.  A run whose values differ writes its figures, tables and
    recorded claims to ``output/<notebook>-<hash>/`` (or ``$ICE287G_OUTPUT``) and
    prints so; a default run writes to ``figures/`` and ``data/processed/``.
    Package warnings shown in the notebook are also written to the terminal that
    started the kernel.
    """
    from helpers import notebooks
    from helpers import params as checks

    global _RUN
    path = NOTEBOOKS / f"{notebook}.ipynb"
    if not path.is_file():
        raise ValueError(f"start_run({notebook!r}): {relative(path)} does not exist; pass the notebook's file stem")
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = notebooks.parameter_defaults(nb)
    stamped = nb.get("metadata", {}).get("ice287g", {}).get("defaults")
    defaults = cell if os.environ.get(REPRODUCE_ENV) or stamped is None else stamped
    missing = sorted(set(cell) - set(namespace))
    if missing:
        raise ValueError(f"start_run({notebook!r}): parameter(s) {missing} are not defined; pass globals()")
    values = {name: namespace[name] for name in cell}
    _echo_warnings(notebook)
    checks.check_all(values)
    changed = {
        k: (v, defaults.get(k))
        for k, v in values.items()
        if k not in defaults or _canonical(v) != _canonical(defaults[k])
    }
    run = Run(notebook, values, dict(defaults), OUTPUT / f"{notebook}-{params_hash(values)}", changed)
    _RUN = run
    if not run.is_default or os.environ.get(OUTPUT_ENV):
        print(run.describe())
    return run


def current_run() -> Run | None:
    """The run started by :func:`start_run` in this process, if any."""
    return _RUN


def end_run() -> None:
    """Forget the current run (outputs go to the repository again); for tests."""
    global _RUN
    _RUN = None


def _in_kernel() -> bool:
    """True inside a Jupyter (ipykernel) kernel, whose ``sys.stderr`` goes to the notebook."""
    return type(sys.stderr).__module__.startswith("ipykernel")


def to_terminal(message: str) -> None:
    """Write ``message`` to the terminal that started this process, without adding it to a notebook.

    Inside a Jupyter kernel ``sys.stderr`` goes to the notebook; its
    ``fileno()`` is the kernel's original stderr, i.e. the terminal of
    papermill, ``helpers.notebooks``, nbconvert or ``jupyter lab``.  Outside a
    kernel the message goes to stderr.
    """
    text = message if message.endswith("\n") else message + "\n"
    if not _in_kernel():
        sys.stderr.write(text)
        sys.stderr.flush()
        return
    try:
        fd = sys.stderr.fileno()  # ipykernel: a copy of the kernel's original stderr
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is not None:
        os.write(fd, text.encode("utf-8", errors="replace"))
    elif sys.__stderr__ is not None:
        sys.__stderr__.write(text)
        sys.__stderr__.flush()


_ECHO_INSTALLED: list[bool] = []


def _echo_warnings(notebook: str) -> None:
    """Also show user-facing warnings (``UserWarning`` and subclasses) in the terminal."""
    if _ECHO_INSTALLED or not _in_kernel():
        return  # outside a kernel, warnings reach the terminal already
    original = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        original(message, category, filename, lineno, file, line)
        if issubclass(category, UserWarning):
            to_terminal(f"{notebook}: warning: {message}")

    warnings.showwarning = show
    _ECHO_INSTALLED.append(True)
