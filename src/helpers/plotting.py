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


#: PNG text key that holds a figure's alt text (written by :func:`save_figure`, read by :func:`show`).
ALT_KEY = "Description"


def save_figure(fig: plt.Figure, name: str, source: str | Iterable[str], alt: str | None = None) -> Path:
    """Add a source line, save ``figures/<name>.png`` with stable bytes, close the figure.

    ``source`` names the raw files or publishers the figure is drawn from.
    ``alt`` is the figure's alt text, a sentence that states its finding for a
    reader who cannot see it (default: the figure's title, which by the package's
    convention states the finding; :func:`figure_title`); it is stored in the PNG
    itself (text chunk :data:`ALT_KEY`), so :func:`show` and the HTML report find
    it with the file.
    Returns the written path.
    """
    if not name.endswith(".png"):
        name = f"{name}.png"
    text = source if isinstance(source, str) else "; ".join(source)
    fig.text(0.0, -0.01, f"Source: {text}", ha="left", va="top", fontsize=8, color="#555555", wrap=True)
    out = paths.figures_dir() / name
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata: dict[str, str | None] = {"Software": None}
    if alt is None:
        alt = figure_title(fig)
    if alt is not None:
        alt = " ".join(str(alt).split())
        if not alt:
            raise ValueError(f"{name}: alt text is empty; state the figure's finding in a sentence")
        metadata[ALT_KEY] = alt
    fig.savefig(out, dpi=DPI, bbox_inches="tight", metadata=metadata, pil_kwargs={"optimize": False})
    plt.close(fig)
    return out


def figure_title(fig: plt.Figure) -> str | None:
    """The figure's title text (suptitle, then every axes title), on one line; None if it has none.

    A line break becomes ``"; "`` unless the line ends in punctuation.
    """
    titles = [fig._suptitle.get_text()] if getattr(fig, "_suptitle", None) is not None else []
    for ax in fig.axes:
        titles += [ax.get_title(loc) for loc in ("left", "center", "right")]
    lines = [" ".join(line.split()) for t in titles if t for line in t.splitlines() if line.strip()]
    # a title's line break is punctuation to a reader: keep it as "; " unless the line already ends in some
    text = "".join(line if i == 0 else (" " if lines[i - 1][-1] in ",;:." else "; ") + line for i, line in enumerate(lines))
    return text or None


def alt_text(path: Path) -> str | None:
    """The alt text stored in a PNG by :func:`save_figure` (None if it has none)."""
    from PIL import Image as PILImage

    with PILImage.open(path) as im:
        return getattr(im, "text", {}).get(ALT_KEY)


def show(path: Path, alt: str | None = None):
    """Display a saved figure in the notebook (the file's own bytes, so output is stable).

    ``alt`` (default: the alt text stored in the PNG) goes into the output's
    metadata, where the HTML report puts it on the ``<img>``.
    """
    from IPython.display import Image

    alt = alt if alt is not None else alt_text(path)
    return Image(filename=str(path), alt=alt)


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
