"""Repository-rooted paths.

Every other module and notebook gets its paths from here, so no code needs
``../..`` or ``sys.path`` tricks.  Outputs (figures, processed tables, recorded
claims) go under :func:`output_root`, which is the repository itself unless the
environment variable ``ICE287G_OUTPUT`` names another folder.  Adaptation runs
(``make adapt``) set it, so a run for another state never overwrites the
committed outputs.
"""

from __future__ import annotations

import os
from pathlib import Path

OUTPUT_ENV = "ICE287G_OUTPUT"
ROOT_ENV = "ICE287G_ROOT"


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


def output_root() -> Path:
    """Folder that receives figures and processed tables (the repo unless ``$ICE287G_OUTPUT``)."""
    env = os.environ.get(OUTPUT_ENV)
    return Path(env).resolve() if env else ROOT


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
