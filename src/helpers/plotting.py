"""One figure style for every notebook, and byte-stable PNG output.

Every figure gets a title that states the finding, labelled axes, and a source
line naming the raw files; :func:`save_figure` writes it to ``figures/`` with
fixed PNG metadata (no software version, no timestamp) so that re-running a
notebook leaves the file byte-identical.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # no display needed; also what papermill and nbval get

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
import shapely.ops  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402
from shapely.geometry import MultiPolygon, Polygon  # noqa: E402

from helpers import geo, paths  # noqa: E402
from helpers.text import counted, join, verb  # noqa: E402

if TYPE_CHECKING:
    from IPython.display import Image
    from matplotlib.axis import Axis
    from matplotlib.backend_bases import RendererBase
    from matplotlib.typing import RcKeyType

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
#: How save_figure encodes PNG (Pillow's options).
PNG_OPTIONS = {"optimize": False, "compress_level": 3}


#: seaborn's ``set_theme(style="whitegrid", context="notebook", font="DejaVu Sans")``, written out: importing
#: seaborn imports scipy.stats (about half a second per kernel), and most notebooks draw with matplotlib alone.
#: tests/test_loop.py checks that these equal what seaborn sets.  ``image.cmap`` ("rocket") is set only when
#: seaborn, which registers that colormap, is imported; no figure uses a default colormap.
SEABORN_WHITEGRID: dict[RcKeyType, Any] = {
    "axes.axisbelow": True,
    "axes.edgecolor": ".8",
    "axes.facecolor": "white",
    "axes.grid": True,
    "axes.labelcolor": ".15",
    "axes.labelsize": 12,
    "axes.linewidth": 1.25,
    "axes.spines.bottom": True,
    "axes.spines.left": True,
    "axes.spines.right": True,
    "axes.spines.top": True,
    "axes.titlesize": 12,
    "figure.facecolor": "white",
    "font.family": "DejaVu Sans",
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "font.size": 12,
    "grid.color": ".8",
    "grid.linestyle": "-",
    "grid.linewidth": 1,
    "image.cmap": "rocket",
    "legend.fontsize": 11,
    "legend.title_fontsize": 12,
    "lines.linewidth": 1.5,
    "lines.markersize": 6,
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "patch.linewidth": 1,
    "text.color": ".15",
    "xtick.bottom": False,
    "xtick.color": ".15",
    "xtick.direction": "out",
    "xtick.labelsize": 11,
    "xtick.major.size": 6,
    "xtick.major.width": 1.25,
    "xtick.minor.size": 4,
    "xtick.minor.width": 1,
    "xtick.top": False,
    "ytick.color": ".15",
    "ytick.direction": "out",
    "ytick.labelsize": 11,
    "ytick.left": False,
    "ytick.major.size": 6,
    "ytick.major.width": 1.25,
    "ytick.minor.size": 4,
    "ytick.minor.width": 1,
    "ytick.right": False,
}
#: seaborn's "deep" palette: the colour cycle, and the colours of the codes "b", "g", "r", "m", "y", "c".
SEABORN_DEEP = [
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#C44E52",
    "#8172B3",
    "#937860",
    "#DA8BC3",
    "#8C8C8C",
    "#CCB974",
    "#64B5CD",
]
#: The package's own settings, applied over seaborn's theme.
STYLE: dict[RcKeyType, Any] = {
    "figure.figsize": (9.0, 5.5),
    "figure.dpi": DPI,  # as saved: text measured while drawing (titles, map labels) is measured once
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    # Titles sit at the axes' top.  With the default (None) matplotlib lays out the y axis's ticks once more on every
    # draw to see whether a title must move above an offset text; save_figure checks that once instead.
    "axes.titley": 1.0,
    # Glyphs drawn as the font shapes them, without FreeType's hinting: at 150 dpi they look the same, and text is
    # laid out and drawn about a third faster (measured: about 0.4 s of CPU over the package's 11 figures).
    "text.hinting": "no_hinting",
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "svg.hashsalt": "mn-287g",
    "savefig.dpi": DPI,
}


def use_style() -> None:
    """Apply the package's figure style (call once at the top of a notebook).

    seaborn's whitegrid theme (:data:`SEABORN_WHITEGRID`, the "deep" palette and its
    colour codes), then :data:`STYLE`; seaborn itself is not imported.
    """
    from cycler import cycler

    theme = dict(SEABORN_WHITEGRID)
    if "rocket" not in matplotlib.colormaps:  # registered by seaborn on import
        theme.pop("image.cmap")
    plt.rcParams.update(theme)
    deep = [to_rgb(c) for c in SEABORN_DEEP]
    plt.rcParams["axes.prop_cycle"] = cycler("color", deep)
    converter = matplotlib.colors.colorConverter
    for code, rgb in zip("bgrmyc", [deep[i] for i in (0, 2, 3, 4, 8, 9)]):
        converter.colors[code] = rgb
    converter.colors["k"] = (0.1, 0.1, 0.1)
    plt.rcParams.update(STYLE)


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
    source_line(fig, source)
    out = paths.figures_dir() / name
    metadata: dict[str, str | None] = {"Software": None}
    if alt is None:
        alt = figure_title(fig)
    if alt is not None:
        alt = " ".join(str(alt).split())
        if not alt:
            raise ValueError(f"{name}: alt text is empty; state the figure's finding in a sentence")
        metadata[ALT_KEY] = alt
    with paths.atomic_write(out) as tmp:  # an interrupted run leaves the previous figure as it was
        # zlib level 3 (PNG_OPTIONS): quicker to encode than the default 6, for a few percent more bytes
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", metadata=metadata, pil_kwargs=PNG_OPTIONS)
        if raise_covered_titles(fig):  # rare: drawn again with the titles clear
            fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", metadata=metadata, pil_kwargs=PNG_OPTIONS)
    plt.close(fig)
    return out


#: Inches between the figure's bottom edge and the top of its source line, whatever the figure's height.
SOURCE_GAP = 0.06


def source_line(fig: plt.Figure, source: str | Iterable[str]) -> Text:
    """Write "Source: ..." under the figure, wrapped to its width, :data:`SOURCE_GAP` inches below its bottom edge.

    On ``transFigure`` (which ``savefig(bbox_inches="tight")`` moves with the
    figure) plus a distance in inches, so a tall figure (one row per agency of
    Texas) does not push its source line far below the axes.
    """
    text = source if isinstance(source, str) else "; ".join(source)
    line = wrap_to_width(
        f"Source: {text}", fig.bbox.width * 72 / fig.dpi, _measurer(fig, _renderer(fig)), 8, balanced=False
    )
    return fig.text(
        0.0,
        0.0,
        line,
        ha="left",
        va="top",
        fontsize=8,
        color="#555555",
        transform=fig.transFigure + ScaledTranslation(0.0, -SOURCE_GAP, fig.dpi_scale_trans),
    )


def raise_covered_titles(fig: plt.Figure) -> bool:
    """Move axes titles up, clear of a y axis's offset text or of tick labels on top, as drawn last; True if any moved.

    The style fixes titles at the top of their axes (``axes.titley``), so
    matplotlib no longer checks on every draw whether an offset text ("1e6",
    "+1.234e3") or tick labels on top would sit under a title.  This checks it
    once, after a draw (:func:`save_figure` draws the figure again if it moved
    a title).  Titles of one axes stay on one baseline.
    """
    renderer = _renderer(fig)
    below = []  # what a title must not cover
    for ax in fig.axes:
        offset = ax.yaxis.get_offset_text()
        if offset.get_visible() and offset.get_text():
            below.append(offset.get_window_extent(renderer))
        ticks = ax.xaxis.get_tick_params()
        if ticks.get("top") or ticks.get("labeltop") or ax.xaxis.get_label_position() == "top":
            box = ax.xaxis.get_tightbbox(renderer)
            if box is not None:
                below.append(box)
    moved = False
    for ax in fig.axes if below else []:
        # an Axes' own Text children are its texts (ax.text, annotations) and its three titles
        titles = [c for c in ax.get_children() if isinstance(c, Text) and c not in ax.texts and c.get_text()]
        lift = 0.0  # pixels
        for _ in range(len(below)):  # each pass clears at least one more box, or stops
            boxes = [t.get_window_extent(renderer).translated(0, lift) for t in titles]
            hits = [b.y1 - t.y0 for t in boxes for b in below if t.overlaps(b)]
            if not hits:
                break
            lift += max(hits) + 2
        if lift:
            for title in titles:
                title.set_y(title.get_position()[1] + lift / ax.bbox.height)
            moved = True
    return moved


def figure_title(fig: plt.Figure) -> str | None:
    """The figure's title text (suptitle, then every axes title), on one line; None if it has none.

    A line break becomes ``"; "`` unless the line ends in punctuation.
    """
    titles = [fig.get_suptitle()]
    for ax in fig.axes:
        titles += [ax.get_title(loc) for loc in ("left", "center", "right")]
    lines = [" ".join(line.split()) for t in titles if t for line in t.splitlines() if line.strip()]
    # a title's line break is punctuation to a reader: keep it as "; " unless the line already ends in some
    text = "".join(
        line if i == 0 else (" " if lines[i - 1][-1] in ",;:." else "; ") + line for i, line in enumerate(lines)
    )
    return text or None


def alt_text(path: Path) -> str | None:
    """The alt text stored in a PNG by :func:`save_figure` (None if it has none)."""
    from PIL import Image as PILImage

    with PILImage.open(path) as im:
        # save_figure writes the text chunk before the image data, where PIL reads it without decoding the image
        found = im.info.get(ALT_KEY)
        return found if found is not None else getattr(im, "text", {}).get(ALT_KEY)


def show(path: Path, alt: str | None = None) -> Image:
    """Display a saved figure in the notebook (the file's own bytes, so output is stable).

    ``alt`` (default: the alt text stored in the PNG) goes into the output's
    metadata, where the HTML report puts it on the ``<img>``.
    """
    from IPython.display import Image

    alt = alt if alt is not None else alt_text(path)
    return Image(filename=str(path), alt=alt)


# --------------------------------------------------------------------------- county maps

#: Kinds of shaded county on a state map: the county's own agency (sheriff, jail,
#: county government) holds an agreement, or only another agency located in the
#: county does (city police, a constable, a state office).
COUNTY_AGENCY = "county agency signed"
OTHER_AGENCY = "other agency only"
KIND_COLOURS: dict[str, str] = {COUNTY_AGENCY: HIGHLIGHT, OTHER_AGENCY: "#f4a582"}
#: Fill of a county of no kind.
NO_KIND_COLOUR = "#e6e9ed"

# Label placement, in points (1/72 inch).  See county_map's docstring for the rules.
NAME_SIZE = 8.0  #: county names drawn inside their county
NAME_MIN_SIZE = 7.0  #: a second, smaller try before a name gives way to a number
NUMBER_SIZE = 7.0  #: numbers of counties whose name does not fit
LABEL_PAD = 1.5  #: clearance around every label: from its county's border and from other labels
GRID_STEP = 2.0  #: spacing of the candidate label positions inside a county
OUTSIDE_REACH = 72.0  #: farthest a number may sit from its county's point (with a leader line)
ACROSS_MAX = 40  #: names may cross county borders only on maps with at most this many labels
KEY_INLINE_MAX = 6  #: a key of at most this many numbers is one sentence under the legend, else columns
KEY_SIZE = 7.5  #: font size of the numbered key
LEGEND_SIZE = 9.0
MAP_AREA = 38.0  #: square inches of map for a state of up to 100 counties, in proportion beyond ...
MAP_MAX_SIZE = 9.0  #: ... with neither side longer than this (inches)
KEY_GAP = 0.25  #: inches between the map and a key in columns

#: How a label was placed (:attr:`MapLabel.how`), in the order they are tried.
NAME_INSIDE = "name inside"
NAME_ACROSS = "name across border"
NUMBER_INSIDE = "number inside"
NUMBER_BESIDE = "number beside"


@dataclass(frozen=True)
class MapLabel:
    """One county label as drawn by :func:`county_map`."""

    fips: str
    name: str  #: the label asked for
    drawn: str  #: the text on the map: the name (perhaps on two lines) or its number in the key
    how: str  #: one of NAME_INSIDE, NAME_ACROSS, NUMBER_INSIDE, NUMBER_BESIDE
    point: tuple[float, float]  #: lon/lat inside the county: the label's centre, or its leader line's start
    number: int | None
    artist: Text


@dataclass
class CountyMap:
    """What :func:`county_map` drew: its labels, the numbered key, the counts in the legend."""

    labels: list[MapLabel]
    key: list[tuple[int, str]]  #: (number, name) for every county numbered on the map
    counts: dict[str, int]  #: counties of each kind, in legend order, then the rest
    map_inches: tuple[float, float]  #: width and height of the map itself
    aspect: float  #: drawn height of a degree of latitude over the width of a degree of longitude

    @property
    def texts(self) -> list[Text]:
        """The label artists (for measuring them after drawing)."""
        return [label.artist for label in self.labels]


def county_map(
    ax: plt.Axes,
    shapes: Mapping[str, Polygon | MultiPolygon],
    kinds: Mapping[str, str] | Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    *,
    colours: Mapping[str, str] | None = None,
    rest_label: str | None = None,
    title: str | None = None,
    size: float | None = None,
) -> CountyMap:
    """Draw a state's counties, shade them by kind, label the ones in ``labels``; size the figure to the state.

    ``shapes`` is :func:`helpers.geo.county_shapes` (FIPS -> lon/lat polygons).
    ``kinds`` maps FIPS -> kind, each kind a key of ``colours`` (default
    :data:`KIND_COLOURS`: :data:`COUNTY_AGENCY` dark red, :data:`OTHER_AGENCY`
    light red); counties of no kind are light grey.  For one kind, pass the
    FIPS alone (a list or set): they are drawn as :data:`COUNTY_AGENCY`.  The
    legend, under the map, names every kind of ``colours`` with its number of
    counties (0 included), then the grey ones as ``rest_label`` (default: "no
    county agency signed" for one kind, "no agreement" with the default two
    kinds, else "other counties").  ``labels`` maps FIPS -> the name to write.

    The map is an equirectangular projection with the latitude-corrected aspect
    (:func:`helpers.geo.map_aspect`).  The function owns ``ax``'s figure: it
    sets the figure's size so that the map has the state's shape (longer side
    ``size`` inches; by default :data:`MAP_AREA` square inches, more for states
    with over 100 counties, neither side over :data:`MAP_MAX_SIZE`), with the
    title (wrapped to the figure's width) above, the legend below, the key
    beside or below, and no empty band.

    Labels, in four passes over the counties in ``labels`` (each pass by kind
    in the order of ``colours``, unshaded counties last, then by FIPS).  A
    label's box, padded by :data:`LABEL_PAD`, must clear every label already
    placed and stay inside the map frame; positions are tried from the
    county's pole of inaccessibility outwards on a :data:`GRID_STEP` grid, so
    a label's centre always lies inside its county's largest polygon:

    1. :data:`NAME_INSIDE`: the name fits inside its county: on one line at
       :data:`NAME_SIZE`, else on two lines (names of several words), else both
       at :data:`NAME_MIN_SIZE`;
    2. :data:`NAME_ACROSS`: the name at :data:`NAME_SIZE`, on a white box,
       centred in its county and spilling only over counties with no label
       (only on maps with at most :data:`ACROSS_MAX` labels: on a denser map
       the boxes would hide the shading of the counties they cover);
    3. :data:`NUMBER_INSIDE`: a number (the remaining counties numbered in
       alphabetical order of their names) at :data:`NUMBER_SIZE` inside the
       county, listed in a key: a sentence under the legend for up to
       :data:`KEY_INLINE_MAX` numbers, else columns beside the map or below
       it, whichever keeps the figure's longer side shorter;
    4. :data:`NUMBER_BESIDE`: a number on a white box beside its county, with
       a leader line, within :data:`OUTSIDE_REACH` points if there is room
       (else farther), covering no other labelled county's point.

    Every label stays inside the map frame.  After drawing, the labels are
    measured with the renderer (``Text.get_window_extent``); an overlap or a
    label leaving the axes raises ``RuntimeError`` (it would be a bug here).
    Same inputs, same figure: nothing is random.

    Raises ``ValueError`` for no shapes, a FIPS that is not in ``shapes``, an
    unknown kind or an empty label; ``TypeError`` for a shape that is not a
    polygon.
    """
    geoms = _check_shapes(shapes)
    if rest_label is None:
        one_kind = not isinstance(kinds, Mapping) and colours is None
        rest_label = "no county agency signed" if one_kind else "no agreement" if colours is None else "other counties"
    kind_of, colours = _check_kinds(kinds, geoms, colours)
    names = _check_labels(labels, geoms)
    fig = _figure_of(ax)
    renderer = _renderer(fig)

    # --- the map: equirectangular, latitude-corrected, sized to the state
    x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(list(geoms.values())))
    aspect = geo.map_aspect((x0, y0, x1, y1))
    wide, tall = x1 - x0, (y1 - y0) * aspect
    if size is None:
        area = MAP_AREA * max(1.0, len(geoms) / 100)
        map_w, map_h = math.sqrt(area * wide / tall), math.sqrt(area * tall / wide)
        shrink = min(1.0, MAP_MAX_SIZE / max(map_w, map_h))
        map_w, map_h = map_w * shrink, map_h * shrink
    else:
        map_w, map_h = (size, size * tall / wide) if wide >= tall else (size * wide / tall, size)
    scale = map_w * 72 / wide  # points per degree of longitude

    def to_points(g: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
        return shapely.transform(g, lambda xy: (xy - [x0, y0]) * [scale, scale * aspect])

    def to_lonlat(x: float, y: float) -> tuple[float, float]:
        return x0 + x / scale, y0 + y / (scale * aspect)

    fill = {f: colours[kind_of[f]] if f in kind_of else NO_KIND_COLOUR for f in geoms}
    ax.add_collection(
        PathCollection(
            [_compound_path(geoms[f]) for f in geoms],
            facecolors=[fill[f] for f in geoms],
            edgecolors="white",
            linewidths=0.6 if len(geoms) <= 120 else 0.4,
        )
    )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(aspect, adjustable="box")
    ax.set_axis_off()

    # --- labels, placed in map points
    sizes: dict[tuple[str, float, str], tuple[float, float]] = {}

    def measure(text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
        if (text, fontsize, weight) not in sizes:
            t = fig.text(
                0, 0, text, fontsize=fontsize, fontweight=weight, ha="center", va="center", multialignment="center"
            )
            box = t.get_window_extent(renderer)
            t.remove()
            sizes[(text, fontsize, weight)] = (box.width * 72 / fig.dpi, box.height * 72 / fig.dpi)
        return sizes[(text, fontsize, weight)]

    polys = {f: to_points(geo.largest_polygon(geoms[f])) for f in names}
    for poly in polys.values():
        shapely.prepare(poly)
    candidates = {f: _inside_points(polys[f]) for f in names}
    rank = {k: i for i, k in enumerate(colours)}
    order = sorted(names, key=lambda f: (rank.get(kind_of.get(f, ""), len(rank)), f))
    placer = _Placer(map_w * 72, map_h * 72, [candidates[f][0] for f in order])
    placed: dict[str, tuple[str, str, float, tuple[float, float], tuple[float, float] | None]] = {}
    for f in order:  # 1. names inside their county
        for text, fontsize in _name_variants(names[f]):
            spot = placer.inside(polys[f], candidates[f], *measure(text, fontsize))
            if spot is not None:
                placed[f] = (NAME_INSIDE, text, fontsize, spot, None)
                break
    others = shapely.STRtree([polys[f] for f in order])
    index = {f: i for i, f in enumerate(order)}
    across = [f for f in order if f not in placed] if len(names) <= ACROSS_MAX else []
    for f in across:  # 2. names across the border, over unlabelled counties only
        for text, fontsize in (v for v in _name_variants(names[f]) if v[1] == NAME_SIZE):
            spot = placer.across(candidates[f], *measure(text, fontsize), others, index[f])
            if spot is not None:
                placed[f] = (NAME_ACROSS, text, fontsize, spot, None)
                break
    numbered = sorted((f for f in names if f not in placed), key=lambda f: (names[f].casefold(), f))
    number_of = {f: i for i, f in enumerate(numbered, start=1)}
    beside = []
    for f in sorted(numbered, key=order.index):  # 3. numbers inside their county
        spot = placer.inside(polys[f], candidates[f], *measure(str(number_of[f]), NUMBER_SIZE))
        if spot is None:
            beside.append(f)
        else:
            placed[f] = (NUMBER_INSIDE, str(number_of[f]), NUMBER_SIZE, spot, None)
    for f in beside:  # 4. numbers beside their county, with a leader line
        anchor = candidates[f][0]
        spot = placer.outside(anchor, *measure(str(number_of[f]), NUMBER_SIZE))
        if spot is None:
            raise RuntimeError(
                f"county_map: no room left on the map for the number of {names[f]} ({f}); "
                "draw a larger map (size=...) or label fewer counties"
            )
        placed[f] = (NUMBER_BESIDE, str(number_of[f]), NUMBER_SIZE, spot, (float(anchor[0]), float(anchor[1])))

    # --- key, title and legend, measured, then the figure sized around them
    key = [(number_of[f], names[f]) for f in numbered]
    inline = len(key) <= KEY_INLINE_MAX
    key_w = key_h = 0.0
    key_items: list[tuple[str, float, float, str, str]] = []
    key_below = False
    if not inline:  # beside the map or below it, whichever keeps the figure's longer side shorter
        side = _key_layout(key, measure, max_height=map_h * 72)
        under = _key_layout(key, measure, max_width=map_w * 72)
        key_below = max(max(map_w, under[0] / 72), map_h + KEY_GAP + under[1] / 72) < max(
            map_w + KEY_GAP + side[0] / 72, map_h
        )
        key_w_pt, key_h_pt, key_items = under if key_below else side
        key_w, key_h = key_w_pt / 72, key_h_pt / 72
    width = max(map_w, key_w) if key_below else map_w + (KEY_GAP + key_w if key_items else 0.0)
    counts = {k: sum(1 for v in kind_of.values() if v == k) for k in colours}
    counts[rest_label] = len(geoms) - len(kind_of)
    handles = [
        Patch(
            facecolor=colours.get(k, NO_KIND_COLOUR),
            label=f"{k[:1].upper()}{k[1:]}: {counted(n, 'county', 'counties')}",
        )
        for k, n in counts.items()
    ]
    for ncols in range(len(handles), 0, -1):  # as many columns as fit the figure's width
        legend = ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0, 0),
            ncols=ncols,
            fontsize=LEGEND_SIZE,
            handlelength=1.2,
            handleheight=1.0,
            columnspacing=1.2,
            borderaxespad=0.3,
            borderpad=0.2,
            frameon=False,
        )
        if legend.get_window_extent(renderer).width / fig.dpi <= width or ncols == 1:
            break
        legend.remove()
    bottom = legend.get_window_extent(renderer).height / fig.dpi + 0.1
    if key and inline:  # a short key: one sentence under the legend
        sentence = "Numbered on the map: " + "; ".join(f"{n} {name}" for n, name in key)
        note = ax.text(
            0.0,
            0.0,
            wrap_to_width(sentence, width * 72, measure, LEGEND_SIZE),
            fontsize=LEGEND_SIZE,
            ha="left",
            va="top",
            color="#222222",
            transform=ax.transAxes + ScaledTranslation(0.04, -bottom, fig.dpi_scale_trans),
        )
        bottom += note.get_window_extent(renderer).height / fig.dpi + 0.05
    if key_below:
        _draw_key(ax, key_items, (0.04, -(bottom + 0.1)), (0.0, 0.0))
        bottom += 0.1 + key_h + 0.05
    elif key_items:
        _draw_key(ax, key_items, (KEY_GAP, 0.0), (1.0, 1.0))
    top = 0.05
    if title:
        ax.set_title(
            wrap_to_width(title, width * 72, measure, plt.rcParams["axes.titlesize"], plt.rcParams["axes.titleweight"]),
            loc="left",
        )
        top += ax.title.get_window_extent(renderer).height / fig.dpi + 0.15
    height = top + map_h + bottom
    fig.set_size_inches(width, height)
    ax.set_position((0.0, bottom / height, map_w / width, map_h / height))
    ax.apply_aspect()

    # --- draw labels and key
    drawn = []
    for f in sorted(placed):
        how, text, fontsize, (cx, cy), anchor = placed[f]
        lon, lat = to_lonlat(cx, cy)
        style: dict = {"color": _ink(fill[f])}
        if how in (NAME_ACROSS, NUMBER_BESIDE):  # not contained by its county: on a white box
            style = {
                "color": "black",
                "bbox": {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#555555", "lw": 0.4},
            }
        if anchor is not None:
            w, h = measure(text, fontsize)
            end = shapely.ops.nearest_points(
                shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), shapely.Point(anchor)
            )[0]
            ax.plot(*zip(to_lonlat(*anchor), to_lonlat(end.x, end.y)), color="#333333", lw=0.5, zorder=3)
            point = to_lonlat(*anchor)
        else:
            point = (lon, lat)
        artist = ax.text(
            lon, lat, text, fontsize=fontsize, ha="center", va="center", multialignment="center", zorder=4, **style
        )
        drawn.append(MapLabel(f, names[f], text, how, point, number_of.get(f), artist))
    _check_drawn(ax, [label.artist for label in drawn], renderer)
    return CountyMap(drawn, key, counts, (map_w, map_h), aspect)


def county_map_title(
    state_name: str, n_signed: int, n_total: int, n_any: int | None = None, published: str | None = None
) -> str:
    """The map's title: the finding in the article's unit, the count with every agency, and the sheet's date.

    >>> print(county_map_title("Minnesota", 8, 87, 9, "2025-10-31 pm"))
    8 of Minnesota's 87 counties have a county agency with a 287(g) agreement; 1 more has one through another agency
    ICE's sheet published 2025-10-31 pm

    ``n_signed`` counts counties whose county agency holds an agreement, ``n_any``
    (optional) counties with an agreement of any agency located there;
    ``published`` is the sheet's publication label.  Grammar follows the
    numbers ("1 of Iowa's 99 counties has", "None of ... has").
    """
    for label, n in (("n_signed", n_signed), ("n_total", n_total), ("n_any", n_any)):
        if n is not None and (isinstance(n, bool) or not float(n).is_integer() or n < 0):
            raise ValueError(f"county_map_title: {label} must be a whole number >= 0, got {n!r}")
    if n_total < 1:
        raise ValueError(f"county_map_title: {state_name} has no counties (n_total={n_total})")
    if n_signed > n_total or (n_any is not None and not n_signed <= n_any <= n_total):
        raise ValueError(f"county_map_title: need n_signed <= n_any <= n_total, got {n_signed}, {n_any}, {n_total}")
    if not str(state_name).strip():
        raise ValueError("county_map_title: empty state name")
    lead = "None" if n_signed == 0 else str(int(n_signed))
    line = (
        f"{lead} of {state_name}'s {counted(n_total, 'county', 'counties')} "
        f"{verb(max(n_signed, 1))} a county agency with a 287(g) agreement"
    )
    if n_any is not None:
        more = int(n_any - n_signed)
        if more == 0:
            line += "; no other agency adds a county"
        elif n_signed == 0:
            line += f"; {more} {verb(more)} one through another agency"
        else:
            line += f"; {more} more {verb(more)} one through another agency"
    if published:
        line += f"\nICE's sheet published {published}"
    return line


#: Within this many points of a line's limit, the sum of its words' widths decides nothing: the line is measured
#: whole (:func:`wrap_to_width`).
WRAP_TOLERANCE_PT = 0.5


def wrap_to_width(
    text: str,
    width_pt: float,
    measure: Callable[[str, float, str], tuple[float, float]],
    fontsize: float,
    weight: str = "normal",
    balanced: bool = True,
) -> str:
    """``text`` with each line broken at spaces so that it is at most ``width_pt`` points wide when drawn.

    ``measure(text, fontsize, weight)`` returns the drawn (width, height) in
    points.  Lines are balanced: the fewest lines that fit, then the narrowest
    width that needs no more lines (no last word alone on a line); with
    ``balanced`` False each line takes as many words as fit (a source line).
    A single word wider than the width stays on its own line.

    Each word is measured once, and a line's width is taken as the sum of its
    words and spaces; only a line within :data:`WRAP_TOLERANCE_PT` of the limit
    it is tried against is measured whole.  Every line of the result is measured
    whole: if one is too wide (a font whose spaces kern), the paragraph is wrapped
    again measuring every line it tries whole.
    """
    measured: dict[str, float] = {}

    def width(line: str) -> float:
        if line not in measured:
            measured[line] = measure(line, fontsize, weight)[0] if line else 0.0
        return measured[line]

    space = max(0.0, width("n n") - 2 * width("n"))

    def wrap(words: list[str], tolerance: float) -> list[str]:
        ends = [0.0]
        for word in words:
            ends.append(ends[-1] + width(word))

        def fits(start: int, end: int, limit: float) -> bool:
            summed = ends[end] - ends[start] + space * (end - start - 1)
            if abs(summed - limit) > tolerance:
                return summed <= limit
            return width(" ".join(words[start:end])) <= limit

        def greedy(limit: float) -> list[str]:
            lines, start = [], 0
            for k in range(1, len(words)):
                if not fits(start, k + 1, limit):
                    lines.append(" ".join(words[start:k]))
                    start = k
            return lines + [" ".join(words[start:])]

        if not balanced:
            return greedy(width_pt)
        n = len(greedy(width_pt))
        lo, hi = 0.0, width_pt
        for _ in range(12):  # the narrowest limit that still needs n lines
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if len(greedy(mid)) <= n else (mid, hi)
        return greedy(hi)

    out = []
    for paragraph in text.split("\n"):
        words = paragraph.split(" ")
        lines = wrap(words, WRAP_TOLERANCE_PT)
        if any(" " in line and width(line) > width_pt for line in lines):
            lines = wrap(words, math.inf)
        out.extend(lines)
    return "\n".join(out)


def log_count_axis(axis: Axis) -> None:
    """Label a log-scale axis of counts with plain numbers (1, 10, 100, 1,000), not powers of ten.

    Minor ticks are labelled only when the axis spans too little for the major ones to read (matplotlib's rule for
    log axes), also as plain numbers.
    """
    from matplotlib.ticker import FuncFormatter, LogFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


def set_wrapped_title(ax: plt.Axes, title: str, **kwargs: Any) -> str:
    """Set ``ax``'s title broken at spaces (:func:`wrap_to_width`) so that no line is wider than the axes.

    Explicit line breaks in ``title`` are kept.  Returns the title as drawn.
    """
    fig = _figure_of(ax)
    renderer = _renderer(fig)
    size = float(plt.rcParams["axes.titlesize"]) if not isinstance(plt.rcParams["axes.titlesize"], str) else 13.0
    weight = str(plt.rcParams["axes.titleweight"])
    width = ax.get_window_extent(renderer).width * 72 / fig.dpi
    wrapped = wrap_to_width(title, width, _measurer(fig, renderer), size, weight)
    ax.set_title(wrapped, **kwargs)
    return wrapped


def _check_shapes(shapes: Mapping[str, Polygon | MultiPolygon]) -> dict[str, Polygon | MultiPolygon]:
    if not shapes:
        raise ValueError(
            "county_map: no county shapes to draw. geo.county_shapes(state) returns {} when the us-atlas file "
            f"({geo.ATLAS_COUNTIES}) is not registered; check data/registry.csv and run `make data`"
        )
    out = {}
    for fips in sorted(shapes):
        shape = shapes[fips]
        if not isinstance(shape, (Polygon, MultiPolygon)):
            raise TypeError(
                f"county_map: the shape of {fips!r} is a {type(shape).__name__}, not a shapely "
                "Polygon or MultiPolygon; pass geo.county_shapes(state)"
            )
        if shape.is_empty:
            raise ValueError(f"county_map: the shape of {fips!r} is empty")
        out[str(fips)] = shape
    return out


def _unknown_fips(where: str, fips: Iterable[str], geoms: Mapping[str, object]) -> None:
    missing = sorted(str(f) for f in fips if str(f) not in geoms)
    if missing:
        some = sorted(geoms)
        raise ValueError(
            f"county_map: {where} name {len(missing)} FIPS not among the {len(geoms)} county shapes "
            f"({some[0]}…{some[-1]}): {', '.join(map(repr, missing[:5]))}{' …' if len(missing) > 5 else ''}. "
            "FIPS are 5-digit strings such as '27021', of the same state as the shapes"
        )


def _check_kinds(
    kinds: Mapping[str, str] | Iterable[str], geoms: Mapping[str, object], colours: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, str]]:
    if isinstance(kinds, str):
        raise TypeError("county_map: kinds must map FIPS to a kind, or be a collection of FIPS, not one string")
    if isinstance(kinds, Mapping):
        kind_of = {str(f): str(k) for f, k in kinds.items()}
        palette = dict(colours) if colours is not None else dict(KIND_COLOURS)
    else:
        kind_of = dict.fromkeys((str(f) for f in kinds), COUNTY_AGENCY)
        palette = dict(colours) if colours is not None else {COUNTY_AGENCY: KIND_COLOURS[COUNTY_AGENCY]}
    _unknown_fips("kinds", kind_of, geoms)
    unknown = sorted({k for k in kind_of.values() if k not in palette})
    if unknown:
        raise ValueError(
            f"county_map: unknown county kind {', '.join(map(repr, unknown))}; known kinds are "
            f"{', '.join(map(repr, palette))}. Pass colours={{kind: colour}} to draw another kind"
        )
    return dict(sorted(kind_of.items())), palette


def _check_labels(labels: Mapping[str, str] | None, geoms: Mapping[str, object]) -> dict[str, str]:
    names = {str(f): str(n).strip() for f, n in (labels or {}).items()}
    _unknown_fips("labels", names, geoms)
    empty = sorted(f for f, n in names.items() if not n)
    if empty:
        raise ValueError(f"county_map: empty label for FIPS {', '.join(empty)}")
    return names


def _compound_path(shape: Polygon | MultiPolygon) -> MplPath:
    """One fillable path for a county: outlines counter-clockwise, holes clockwise (non-zero fill)."""
    rings = []
    for part in shapely.get_parts(shape):
        part = shapely.geometry.polygon.orient(part, sign=1.0)
        rings.append(MplPath(np.asarray(part.exterior.coords), closed=True))
        rings.extend(MplPath(np.asarray(hole.coords), closed=True) for hole in part.interiors)
    return MplPath.make_compound_path(*rings)


def _inside_points(poly: Polygon) -> np.ndarray:
    """Candidate label centres inside ``poly``: its pole of inaccessibility, then grid points nearest first."""
    pole = shapely.ops.polylabel(poly, tolerance=0.5)
    px, py = pole.x, pole.y
    xmin, ymin, xmax, ymax = poly.bounds
    xs = px + GRID_STEP * np.arange(math.floor((xmin - px) / GRID_STEP), math.ceil((xmax - px) / GRID_STEP) + 1)
    ys = py + GRID_STEP * np.arange(math.floor((ymin - py) / GRID_STEP), math.ceil((ymax - py) / GRID_STEP) + 1)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    grid = grid[shapely.contains_xy(poly, grid[:, 0], grid[:, 1])]
    order = np.lexsort((grid[:, 1], grid[:, 0], np.hypot(grid[:, 0] - px, grid[:, 1] - py)))
    return np.vstack([[px, py], grid[order]])


def _name_variants(name: str) -> list[tuple[str, float]]:
    """The ways a name is tried: one line, two balanced lines (several words); at two sizes."""
    words = name.split()
    forms = [name]
    if len(words) > 1:
        splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
        first, rest = min(splits, key=lambda s: (max(len(s[0]), len(s[1])), len(s[1])))
        forms.append(f"{first}\n{rest}")
    return [(form, size) for size in (NAME_SIZE, NAME_MIN_SIZE) for form in forms]


class _Placer:
    """Label boxes already placed on a map of ``width`` x ``height`` points, and the free-space tests."""

    def __init__(self, width: float, height: float, points: list[np.ndarray]) -> None:
        self.width, self.height = width, height
        self.boxes = np.empty((0, 4))
        self.points = np.asarray(points, dtype=float).reshape(-1, 2)  # every labelled county's own point

    def _clear(self, boxes: np.ndarray) -> np.ndarray:
        """Which padded boxes (x0, y0, x1, y1) overlap no placed box."""
        if not len(self.boxes):
            return np.ones(len(boxes), dtype=bool)
        b, p = boxes[:, None, :], self.boxes[None, :, :]
        overlap = (b[..., 0] < p[..., 2]) & (p[..., 0] < b[..., 2]) & (b[..., 1] < p[..., 3]) & (p[..., 1] < b[..., 3])
        return np.asarray(~overlap.any(axis=1))

    def _boxes(self, centres: np.ndarray, w: float, h: float) -> np.ndarray:
        half = np.array([w / 2 + LABEL_PAD, h / 2 + LABEL_PAD])
        return np.hstack([centres - half, centres + half])

    def _take(self, box: np.ndarray) -> None:
        self.boxes = np.vstack([self.boxes, box])

    def inside(self, poly: Polygon, candidates: np.ndarray, w: float, h: float) -> tuple[float, float] | None:
        """The first candidate where a ``w`` x ``h`` label fits inside ``poly`` and clear of others."""
        boxes = self._boxes(candidates, w, h)
        ok = shapely.contains(poly, shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]))
        ok &= self._clear(boxes)
        if not ok.any():
            return None
        i = int(np.argmax(ok))
        self._take(boxes[i])
        return float(candidates[i][0]), float(candidates[i][1])

    def _in_frame(self, boxes: np.ndarray) -> np.ndarray:
        return (boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= self.width) & (boxes[:, 3] <= self.height)

    def across(
        self, candidates: np.ndarray, w: float, h: float, labelled: shapely.STRtree, own: int
    ) -> tuple[float, float] | None:
        """The first candidate (inside its county) whose label box touches no other labelled county."""
        boxes = self._boxes(candidates, w, h)
        ok = self._in_frame(boxes) & self._clear(boxes)
        hits = labelled.query(shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]), predicate="intersects")
        ok[hits[0][hits[1] != own]] = False
        if not ok.any():
            return None
        i = int(np.argmax(ok))
        self._take(boxes[i])
        return float(candidates[i][0]), float(candidates[i][1])

    def outside(self, anchor: np.ndarray, w: float, h: float) -> tuple[float, float] | None:
        """The nearest spot (by distance, then direction from east anticlockwise) where a label fits in the frame.

        Searched within :data:`OUTSIDE_REACH` first, then (a long leader line) anywhere on the map.
        """
        angles = np.deg2rad(np.arange(0.0, 360.0, 22.5))
        far = math.hypot(self.width, self.height)
        radii = np.concatenate(
            [
                np.arange(GRID_STEP, OUTSIDE_REACH + GRID_STEP / 2, GRID_STEP),
                np.arange(OUTSIDE_REACH + 4 * GRID_STEP, far, 4 * GRID_STEP),
            ]
        )
        r, a = np.meshgrid(radii, angles, indexing="ij")
        centres = np.column_stack([anchor[0] + (r * np.cos(a)).ravel(), anchor[1] + (r * np.sin(a)).ravel()])
        boxes = self._boxes(centres, w, h)
        ok = self._in_frame(boxes) & self._clear(boxes)
        own = np.all(np.isclose(self.points, anchor), axis=1)
        others = self.points[~own]
        if len(others):
            px, py = others[None, :, 0], others[None, :, 1]
            covers = (boxes[:, :1] <= px) & (px <= boxes[:, 2:3]) & (boxes[:, 1:2] <= py) & (py <= boxes[:, 3:4])
            ok &= ~covers.any(axis=1)
        if not ok.any():
            return None
        i = int(np.argmax(ok))
        self._take(boxes[i])
        return float(centres[i][0]), float(centres[i][1])


def _key_layout(
    key: list[tuple[int, str]],
    measure: Callable[..., tuple[float, float]],
    *,
    max_height: float | None = None,
    max_width: float | None = None,
) -> tuple[float, float, list[tuple[str, float, float, str, str]]]:
    """Columns for the numbered key: (width, height, items to draw), in points.

    With ``max_height``, the fewest columns that fit that height; with
    ``max_width``, the most columns that fit that width (at least one).
    Items are (text, x, y, ha, weight) from the key's top-left corner, y down.
    """
    header = "Numbered on the map"
    line = KEY_SIZE * 1.4
    header_w, header_h = measure(header, KEY_SIZE, "bold")

    def columns(ncols: int) -> tuple[float, float, list[tuple[str, float, float, str, str]]]:
        rows = math.ceil(len(key) / ncols)
        items = [(header, 0.0, 0.0, "left", "bold")]
        x = 0.0
        for c in range(ncols):
            column = key[c * rows : (c + 1) * rows]
            if not column:
                break
            num_w = max(measure(str(n), KEY_SIZE)[0] for n, _ in column)
            name_w = max(measure(name, KEY_SIZE)[0] for _, name in column)
            for r, (n, name) in enumerate(column):
                y = header_h + 4 + r * line
                items.append((str(n), x + num_w, y, "right", "normal"))
                items.append((name, x + num_w + 3, y, "left", "normal"))
            x += num_w + 3 + name_w + 9
        return max(header_w, x - 9), header_h + 4 + rows * line, items

    if not key:
        return 0.0, 0.0, []
    if max_height is not None:
        ncols = math.ceil(len(key) / max(1, int((max_height - header_h - 4) // line)))
        return columns(ncols)
    best = columns(1)
    for ncols in range(2, len(key) + 1):
        trial = columns(ncols)
        if max_width is not None and trial[0] > max_width:
            break
        best = trial
    return best


def _draw_key(
    ax: plt.Axes,
    items: list[tuple[str, float, float, str, str]],
    offset_in: tuple[float, float],
    corner: tuple[float, float],
) -> None:
    """Draw the key's items from ``corner`` of the axes (axes fraction) moved by ``offset_in`` inches."""
    fig = _figure_of(ax)
    for text, x, y, ha, weight in items:
        offset = ScaledTranslation(offset_in[0] + x / 72, offset_in[1] - y / 72, fig.dpi_scale_trans)
        ax.text(
            *corner,
            text,
            transform=ax.transAxes + offset,
            fontsize=KEY_SIZE,
            fontweight=weight,
            ha=ha,
            va="top",
            color="#222222",
        )


def _ink(fill: str) -> str:
    """Black or white text, whichever reads on ``fill``."""
    r, g, b = to_rgb(fill)
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 else "black"


def _check_drawn(ax: plt.Axes, texts: list[Text], renderer: RendererBase) -> None:
    """Raise ``RuntimeError`` if two drawn labels overlap or one leaves the axes (measured by the renderer)."""
    frame = ax.get_window_extent(renderer)
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts]).reshape(-1, 4)
    tol = 0.5  # pixels: rounding of the renderer's extents
    outside = [
        t.get_text()
        for t, b in zip(texts, boxes)
        if b[0] < frame.x0 - tol or b[1] < frame.y0 - tol or b[2] > frame.x1 + tol or b[3] > frame.y1 + tol
    ]
    overlaps = label_overlaps(boxes)
    if outside or overlaps:
        pairs = [(texts[i].get_text(), texts[j].get_text()) for i, j in overlaps]
        raise RuntimeError(f"county_map placed labels badly: outside the map {outside}; overlapping {pairs[:5]}")


