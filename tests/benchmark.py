"""Benchmark: how long loading the ICE sheets (and running the notebooks) takes, against a floor.

Run with `make benchmark` (or `python tests/benchmark.py [--no-notebooks]`).  Not a test: it prints timings and
writes them to docs/benchmark.md, which the README links to (no timing is typed anywhere else).

One function per measurement:

* :func:`floor` - reading the same files with python-calamine through pandas (``pd.read_excel(engine="calamine")``),
  no cleaning: the least any loader must spend;
* :func:`cold_load` - ``ice.load_sheets`` with an empty parsed-sheet cache, in a fresh process (nothing memoised);
* :func:`warm_load` - the same with the cache filled;
* :func:`scale` - cold and warm loads of 27, 100 and all archive files;
* :func:`registered_load` - every registered participating (or pending) sheet, cache filled;
* :func:`sheet_series` - the per-sheet counting of notebook 05 on loaded sheets;
* :func:`notebook_runs` - each notebook through papermill (outputs to a temporary folder, so the committed notebooks,
  figures and tables are not touched).

Each timing runs in a fresh Python process (imports excluded) and is repeated; the best and the median are shown.
Targets (issue 10): cold load of the archive <= 2x the floor, warm load <= 0.3x the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmark.md"
SIZES = (27, 100)  # plus the whole archive
TARGETS = {"cold": 2.0, "warm": 0.3}


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
    code = ("import json, sys, time, contextlib, io\nPATHS = json.loads(sys.argv[1])\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            + "\n".join("    " + line for line in _JOBS[job].strip().splitlines())
            + "\n    elapsed = time.perf_counter() - start\nprint(elapsed)\n")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code, json.dumps(paths)], env={**os.environ, **(env or {})},
                         capture_output=True, text=True, check=True, cwd=ROOT)
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


def notebook_runs() -> list[Timing]:
    """Each notebook through papermill, once (outputs go to a temporary folder)."""
    from helpers import notebooks, paths

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[paths.OUTPUT_ENV] = tmp
        for nb in notebooks.ordered_notebooks():
            start = time.perf_counter()
            notebooks.execute(nb, Path(tmp) / nb.name)
            out.append(Timing(f"papermill {nb.name}", [time.perf_counter() - start]))
            _show(out[-1])
    return out


def _machine() -> str:
    load = os.getloadavg()
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min), Python {platform.python_version()}")


def write_report(machine: tuple[str, str], base: Timing, cold: Timing, warm: Timing,
                 scaled: list[tuple[int, Timing, Timing]], others: list[Timing]) -> None:
    """docs/benchmark.md: the figures of this run, for the README to quote."""
    def verdict(t: Timing, target: float) -> str:
        ratio = t.best / base.best
        return f"{ratio:.2f}x | <= {target}x | {'met' if ratio <= target else 'NOT met'}"

    lines = [
        "# Loader benchmark",
        "",
        "Written by `make benchmark` (`tests/benchmark.py`); every figure below comes from one run of it. Timings are",
        "noisy on a shared machine: compare the ratios, which are measured in the same run.",
        "",
        f"- started: {machine[0]}",
        f"- finished: {machine[1]}",
        "",
        "## The 2025 archive against the floor",
        "",
        "The floor reads the same files with python-calamine through pandas (`pd.read_excel(engine=\"calamine\")`),",
        "no cleaning. Each timing runs in a fresh Python process (imports excluded); best of the runs.",
        "",
        "| measurement | best (s) | median (s) | ratio to floor | target | |",
        "|---|---|---|---|---|---|",
        f"| {base.label} | {base.best:.2f} | {base.median:.2f} | 1.00x | | |",
        f"| {cold.label} | {cold.best:.2f} | {cold.median:.2f} | {verdict(cold, TARGETS['cold'])} |",
        f"| {warm.label} | {warm.best:.2f} | {warm.median:.2f} | {verdict(warm, TARGETS['warm'])} |",
        "",
        "## Scale",
        "",
        "Cold and warm loads of evenly spaced subsets of the archive's publications. A cold load parses each distinct",
        "content once (the archive's 274 files hold 186 contents), so it grows with the number of distinct contents;",
        "a warm load reads one Parquet file per content and grows with the number of rows.",
        "",
        "| files | cold (s) | warm (s) | cold per file (ms) | warm per file (ms) |",
        "|---|---|---|---|---|",
    ]
    for n, c, w in scaled:
        lines.append(f"| {n} | {c.best:.2f} | {w.best:.2f} | {1000 * c.best / n:.1f} | {1000 * w.best / n:.1f} |")
    if others:
        lines += ["", "## Other timings", "", "| measurement | best (s) | runs |", "|---|---|---|"]
        lines += [f"| {t.label} | {t.best:.2f} | {len(t.runs)} |" for t in others]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    print(f"written to {REPORT.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-notebooks", action="store_true", help="skip the papermill runs")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from helpers import data, ice

    started = _machine()
    print(started)
    registry = data.load_registry()
    order = ice.catalogue("all").set_index("file")["published"]
    archive = sorted((p for p in registry if p.startswith(ice.ARCHIVE_FOLDER)), key=lambda p: (order[Path(p).name], p))
    for name in archive:
        data.fetch(name, registry=registry)
    base = floor(archive, args.repeat)
    _show(base)
    cold = cold_load(archive, args.repeat)
    _show(cold, base)
    warm = warm_load(archive, args.repeat)
    _show(warm, base)
    scaled = []
    for n, c, w in scale(archive, SIZES, args.repeat):
        _show(c), _show(w)
        scaled.append((n, c, w))
    scaled.append((len(archive), cold, warm))
    participating = ice.catalogue("participating")["path"].tolist()
    others = [registered_load("participating", args.repeat), registered_load("pending", args.repeat),
              sheet_series(participating, args.repeat)]
    for t in others:
        _show(t)
    if not args.no_notebooks:
        others += notebook_runs()
    write_report((started, _machine()), base, cold, warm, scaled, others)
    return 0


if __name__ == "__main__":
    sys.exit(main())
