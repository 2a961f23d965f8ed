"""Benchmark: how long loading the ICE sheets and running the notebooks takes.

Run with `make benchmark` (or `python tests/benchmark.py`).  Not a test: it prints
timings.  Notebook runs go to a temporary output folder ($ICE287G_OUTPUT), so the
committed notebooks, figures and tables are not touched.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _time(label: str, func, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    best, median = min(times), statistics.median(times)
    print(f"{label:55} best {best:6.2f} s   median {median:6.2f} s   ({repeat} runs)", flush=True)
    return best


def main() -> int:
    from helpers import data, ice, notebooks, paths

    participating = ice.catalogue("participating")["path"].tolist()
    pending = ice.catalogue("pending")["path"].tolist()
    for name in participating + pending:
        data.fetch(name)
    _time(f"load all {len(participating)} participating sheets", lambda: ice.load_sheets(participating))
    _time(f"load all {len(pending)} pending sheets", lambda: ice.load_sheets(pending))
    from helpers import timeline

    groups = {"Florida and Texas": ["FLORIDA", "TEXAS"],
              "Wisconsin, Iowa and the Dakotas": ["WISCONSIN", "IOWA", "NORTH DAKOTA", "SOUTH DAKOTA"]}
    loaded = ice.load_sheets(participating)
    _time("sheet series (timeline), counting only", lambda: timeline.sheet_series(loaded, "MINNESOTA", groups))

    with tempfile.TemporaryDirectory() as tmp:
        os.environ[paths.OUTPUT_ENV] = tmp
        for nb in notebooks.ordered_notebooks():
            _time(f"papermill {nb.name}", lambda nb=nb: notebooks.execute(nb, Path(tmp) / nb.name), repeat=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
