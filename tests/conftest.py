"""Shared fixtures. Tests never touch the network: downloads go to a loopback server."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

from helpers import data

SHARED_MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"


@pytest.fixture(scope="session")
def registry() -> dict[str, data.Entry]:
    return data.load_registry()


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The raw-data mirror ($RAW_DATA_MIRROR, else ../shared/data/raw beside the repo)."""
    env = os.environ.get(data.MIRROR_ENV)
    path = Path(env) if env else SHARED_MIRROR
    if not path.is_dir():
        pytest.fail(f"raw-data mirror not found at {path}; set {data.MIRROR_ENV}")
    return path


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
