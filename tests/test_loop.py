"""The fast loop: notebooks in parallel (99 last), safe concurrent claim records, light imports, a read-once registry."""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers import claims, data, notebooks, paths, plotting

# --------------------------------------------------------------------------- parallel notebooks


def _notebook(path: Path, *code: str) -> Path:
    """A notebook with a markdown cell and ``code`` cells (no parameters)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(notebooks.KERNELSPEC)
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), *(nbformat.v4.new_code_cell(c) for c in code)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _stamps(folder: Path, name: str, seconds: float = 0.0) -> str:
    """Code that writes when it started and ended into ``folder/name.json``."""
    return (
        "import json, time, pathlib\n"
        "start = time.time()\n"
        f"time.sleep({seconds})\n"
        f"pathlib.Path({str(folder / (name + '.json'))!r}).write_text(json.dumps([start, time.time()]))"
    )


# folder contents -> the batches they run in
BATCHES = [
    ("numbered order, 99 last", ["02_b", "01_a", "99_z", "06_f"], [["01_a", "02_b", "06_f"], ["99_z"]]),
    ("a new notebook is found by its number", ["01_a", "07_new"], [["01_a", "07_new"]]),
    ("only 99", ["99_z"], [["99_z"]]),
    ("names without two digits are not notebooks to run", ["1_a", "ab_c", "01_a"], [["01_a"]]),
]


@pytest.mark.parametrize(("case", "names", "expected"), BATCHES, ids=[b[0] for b in BATCHES])
def test_notebooks_are_found_by_pattern_and_99_runs_last(case, names, expected, tmp_path):
    for name in names:
        _notebook(tmp_path / f"{name}.ipynb", "x = 1")
    batches = notebooks.run_batches(notebooks.ordered_notebooks(tmp_path))
    assert [[nb.stem for nb in batch] for batch in batches] == expected


def test_independent_notebooks_run_at_once_and_99_after_them(tmp_path):
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    folder = tmp_path / "notebooks"
    _notebook(folder / "01_a.ipynb", _stamps(stamps, "01", 3))
    _notebook(folder / "02_b.ipynb", _stamps(stamps, "02", 3))
    _notebook(folder / "99_z.ipynb", _stamps(stamps, "99"))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    results = notebooks.run_all(folder, jobs=2, out=None)
    assert [r.task.notebook.name for r in results] == ["01_a.ipynb", "02_b.ipynb", "99_z.ipynb"] and all(
        r.ok for r in results
    )
    (s1, e1), (s2, e2), (s99, _) = (json.loads((stamps / f"{n}.json").read_text()) for n in ("01", "02", "99"))
    assert s2 < e1 and s1 < e2, "01 and 02 ran at the same time"
    assert s99 >= max(e1, e2), "99 started after the others ended"
    assert sorted(p.name for p in folder.iterdir()) == sorted(before), "nothing but the notebooks in the folder"
    assert all((folder / n).read_bytes() != b for n, b in before.items()), "each notebook was executed in place"


def test_a_failed_notebook_is_named_with_its_cell_and_99_does_not_run(tmp_path, capsys):
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    folder = tmp_path / "notebooks"
    _notebook(folder / "01_a.ipynb", "x = 1", "raise ValueError('the input is wrong: fix it')")
    _notebook(folder / "02_b.ipynb", _stamps(stamps, "02"))
    _notebook(folder / "99_z.ipynb", _stamps(stamps, "99"))
    committed = (folder / "01_a.ipynb").read_bytes()
    with pytest.raises(notebooks.RunFailed) as failed:
        notebooks.run_all(folder, jobs=2, out=sys.stdout)
    report = failed.value.report().splitlines()
    assert report[0].startswith("error: ") and "01_a.ipynb, cell In [2] (raise ValueError(" in report[0]
    assert report[1].strip() == report[-1].removeprefix("error: ") == "ValueError: the input is wrong: fix it"
    printed = capsys.readouterr().out
    assert "FAILED 01_a.ipynb" in printed and "ran    02_b.ipynb" in printed
    assert (stamps / "02.json").is_file() and not (stamps / "99.json").exists(), "02 ran, 99 did not"
    assert (folder / "01_a.ipynb").read_bytes() == committed, "the failed notebook is left as it was"
    assert (paths.BUILD / "failed" / "01_a.ipynb").is_file()


def _writes(path: Path) -> str:
    """Code that writes ``path`` the way figures and tables are written (helpers.paths.atomic_write)."""
    return (
        "import pathlib\nfrom helpers import paths\n"
        f"with paths.atomic_write(pathlib.Path({str(path)!r})) as tmp:\n    tmp.write_text('x')"
    )


# what 01 and 02 write (file names under tmp_path) -> the error, if any
SHARED_FILES = [
    ("one file written by both", ("same.csv", "same.csv"), r"same\.csv by 01_a\.ipynb and 02_b\.ipynb"),
    ("each its own file", ("a.csv", "b.csv"), None),
    ("the recorded claims, under their lock", ("claims_recorded.csv", "claims_recorded.csv"), None),
]


@pytest.mark.parametrize(("case", "files", "error"), SHARED_FILES, ids=[c[0] for c in SHARED_FILES])
def test_notebooks_that_run_at_once_may_not_write_the_same_file(case, files, error, tmp_path):
    folder = tmp_path / "notebooks"
    for name, file in zip(("01_a", "02_b"), files):
        _notebook(folder / f"{name}.ipynb", _writes(tmp_path / "out" / file))
    if error is None:
        assert all(r.ok for r in notebooks.run_all(folder, jobs=2, out=None))
    else:
        with pytest.raises(notebooks.SharedOutputError, match=error):
            notebooks.run_all(folder, jobs=2, out=None)
    assert notebooks.SHARED_OUTPUTS == (claims.RECORD_FILE,)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the worker learns of its runner's death through prctl"
)
@pytest.mark.parametrize(
    ("name", "code"), [("Ctrl-C", 130), ("SIGTERM", 130), ("SIGKILL", -9)], ids=["Ctrl-C", "SIGTERM", "SIGKILL"]
)
def test_interrupted_parallel_run_leaves_every_notebook_as_it_was(name, code, tmp_path):
    """The runner stopped while two notebooks run at once: both are left as they were, their kernels stop.

    Ctrl-C in a terminal sends SIGINT to the runner and its workers (the process group); SIGTERM and SIGKILL go to
    the runner alone.
    """
    folder = tmp_path / "notebooks"
    markers = [tmp_path / "01", tmp_path / "02"]
    for nb, marker in zip(("01_a", "02_b"), markers):
        _notebook(
            folder / f"{nb}.ipynb",
            f"import pathlib, os, time\npathlib.Path({str(marker)!r}).write_text(str(os.getpid()))\ntime.sleep(300)",
        )
    committed = {p.name: p.read_bytes() for p in folder.iterdir()}
    run = subprocess.Popen(
        [sys.executable, "-m", "helpers.notebooks", "run-all", "-j", "2", "--folder", str(folder)],
        cwd=paths.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    kernels: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while not all(m.exists() and m.read_text() for m in markers):
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.2)
        kernels = [int(m.read_text()) for m in markers]
        if name == "Ctrl-C":
            os.killpg(run.pid, signal.SIGINT)
        else:
            run.send_signal(getattr(signal, name))
        _, err = run.communicate(timeout=120)
        assert run.returncode == code, err
        if name != "SIGKILL":
            assert "interrupted: the notebook being run was left as it was" in err
        deadline = time.monotonic() + 60
        while any(Path(f"/proc/{k}").is_dir() for k in kernels) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [k for k in kernels if Path(f"/proc/{k}").is_dir()], "every kernel is shut down"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for k in kernels:  # only if the test failed: stop what it started
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == committed, (
        "the notebooks are as they were, nothing added"
    )


def test_default_jobs_is_the_usable_cores():
    assert notebooks.default_jobs() == len(os.sched_getaffinity(0))


# --------------------------------------------------------------------------- claims recorded at once

CLAIMS = pd.DataFrame(
    [
        {
            "claim_id": f"c{i}",
            "sentence": "s",
            "article_value": "1",
            "kind": "count",
            "notebook": f"0{i}_x",
            "params": "{}",
            "reason": "",
        }
        for i in range(6)
    ]
)


def _record_many(claim_id: str, store: str, times: int) -> None:
    for value in range(times):
        claims.record(claim_id, value, params={}, claims=CLAIMS, store=Path(store))


def test_notebooks_recording_at_once_lose_no_claim(tmp_path):
    """Six processes record into one table at once (as notebooks 01-06 do); every last value is kept."""
    store = tmp_path / "claims_recorded.csv"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_record_many, args=(cid, str(store), 15)) for cid in CLAIMS["claim_id"]]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * len(workers)
    table = claims.load_recorded(store)
    assert table["claim_id"].tolist() == CLAIMS["claim_id"].tolist()
    assert set(table["value"]) == {"14"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims_recorded.csv"], "no lock or temporary file is left"


def test_a_record_waits_for_the_lock(tmp_path):
    store = tmp_path / "claims_recorded.csv"
    done = threading.Event()

    def record() -> None:
        claims.record("c1", 3, params={}, claims=CLAIMS, store=store)
        done.set()

    with claims.store_lock(store):
        thread = threading.Thread(target=record)
        thread.start()
        assert not done.wait(1.0), "the record waited while another held the lock"
    thread.join(30)
    assert done.is_set() and claims.load_recorded(store)["value"].tolist() == ["3"]


# --------------------------------------------------------------------------- light imports

HEAVY = ("seaborn", "scipy", "statsmodels")


def _first_cell_imports(path: Path) -> str:
    """The import statements of a notebook's first code cell after the parameters (what every run pays for)."""
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    cell = next(c for c in cells if "parameters" not in c["metadata"].get("tags", []))
    body = ast.parse("".join(cell["source"])).body
    return "\n".join(ast.unparse(n) for n in body if isinstance(n, (ast.Import, ast.ImportFrom)))