def label_overlaps(boxes: np.ndarray, tol: float = 0.0) -> list[tuple[int, int]]:
    """Index pairs (i < j) of boxes (x0, y0, x1, y1) whose interiors overlap by more than ``tol`` in both directions."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    dx = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    dy = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    hit = np.triu((dx > tol) & (dy > tol), k=1)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(hit))]


# --------------------------------------------------------------------------- states ranked

#: Colours of the groups of states on a ranked-bars figure, in the order the groups are given.
GROUP_COLOURS = (HIGHLIGHT, SECOND, "#4d9221", "#8c510a")
#: Colour of the chosen state's bar.
CHOSEN_COLOUR = "#e08214"
BAR_PITCH = 0.2  #: inches per bar (the tick labels are 8 points, so they never touch)


@dataclass
class StateBars:
    """What :func:`state_bars` drew."""

    shown: list[str]  #: display names, top (most) to bottom
    left_off: list[str]  #: display names of the states with none, not drawn
    note: str  #: the sentence under the axes saying what was left off ("" if nothing)
    bar_labels: list[Text]
    legend: Legend | None


def state_bars(
    ax: plt.Axes,
    table: pd.DataFrame,
    highlight_state: str | None = None,
    groups: Mapping[str, Iterable[str]] | None = None,
    *,
    value: str = "agreements",
    show_zero: bool = False,
    width: float = 9.0,
) -> StateBars:
    """Horizontal bars of ``table[value]`` for every state, most at the top; groups coloured, one state highlighted.

    ``table`` has one row per state (columns ``state`` as ICE prints it,
    ``name``, and ``value``), e.g. :func:`helpers.ice.state_counts`.  Each
    group (label -> states) gets a colour of :data:`GROUP_COLOURS` and a legend
    entry with its total; ``highlight_state`` is drawn in
    :data:`CHOSEN_COLOUR` with a bold label, and shown even at zero.  States
    with zero are left off unless ``show_zero``; a sentence under the axes
    names them.  The figure is ``width`` inches wide and :data:`BAR_PITCH`
    inches per bar tall, so labels never overlap; the legend goes to the lower
    right, or beside the axes if it would cover a bar or a number there.

    Raises ``ValueError`` for a missing column, a repeated state, a value that
    is not a whole number >= 0, or a state (highlighted or in a group) that is
    not in the table; :class:`helpers.geo.UnknownStateError` for an unknown name.
    """
    missing = {"state", "name", value} - set(table.columns)
    if missing:
        raise ValueError(f"state_bars: the table lacks column(s) {sorted(missing)}; it has {list(table.columns)}")
    if table["state"].duplicated().any():
        raise ValueError(
            f"state_bars: states repeated in the table: {sorted(table.loc[table['state'].duplicated(), 'state'])}"
        )
    values = pd.to_numeric(table[value], errors="coerce")
    bad = table.loc[values.isna() | (values < 0) | (values % 1 != 0), "state"]
    if len(bad):
        raise ValueError(f"state_bars: {value} must be whole numbers >= 0; not so for {sorted(bad)}")
    known = set(table["state"])

    def member(state: str, where: str) -> str:
        name = geo.normalize_state(state)
        if name not in known:
            raise ValueError(f"state_bars: {where} {state!r} is not in the table")
        return name

    chosen = member(highlight_state, "highlight_state") if highlight_state is not None else None
    group_of: dict[str, str] = {}
    for label, members in (groups or {}).items():
        for state in members:
            group_of.setdefault(member(state, f"group {label!r} names"), label)
    colour_of = {label: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, label in enumerate(groups or {})}

    df = table.assign(_v=values.astype(int))
    keep = (df["_v"] > 0) | (df["state"] == chosen) | show_zero
    rows = df[keep].sort_values(["_v", "name"], ascending=[False, True])
    left_off = sorted(df.loc[~keep, "name"])
    n = len(rows)
    if n == 0:
        raise ValueError(f"state_bars: no state has any {value}, and no state is highlighted")

    fig = _figure_of(ax)
    renderer = _renderer(fig)
    y = np.arange(n)[::-1]
    colours = [CHOSEN_COLOUR if s == chosen else colour_of.get(group_of.get(s, ""), MUTED) for s in rows["state"]]
    bars = ax.barh(y, rows["_v"], color=colours, height=0.72)
    ax.set_yticks(y, rows["name"], fontsize=8)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(0, max(1, rows["_v"].max()) * 1.08)
    ax.grid(axis="y", visible=False)
    ax.set_ylabel("")
    ax.set_xlabel(f"287(g) {value}")
    bar_labels = ax.bar_label(bars, padding=2, fontsize=7)
    for tick, number, state in zip(ax.get_yticklabels(), bar_labels, rows["state"]):
        if state == chosen:
            for t in (tick, number):
                t.set_fontweight("bold")
                t.set_color(CHOSEN_COLOUR)

    handles = [
        Patch(color=colour_of[g], label=f"{g}: {int(df.loc[df['state'].map(group_of) == g, '_v'].sum())}")
        for g in colour_of
    ]
    if chosen is not None:
        row = df[df["state"] == chosen].iloc[0]
        handles.append(Patch(color=CHOSEN_COLOUR, label=f"{row['name']} (chosen state): {int(row['_v'])}"))

    note = ""
    if left_off:
        note = (
            f"Not shown: {counted(len(left_off), 'state or territory', 'states and territories')} with no {value} "
            f"({join(left_off)})."
        )

    # figure: width fixed, height from the number of bars; margins measured
    label_w = max(t.get_window_extent(renderer).width for t in ax.get_yticklabels()) / fig.dpi
    left, right, top, bottom = label_w + 0.2, 0.25, 0.5, 0.65
    note_text = None
    if note:
        measure = _measurer(fig, renderer)
        wrapped = wrap_to_width(note, (width - 0.2) * 72, measure, 8)
        note_text = ax.text(0.0, 0.0, wrapped, fontsize=8, ha="left", va="top", color="#333333", transform=ax.transAxes)
        bottom += measure(wrapped, 8, "normal")[1] / 72 + 0.1
    height = top + BAR_PITCH * n + 0.3 + bottom
    fig.set_size_inches(width, height)
    ax.set_position((left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height))
    if note_text is not None:  # under the x-axis label, from the figure's left edge
        # inches from the figure's corner, on transFigure: savefig(bbox_inches="tight") moves transFigure, not
        # dpi_scale_trans, so a note placed on dpi_scale_trans alone would slide over the source line
        note_text.set_transform(fig.transFigure + ScaledTranslation(0.1, bottom - 0.6, fig.dpi_scale_trans))
        note_text.set_position((0.0, 0.0))

    legend = None
    if handles:
        legend = ax.legend(handles=handles, loc="lower right", fontsize=9, frameon=False)
        # measured without drawing: the axes' position and limits are set, and the bar labels place themselves
        box = legend.get_window_extent(renderer)
        taken = [b.get_window_extent(renderer) for b in bars] + [t.get_window_extent(renderer) for t in bar_labels]
        if any(box.overlaps(b) for b in taken):
            legend.remove()
            legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    return StateBars(list(rows["name"]), left_off, note, list(bar_labels), legend)


def _figure_of(ax: plt.Axes) -> plt.Figure:
    """The figure that holds ``ax`` (its top-level figure)."""
    fig = ax.get_figure(root=True)
    if fig is None:
        raise ValueError("the axes belong to no figure; make them with plt.subplots()")
    return fig


def _renderer(fig: plt.Figure) -> RendererBase:
    """The figure's renderer, for measuring drawn text (the Agg canvas this module selects has one)."""
    return fig.canvas.get_renderer()  # type: ignore[attr-defined]


def _measurer(fig: plt.Figure, renderer: RendererBase) -> Callable[[str, float, str], tuple[float, float]]:
    """A function measuring drawn text, (width, height) in points, with the figure's renderer."""

    def measure(text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
        t = fig.text(0, 0, text, fontsize=fontsize, fontweight=weight)
        box = t.get_window_extent(renderer)
        t.remove()
        return box.width * 72 / fig.dpi, box.height * 72 / fig.dpi

    return measure
