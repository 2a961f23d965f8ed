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
    with paths.atomic_write(out) as tmp:  # an interrupted run leaves the previous figure as it was
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None}, pil_kwargs={"optimize": False})
    plt.close(fig)
    return out


def show(path: Path):
    """Display a saved figure in the notebook (the file's own bytes, so output is stable)."""
    from IPython.display import Image

    return Image(filename=str(path))


def county_map(
    ax: plt.Axes,
    shapes: dict[str, list[list[tuple[float, float]]]],
    highlight: dict[str, str] | None = None,
) -> None:
    """Draw county outlines (lon/lat rings); fill the FIPS in ``highlight`` and label them.

    ``highlight`` maps county FIPS -> label.  Uses an equirectangular projection
    with the aspect corrected for latitude, which is adequate for one state.
    """
    import math

    from matplotlib.collections import PolyCollection

    highlight = highlight or {}
    polys, colors = [], []
    for fips in sorted(shapes):
        for ring in shapes[fips]:
            polys.append(ring)
            colors.append(HIGHLIGHT if fips in highlight else "#e6e9ed")
    ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="white", linewidths=0.6))
    xs = [x for ring in polys for x, _ in ring]
    ys = [y for ring in polys for _, y in ring]
    ax.set_xlim(min(xs), max(xs))
    ax.set_ylim(min(ys), max(ys))
    ax.set_aspect(1 / math.cos(math.radians((min(ys) + max(ys)) / 2)))
    for fips, label in sorted(highlight.items()):
        ring = max(shapes.get(fips, [[]]), key=len)
        if ring:
            cx = sum(x for x, _ in ring) / len(ring)
            cy = sum(y for _, y in ring) / len(ring)
            ax.annotate(label, (cx, cy), ha="center", va="center", fontsize=8, color="black",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_axis_off()
