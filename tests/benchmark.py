"""Benchmark: the loop's timings against floors measured in the same run; writes docs/benchmark.md.

Run with `make benchmark` (or `python tests/benchmark.py [--skip loader imports reproduce test]`).  Not a test: it
prints each figure beside its floor and the ratio, and writes them, with the date, the core count and the machine's
load, to docs/benchmark.md, which the README quotes (no timing is typed anywhere else).

One function per measurement:

* :func:`reproduce_against_floor` - warm ``make reproduce`` against its floor: ``make data`` and then as many trivial
  notebooks as there are real ones, run the same way (``helpers.notebooks run-all``, the same parallelism), each
  importing what the real notebook's cells import, applying the style and saving one figure (:func:`floor_notebooks`);
  the two alternate, and each notebook's time in the real runs is kept;
* :func:`make_test` - ``make test``, once, against the 120 s target;
* :func:`import_times` - what each notebook's first code cell imports, in a fresh interpreter that has already
  imported what a kernel has (IPython, ipykernel), as ``python -X importtime`` would count it;
* the loader (issue 10): :func:`floor` (python-calamine through pandas), :func:`cold_load`, :func:`warm_load`,
  :func:`scale`, :func:`registered_load`, :func:`sheet_series`.

Wall times are noisy on a shared machine; CPU times (user + system of every process a measurement started) are
less so, and are shown too. Targets: warm make reproduce <= 1.2x its floor; make test <= 120 s on a quiet 2-core
machine; cold load of the archive <= 2x its floor, warm load <= 0.3x.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmark.md"
SIZES = (27, 100)  # plus the whole archive
TARGETS = {"cold": 2.0, "warm": 0.3, "reproduce": 1.2, "test": 120.0}
PARTS = ("imports", "reproduce", "test", "loader")


@dataclass
class Timing:
    label: str
    runs: list[float]

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


# A timed job runs in a fresh interpreter: `python -c CODE` prints the seconds of the timed part only.
_JOBS = {
    "floor": """
import pandas as pd
from helpers import data
paths = [data.fetch(p) for p in PATHS]
start = time.perf_counter()
for p in paths:
    pd.read_excel(p, engine="calamine")
""",
    "load": """
from helpers import ice
start = time.perf_counter()
ice.load_sheets(PATHS)
""",
    "series": """
from helpers import ice, timeline
sheets = ice.load_sheets(PATHS)
groups = {"Florida and Texas": ["FLORIDA", "TEXAS"],
          "Wisconsin, Iowa and the Dakotas": ["WISCONSIN", "IOWA", "NORTH DAKOTA", "SOUTH DAKOTA"]}
