"""One figure style for every notebook, and byte-stable PNG output.

Every figure gets a title that states the finding, labelled axes, and a source
line naming the raw files; :func:`save_figure` writes it to ``figures/`` with
fixed PNG metadata (no software version, no timestamp) so that re-running a
notebook leaves the file byte-identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")  # no display needed; also what papermill and nbval get

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from helpers import paths  # noqa: E402

#: Highlight colour for the article's states and counties; everything else is grey.
HIGHLIGHT = "#b2182b"
SECOND = "#2166ac"
MUTED = "#9aa5b1"
#: Colours for the three canonical support types.
SUPPORT_COLORS = {
    "Jail Enforcement Model": "#1b9e77",
    "Task Force Model": "#d95f02",
    "Warrant Service Officer": "#7570b3",
}
DPI = 150


def use_style() -> None:
    """Apply the package's figure style (call once at the top of a notebook)."""
    sns.set_theme(style="whitegrid", context="notebook", font="DejaVu Sans")
    plt.rcParams.update(
        {
            "figure.figsize": (9.0, 5.5),
            "figure.dpi": 100,
            "axes.titlesize": 13,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.labelsize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "svg.hashsalt": "mn-287g",
            "savefig.dpi": DPI,
        }
    )


def save_figure(fig: plt.Figure, name: str, source: str | Iterable[str]) -> Path:
    """Add a source line, save ``figures/<name>.png`` with stable bytes, close the figure.

    ``source`` names the raw files or publishers the figure is drawn from.
    Returns the written path.
    """
    if not name.endswith(".png"):
        name = f"{name}.png"
    text = source if isinstance(source, str) else "; ".join(source)
    fig.text(0.0, -0.01, f"Source: {text}", ha="left", va="top", fontsize=8, color="#555555", wrap=True)
    out = paths.figures_dir() / name
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, bbox_inches="tight", metadata={"Software": None}, pil_kwargs={"optimize": False})
    plt.close(fig)
    return out


def show(path: Path):
    """Display a saved figure in the notebook (the file's own bytes, so output is stable)."""
    from IPython.display import Image

    return Image(filename=str(path))
