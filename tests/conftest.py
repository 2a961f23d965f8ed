"""Shared fixtures, and how the suite is spread over cores. Tests never touch the network: downloads go to a loopback server.

``make test`` runs the suite on every core with pytest-xdist (``-n JOBS --dist loadgroup``).  The notebooks under
nbval rewrite committed outputs (figures, ``data/processed/``, the README tables), and ``99_claims`` reads what the
others recorded; so every nbval item, and every test module that reads those committed outputs, is one work unit
(:data:`COMMITTED_OUTPUTS`, :func:`pytest_xdist_make_scheduler`): one worker runs them one after the other, in
collection order, while the other workers run the rest, one test at a time.  Slow tests (:data:`SLOW_MODULES`) are collected first, so that no worker is left with a long test at
the end.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from helpers import data, ice

SHARED_MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"


@pytest.fixture(scope="session")
def registry() -> dict[str, data.Entry]:
    return data.load_registry()


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The raw-data mirror ($RAW_DATA_MIRROR, else ../shared/data/raw beside the repo)."""
    path = data.env_mirror() or SHARED_MIRROR
    if not path.is_dir():
        pytest.fail(f"raw-data mirror not found at {path}; set {data.MIRROR_ENV}")
    return path


@pytest.fixture(autouse=True)
def _own_sheet_cache(request, monkeypatch):
    """A test that has a ``tmp_path`` keeps the parsed-sheet cache there, out of ``data/interim/``.

    Tests build workbooks under ICE-style names; their parsed tables must never land in, or be read from, the
    cache that notebooks use.  A test marked ``registered_sheets`` reads only registered sheets (a parameter file's
    run of a notebook), so it shares that cache instead of parsing every sheet again.
    """
    if "tmp_path" in request.fixturenames and request.node.get_closest_marker("registered_sheets") is None:
        monkeypatch.setenv(ice.CACHE_ENV, str(request.getfixturevalue("tmp_path") / "sheet-cache"))


@pytest.fixture()
def loopback_server(tmp_path):
    """Serve a temporary folder over HTTP on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


#: The xdist work unit of the notebooks under nbval and of the tests that read what they write.
COMMITTED_OUTPUTS = "committed-outputs"
#: Test modules that read committed outputs the notebooks rewrite (README.md, data/processed/, figures/).
READS_COMMITTED_OUTPUTS = {"test_claims.py", "test_docs.py", "test_project.py", "test_report.py"}
#: Test modules whose tests each run whole notebooks (seconds each): scheduled first.
SLOW_MODULES = ("test_params.py", "test_bad_inputs.py", "test_loop.py")


def shares_committed_outputs(path: str) -> bool:
    """True for a notebook (run by nbval) or a test module that reads what the notebooks write."""
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".ipynb") or name in READS_COMMITTED_OUTPUTS


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """pytest-xdist's scheduler for ``--dist load`` and ``--dist loadgroup``: one test at a time to whichever worker
    is free, except :data:`COMMITTED_OUTPUTS`, which goes to one worker whole, in collection order.

    (pytest-xdist's own ``xdist_group`` marks do not group under pytest 9, which no longer derives a test's id from
    the ``_nodeid`` that pytest-xdist rewrites; the grouping is done here, by path.)
    """
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class CommittedOutputsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return COMMITTED_OUTPUTS if shares_committed_outputs(nodeid.split("::", 1)[0]) else nodeid

    return CommittedOutputsTogether(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first, then the notebooks and the tests that share their outputs, then the rest."""

    def rank(item: pytest.Item) -> int:
        if item.path.name in SLOW_MODULES:
            return 0
        return 1 if shares_committed_outputs(item.path.name) else 2

    items.sort(key=rank)  # stable: a notebook's cells, and the notebooks, keep their order