start = time.perf_counter()
timeline.sheet_series(sheets, "MINNESOTA", groups)
""",
}


def _run(job: str, paths: list[str], env: dict[str, str] | None = None) -> float:
    code = (
        "import json, sys, time, contextlib, io\nPATHS = json.loads(sys.argv[1])\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        + "\n".join("    " + line for line in _JOBS[job].strip().splitlines())
        + "\n    elapsed = time.perf_counter() - start\nprint(elapsed)\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, json.dumps(paths)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _show(t: Timing, floor_time: Timing | None = None) -> None:
    ratio = f"   {t.best / floor_time.best:5.2f}x floor" if floor_time else ""
    print(f"{t.label:48} best {t.best:6.2f} s   median {t.median:6.2f} s   ({len(t.runs)} runs){ratio}", flush=True)


def floor(paths: list[str], repeat: int = 3) -> Timing:
    """Reading the files with python-calamine through pandas, no cleaning."""
    return Timing(f"floor: pd.read_excel(calamine), {len(paths)} files", [_run("floor", paths) for _ in range(repeat)])


def cold_load(paths: list[str], repeat: int = 3) -> Timing:
    """ice.load_sheets with an empty parsed-sheet cache (a new temporary cache folder each run)."""
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            runs.append(_run("load", paths, {"ICE287G_SHEET_CACHE": cache}))
    return Timing(f"cold load (empty cache), {len(paths)} files", runs)


def warm_load(paths: list[str], repeat: int = 3) -> Timing:
    """ice.load_sheets with the parsed-sheet cache filled by a first load."""
    with tempfile.TemporaryDirectory() as cache:
        _run("load", paths, {"ICE287G_SHEET_CACHE": cache})
        runs = [_run("load", paths, {"ICE287G_SHEET_CACHE": cache}) for _ in range(repeat)]
    return Timing(f"warm load (cache filled), {len(paths)} files", runs)


def scale(paths: list[str], sizes: tuple[int, ...] = SIZES, repeat: int = 3) -> list[tuple[int, Timing, Timing]]:
    """Cold and warm loads of evenly spaced subsets of ``paths``, one per size."""
    out = []
    for n in sizes:
        step = len(paths) / n
        subset = [paths[int(i * step)] for i in range(n)]
        out.append((n, cold_load(subset, repeat), warm_load(subset, repeat)))
    return out


def registered_load(kind: str, repeat: int = 3) -> Timing:
    """Warm load of every registered sheet of one list type (what notebook 05 and the tests load)."""
    from helpers import ice

    paths = ice.catalogue(kind)["path"].tolist()
    t = warm_load(paths, repeat)
    return Timing(f"warm load of all {len(paths)} registered {kind} sheets", t.runs)


def sheet_series(paths: list[str], repeat: int = 3) -> Timing:
    """Counting notebook 05's per-sheet series on loaded sheets (cache filled)."""
    with tempfile.TemporaryDirectory() as cache:
        runs = [_run("series", paths, {"ICE287G_SHEET_CACHE": cache}) for _ in range(repeat)]
    return Timing(f"sheet series (timeline), {len(paths)} sheets, counting only", runs)


# --------------------------------------------------------------------------- the machine


def machine() -> str:
    """Date, cores, load averages and Python version, as one line."""
    load = os.getloadavg()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min), Python {platform.python_version()}"
    )


def load_now() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


@dataclass
class Run:
    """One timed command: wall and CPU seconds (user + system of it and every process it waited for)."""

    wall: float
    cpu: float
    load_before: float
    load_after: float
    ok: bool = True
    tail: str = ""
    notebooks: dict[str, float] = field(default_factory=dict)  # each notebook's time, as the runner printed it