NOTEBOOKS = notebooks.ordered_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_helpers_import_no_heavy_module_a_notebook_does_not_ask_for(path):
    """seaborn, scipy and statsmodels load only in notebooks that import them or call what needs them."""
    imports = _first_cell_imports(path)
    asked = {name for name in HEAVY if name in imports}
    code = (
        f"import sys\n{imports}\nfrom helpers import plotting\nplotting.use_style()\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=path.parent)
    loaded = set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    extra = loaded - asked - ({"scipy", "statsmodels"} if "seaborn" in asked else set())  # what seaborn imports itself
    assert not extra, f"{path.name}: {sorted(extra)} imported by the helpers it imports; import them where used"


def test_the_style_is_seaborns_whitegrid_without_importing_seaborn():
    import matplotlib as mpl
    import matplotlib.colors as mcolors

    def current() -> tuple[dict, dict]:
        return dict(mpl.rcParams), {c: mcolors.to_rgb(c) for c in "bgrmyck"}

    with mpl.rc_context():
        mpl.rcdefaults()
        plotting.use_style()
        ours = current()
        import seaborn as sns

        mpl.rcdefaults()
        sns.set_theme(style="whitegrid", context="notebook", font="DejaVu Sans")
        mpl.rcParams.update(plotting.STYLE)
        theirs = current()
        mpl.rcdefaults()
        plotting.use_style()  # seaborn is imported now: its "rocket" colormap exists and is the default, as in seaborn
        again = current()
    differs = {k: (ours[0][k], theirs[0][k]) for k in theirs[0] if ours[0][k] != theirs[0][k]}
    assert differs == {"image.cmap": ("viridis", "rocket")}, differs
    assert ours[1] == theirs[1], "the colour codes b, g, r, ... are seaborn's deep palette"
    assert again == theirs


# --------------------------------------------------------------------------- the registry, read once


def test_the_registry_is_read_once_and_again_when_it_changes(tmp_path, monkeypatch):
    registry = tmp_path / "registry.csv"
    registry.write_bytes(paths.REGISTRY.read_bytes())
    first = data.load_registry(registry)
    reads: list[Path] = []
    original = data._read_registry
    monkeypatch.setattr(data, "_read_registry", lambda p: reads.append(p) or original(p))
    second = data.load_registry(registry)
    assert second == first and second is not first and reads == [], "read once, a new dict each time"
    second.clear()
    assert data.load_registry(registry) == first, "a caller's change to its dict does not reach the next caller"
    lines = registry.read_text().splitlines(keepends=True)
    with paths.atomic_write(registry) as tmp:  # how helpers.data add rewrites it
        tmp.write_text("".join(lines[:-1]))
    assert len(data.load_registry(registry)) == len(first) - 1 and reads == [registry]


def _same_size_other_bytes(path: Path) -> None:
    time.sleep(0.01)  # a later modification time, on file systems that keep whole milliseconds only
    path.write_text(path.read_text().replace("a", "b"))


@pytest.mark.parametrize(
    ("change", "reads_again"),
    [
        ("nothing", False),
        ("appended", True),  # another size
        ("same size, other bytes", True),  # another modification time
        ("replaced by rename", True),  # another inode (atomic_write's way)
    ],
)
def test_read_once_reads_again_only_when_the_file_changes(tmp_path, change, reads_again):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    made: list[str] = []

    def read(p: Path) -> str:
        made.append(p.read_text())
        return made[-1]

    kind = f"test {change}"
    assert paths.read_once(kind, path, read) == "a,b\n1,2\n"
    if change == "appended":
        path.write_text(path.read_text() + "3,4\n")
    elif change == "same size, other bytes":
        _same_size_other_bytes(path)
    elif change == "replaced by rename":
        with paths.atomic_write(path) as tmp:
            tmp.write_text("a,b\n5,6\n")
    assert paths.read_once(kind, path, read) == path.read_text()
    assert len(made) == (2 if reads_again else 1)
    assert paths.read_once(f"another {kind}", path, read) == path.read_text(), "each kind of file is its own"
    assert len(made) == (3 if reads_again else 2)


def test_read_once_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        paths.read_once("test missing", tmp_path / "absent.csv", lambda p: p.read_text())


def test_fetch_all_with_progress_gives_the_same_table(registry):
    names = sorted(registry)[:3]
    assert data.fetch_all(names, progress=True).equals(data.fetch_all(names))


# --------------------------------------------------------------------------- a setup that talks


def _make(*lines: str) -> subprocess.CompletedProcess:
    """Run a one-off make target defined by ``lines`` (recipe lines) with the project's Makefile variables."""
    recipe = "".join(f"\t{line}\n" for line in lines)
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", f"probe:\n{recipe}", "probe"],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
    )


def test_pip_output_loses_only_the_missing_index_folder_warnings():
    pip = (
        "WARNING: Location 'file:///opt/pypi/simple/anyio/' is ignored: it is neither a file nor a directory.\\n"
        "ERROR: Could not find a version that satisfies the requirement nosuchpackage==1.0\\n"
        "WARNING: Location 'file:///opt/pypi-more/simple/anyio/' is ignored: it is neither a file nor a directory.\\n"
        "WARNING: pip is configured with locations that require TLS/SSL\\n"
    )
    done = _make(f'printf "{pip}" | $(PIP_FILTER)')
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ERROR: Could not find a version that satisfies the requirement nosuchpackage==1.0",
        "WARNING: pip is configured with locations that require TLS/SSL",
        "  (left out 2 pip warnings about index folders in the pip configuration that do not exist)",
    ]
    assert _make("false | $(PIP_FILTER)").returncode != 0, "a failing pip still fails the recipe"


def test_the_setup_counts_the_pinned_packages():
    pins = [line for line in (paths.ROOT / "requirements.lock").read_text().splitlines() if "==" in line]
    assert _make("echo $(PINNED)").stdout.strip() == str(len(pins))