def timed(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``command`` from the repository root, output captured; returns its wall and CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = load_now()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    ran = {m[1]: float(m[2]) for m in re.finditer(r"^\s+ran\s+(\S+)\s+([\d.]+) s$", done.stdout, re.MULTILINE)}
    return Run(wall, cpu, load, load_now(), done.returncode == 0, "\n".join(lines[-15:]), ran)


# --------------------------------------------------------------------------- make reproduce against its floor


def _imports(notebook: Path) -> list[str]:
    """Every import statement of a notebook's code cells, in order, once each."""
    out: list[str] = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            body = ast.parse("".join(cell["source"])).body
        except SyntaxError:
            continue
        out += [
            ast.unparse(n) for n in body if isinstance(n, (ast.Import, ast.ImportFrom)) and ast.unparse(n) not in out
        ]
    return out


def floor_notebooks(folder: Path, figures: Path) -> list[Path]:
    """One trivial notebook per real one (same name): its imports, the style, one figure saved to ``figures``."""
    import nbformat

    from helpers import notebooks

    made = []
    for real in notebooks.ordered_notebooks():
        code = "\n".join(
            [
                *_imports(real),
                "import os",
                "import matplotlib.pyplot as plt",
                "from helpers import plotting",
                f"os.environ['ICE287G_OUTPUT'] = {str(figures / real.stem)!r}",
                "plotting.use_style()",
                "fig, ax = plt.subplots()",
                "ax.bar(['a', 'b'], [1, 2])",
                "ax.set(title='A floor notebook', xlabel='x', ylabel='y')",
                f"plotting.save_figure(fig, {real.stem + '_floor'!r}, 'none')",
            ]
        )
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = dict(notebooks.KERNELSPEC)
        nb.cells = [nbformat.v4.new_markdown_cell("# floor"), nbformat.v4.new_code_cell(code)]
        target = folder / real.name
        nbformat.write(nb, target)
        made.append(target)
    return made


@dataclass
class Reproduce:
    real: list[Run]
    floor: list[Run]
    jobs: int = 1

    @property
    def ratio(self) -> float:
        return min(r.wall for r in self.real) / min(f.wall for f in self.floor)

    @property
    def paired_median(self) -> float:
        """Median of each run's ratio to the floor run right after it (they share the machine's state)."""
        return statistics.median(r.wall / f.wall for r, f in zip(self.real, self.floor))


def reproduce_against_floor(runs: int = 5) -> Reproduce:
    """Warm ``make reproduce`` and its floor, alternately, ``runs`` times each (the first real run warms the caches)."""
    from helpers import notebooks

    jobs = notebooks.default_jobs()
    make = ["make", "--no-print-directory"]
    timed([*make, "reproduce"])  # warm-up: parsed-sheet cache, font cache, .pyc files
    result = Reproduce([], [], jobs)
    with tempfile.TemporaryDirectory() as tmp:
        folder, figures = Path(tmp) / "notebooks", Path(tmp) / "figures"
        folder.mkdir()
        floor_notebooks(folder, figures)
        runner = [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "helpers.notebooks",
            "run-all",
            "-j",
            str(jobs),
            "--folder",
            str(folder),
        ]
        for _ in range(runs):
            real = timed([*make, "reproduce"])
            data_step = timed([*make, "data"])
            floor_run = timed(runner)
            floor = Run(
                data_step.wall + floor_run.wall,
                data_step.cpu + floor_run.cpu,
                data_step.load_before,
                floor_run.load_after,
                data_step.ok and floor_run.ok,
                floor_run.tail,
                floor_run.notebooks,
            )
            for label, r in (("make reproduce", real), ("floor", floor)):
                if not r.ok:
                    raise SystemExit(f"{label} failed:\n{r.tail}")
                print(f"  {label:16} {r.wall:6.1f} s wall  {r.cpu:6.1f} s CPU  (load {r.load_before:.2f})", flush=True)
            result.real.append(real)
            result.floor.append(floor)
    return result


def make_test() -> Run:
    """``make test`` once (it re-runs every notebook under nbval and the parameter files)."""
    return timed(["make", "--no-print-directory", "test"])


# --------------------------------------------------------------------------- imports


HEAVY = ("seaborn", "scipy", "statsmodels", "shapely", "pyarrow", "matplotlib.pyplot", "pandas")


def import_times(repeat: int = 3) -> list[tuple[str, float, list[str]]]:
    """(notebook, best seconds, heavy modules loaded) for the imports of each notebook's first code cell."""
    from helpers import notebooks

    out = []
    for nb in notebooks.ordered_notebooks():
        cells = [c for c in json.loads(nb.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        first = next(c for c in cells if "parameters" not in c["metadata"].get("tags", []))
        body = ast.parse("".join(first["source"])).body
        imports = "\n".join(ast.unparse(n) for n in body if isinstance(n, (ast.Import, ast.ImportFrom)))
        code = (
            "import sys, time, json\nimport IPython, ipykernel.ipkernel\nstart = time.perf_counter()\n"
            f"{imports}\nseconds = time.perf_counter() - start\n"
            f"print(json.dumps([seconds, sorted(m for m in {list(HEAVY)!r} if m in sys.modules)]))"
        )
        best, heavy = float("inf"), []
        for _ in range(repeat):
            done = subprocess.run(
                [sys.executable, "-c", code], cwd=nb.parent, capture_output=True, text=True, check=True
            )
            seconds, heavy = json.loads(done.stdout.strip().splitlines()[-1])
            best = min(best, seconds)
        out.append((nb.name, best, heavy))
        print(f"  {nb.name:38} {best:5.2f} s  ({', '.join(heavy)})", flush=True)
    return out


# --------------------------------------------------------------------------- the report


def _met(ratio: float, target: float) -> str:
    return "met" if ratio <= target else "NOT met"


def write_report(
    started: str,
    finished: str,
    reproduce: Reproduce | None,
    test: Run | None,
    imports: list[tuple[str, float, list[str]]] | None,
    loader: dict | None,
) -> None:
    """docs/benchmark.md: the figures of this run, for the README to quote."""
    lines = [
        "# Benchmark",
        "",
        "Written by `make benchmark` (`tests/benchmark.py`); every figure below comes from one run of it. The load",
        "averages count the benchmark's own previous steps as well as other work on the machine. Compare the ratios, which are",
        "measured in the same run, and read wall times on a loaded machine as upper bounds. CPU time is user +",
        "system time of every process the measurement started.",
        "",
        f"- started: {started}",
        f"- finished: {finished}",
        "",
        "## Targets",
        "",
        "| measurement | wall (s) | CPU (s) | floor or target | ratio | target | | load (1 min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    if reproduce is not None:
        real, floor = min(reproduce.real, key=lambda r: r.wall), min(reproduce.floor, key=lambda r: r.wall)
        lines.append(
            f"| warm `make reproduce`, best of {len(reproduce.real)} | {real.wall:.1f} | {real.cpu:.1f} | "
            f"floor {floor.wall:.1f} s | {reproduce.ratio:.2f}x | <= {TARGETS['reproduce']}x | "
            f"{_met(reproduce.ratio, TARGETS['reproduce'])} | {real.load_before:.2f} |"
        )
    if test is not None:
        ratio = test.wall / TARGETS["test"]
        state = _met(ratio, 1.0) if test.ok else "FAILED"
        lines.append(
            f"| `make test` | {test.wall:.1f} | {test.cpu:.1f} | {TARGETS['test']:.0f} s | {ratio:.2f}x | "
            f"<= 1.0x | {state} | {test.load_before:.2f} |"
        )
    if loader is not None:
        base = loader["floor"]
        for key in ("cold", "warm"):
            t = loader[key]
            ratio = t.best / base.best
            lines.append(
                f"| {t.label} | {t.best:.2f} | | floor {base.best:.2f} s | {ratio:.2f}x | <= {TARGETS[key]}x | "
                f"{_met(ratio, TARGETS[key])} | |"
            )
    if reproduce is not None:
        lines += [
            "",
            "## make reproduce against its floor",
            "",
            f"`make reproduce` runs the {len(reproduce.real[0].notebooks)} notebooks with {reproduce.jobs} at a time (one per core), "
            "`99_claims` last. The floor is `make data` followed by as many trivial notebooks, run the same way: each",
            "imports what the real notebook's cells import, applies the figure style and saves one figure. The two",
            "alternate; the first `make reproduce` before them fills the caches.",
            "",
            "| run | make reproduce wall (s) | CPU (s) | floor wall (s) | CPU (s) | ratio | load (1 min) |",
            "|---|---|---|---|---|---|---|",
        ]
        for i, (r, f) in enumerate(zip(reproduce.real, reproduce.floor), start=1):
            lines.append(
                f"| {i} | {r.wall:.1f} | {r.cpu:.1f} | {f.wall:.1f} | {f.cpu:.1f} | {r.wall / f.wall:.2f}x | "
                f"{r.load_before:.2f} |"
            )
        lines += [
            "",
            f"The target uses the best run of each ({reproduce.ratio:.2f}x); the median of the runs' own ratios is "
            f"{reproduce.paired_median:.2f}x. On a shared 2-core machine the two move by a few hundredths from one "
            "benchmark to the next.",
            "",
            "Each notebook's time in those runs, in its own process and kernel beside the others, against its floor",
            "notebook (best of the runs; the difference is the notebook's own work):",
            "",
            "| notebook | make reproduce (s) | floor (s) | difference (s) |",
            "|---|---|---|---|",
        ]
        for name in sorted({n for r in reproduce.real for n in r.notebooks}):
            real_t = min(r.notebooks[name] for r in reproduce.real if name in r.notebooks)
            floor_t = min((f.notebooks[name] for f in reproduce.floor if name in f.notebooks), default=float("nan"))
            lines.append(f"| {name} | {real_t:.1f} | {floor_t:.1f} | {real_t - floor_t:+.1f} |")
    if imports is not None:
        lines += [
            "",
            "## What each notebook's first cell imports",
            "",
            "In a fresh interpreter that has already imported what a kernel has (IPython, ipykernel); best of 3.",
            "",
            "| notebook | seconds | heavy modules loaded |",
            "|---|---|---|",
        ]
        lines += [f"| {name} | {seconds:.2f} | {', '.join(heavy)} |" for name, seconds, heavy in imports]
    if loader is not None:
        base, cold, warm = loader["floor"], loader["cold"], loader["warm"]
        lines += [
            "",
            "## Loading the 2025 archive against the floor",
            "",
            'The floor reads the same files with python-calamine through pandas (`pd.read_excel(engine="calamine")`),',
            "no cleaning. Each timing runs in a fresh Python process (imports excluded); best of the runs.",
            "",
            "| measurement | best (s) | median (s) | ratio to floor |",
            "|---|---|---|---|",
            f"| {base.label} | {base.best:.2f} | {base.median:.2f} | 1.00x |",
            f"| {cold.label} | {cold.best:.2f} | {cold.median:.2f} | {cold.best / base.best:.2f}x |",
            f"| {warm.label} | {warm.best:.2f} | {warm.median:.2f} | {warm.best / base.best:.2f}x |",
            "",
            "Cold and warm loads of evenly spaced subsets of the archive's publications. A cold load parses each",
            "distinct content once, so it grows with the number of distinct contents; a warm load reads one Parquet",
            "file per content and grows with the number of rows.",
            "",
            "| files | cold (s) | warm (s) | cold per file (ms) | warm per file (ms) |",
            "|---|---|---|---|---|",
        ]
        for n, c, w in loader["scaled"]:
            lines.append(f"| {n} | {c.best:.2f} | {w.best:.2f} | {1000 * c.best / n:.1f} | {1000 * w.best / n:.1f} |")
        lines += ["", "| other loader timings | best (s) | runs |", "|---|---|---|"]
        lines += [f"| {t.label} | {t.best:.2f} | {len(t.runs)} |" for t in loader["others"]]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    print(f"written to {REPORT.relative_to(ROOT)}")


README_START = "<!-- benchmark:start (written by `make benchmark`; do not edit) -->"
README_END = "<!-- benchmark:end -->"


def write_readme(when: str, reproduce: Reproduce | None, test: Run | None) -> None:
    """The README's timing lines (between its benchmark markers): this run's figures, nothing typed by hand."""
    if reproduce is None and test is None:
        return
    parts = []
    if reproduce is not None:
        real, floor = min(r.wall for r in reproduce.real), min(f.wall for f in reproduce.floor)
        parts.append(
            f"warm `make reproduce` took {real:.0f} s, {reproduce.ratio:.2f}x its floor of {floor:.0f} s "
            f"(target <= {TARGETS['reproduce']}x)"
        )
    if test is not None:
        parts.append(
            f"`make test` took {test.wall:.0f} s (target <= {TARGETS['test']:.0f} s on a quiet machine"
            + ("" if test.ok else "; it FAILED")
            + ")"
        )
    loads = [r.load_before for r in (reproduce.real if reproduce else [])] + ([test.load_before] if test else [])
    text = (
        f"Measured by `make benchmark` on {when}: {' and '.join(parts)}. The 1-minute load average was "
        f"{min(loads):.1f} to {max(loads):.1f} when they started; it counts the benchmark's own previous step, which "
        "kept both cores busy, as well as any other work, so compare the ratios and read wall times as upper bounds."
    )
    readme = ROOT / "README.md"
    content = readme.read_text(encoding="utf-8")
    if README_START not in content or README_END not in content:
        print(f"README.md has no {README_START} ... {README_END} markers; not updated")
        return
    head, rest = content.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{text}\n{README_END}{tail}", encoding="utf-8")
    print("README.md timing lines updated")


def loader_benchmark(repeat: int) -> dict:
    """Issue 10's loader figures: floor, cold, warm, scale and other loads."""
    from helpers import data, ice

    registry = data.load_registry()
    order = ice.catalogue("all").set_index("file")["published"]
    archive = sorted((p for p in registry if p.startswith(ice.ARCHIVE_FOLDER)), key=lambda p: (order[Path(p).name], p))
    for name in archive:
        data.fetch(name, registry=registry)
    base = floor(archive, repeat)
    _show(base)
    cold = cold_load(archive, repeat)
    _show(cold, base)
    warm = warm_load(archive, repeat)
    _show(warm, base)
    scaled = []
    for n, c, w in scale(archive, SIZES, repeat):
        _show(c), _show(w)
        scaled.append((n, c, w))
    scaled.append((len(archive), cold, warm))
    participating = ice.catalogue("participating")["path"].tolist()
    others = [
        registered_load("participating", repeat),
        registered_load("pending", repeat),
        sheet_series(participating, repeat),
    ]
    for t in others:
        _show(t)
    return {"floor": base, "cold": cold, "warm": warm, "scaled": scaled, "others": others}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip", nargs="*", choices=PARTS, default=[], help="parts not to measure")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each loader timing")
    # 5, not 3: two benchmarks of one commit gave 1.25x and 1.30x with 3 runs each (2 cores, load 1.3-2)
    parser.add_argument("--reproduce-runs", type=int, default=5, help="runs of make reproduce and of its floor")
    args = parser.parse_args(argv)

    started = machine()
    print(started, flush=True)
    if load_now() > (os.cpu_count() or 1) / 2:
        print("note: the machine is busy; wall times are upper bounds (see the load columns)", flush=True)
    imports = reproduce = test = loader = None
    if "imports" not in args.skip:
        print("What each notebook's first cell imports:", flush=True)
        imports = import_times()
    if "reproduce" not in args.skip:
        print("Warm make reproduce against its floor:", flush=True)
        reproduce = reproduce_against_floor(args.reproduce_runs)
        real, floor_run = min(r.wall for r in reproduce.real), min(f.wall for f in reproduce.floor)
        print(
            f"make reproduce {real:.1f} s, floor {floor_run:.1f} s: {reproduce.ratio:.2f}x "
            f"(target <= {TARGETS['reproduce']}x; median of the runs' own ratios {reproduce.paired_median:.2f}x)",
            flush=True,
        )
    if "test" not in args.skip:
        print("make test:", flush=True)
        test = make_test()
        print(
            f"make test {test.wall:.1f} s wall, {test.cpu:.1f} s CPU, {'passed' if test.ok else 'FAILED'} "
            f"(target <= {TARGETS['test']:.0f} s: {test.wall / TARGETS['test']:.2f}x; load {test.load_before:.2f})",
            flush=True,
        )
        if not test.ok:
            print(test.tail)
    if "loader" not in args.skip:
        print("The loader against its floor:", flush=True)
        loader = loader_benchmark(args.repeat)
    write_report(started, machine(), reproduce, test, imports, loader)
    write_readme(f"{datetime.now(UTC):%Y-%m-%d} ({os.cpu_count()} cores)", reproduce, test)
    return 0 if test is None or test.ok else 1


if __name__ == "__main__":
    sys.exit(main())
