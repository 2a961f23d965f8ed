"""County maps and ranked bars: labels never overlap or leave the axes, sit inside their county; titles agree with numbers."""

from __future__ import annotations

import itertools
from functools import cache, lru_cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.text import Text
from shapely.geometry import Point

from helpers import geo, ice, paths, plotting
from helpers.plotting import COUNTY_AGENCY, OTHER_AGENCY

ARTICLE_DATE = "2025-11-01"


@cache
def short_names(state: str) -> dict[str, str]:
    df = geo.state_counties(state)
    return {f: n.removesuffix(" County").removesuffix(" Parish") for f, n in zip(df["county_fips"], df["county_name"])}


@lru_cache(maxsize=1)
def article_sheet() -> pd.DataFrame:
    return ice.load_sheet(ice.resolve_sheet(None, ARTICLE_DATE))


@cache
def signed_fips(state: str) -> tuple[str, ...]:
    return tuple(ice.counties_with_agreements(article_sheet(), state)["county_fips"])


def two_kinds(state: str) -> dict[str, str]:
    """The counties that signed on the article's date, plus every 7th other county as 'other agency only'."""
    signed = set(signed_fips(state))
    kinds = {f: OTHER_AGENCY for f in list(geo.county_shapes(state))[::7] if f not in signed}
    kinds.update(dict.fromkeys(signed, COUNTY_AGENCY))
    return kinds


def boxes_px(texts, renderer) -> np.ndarray:
    return np.array([t.get_window_extent(renderer).extents for t in texts]).reshape(-1, 4)


def assert_no_overlap_inside(fig, ax, texts) -> None:
    """Measured by the renderer after drawing, at the screen and at the saved resolution."""
    for dpi in (fig.dpi, plotting.DPI):
        fig.set_dpi(dpi)
        renderer = fig.canvas.get_renderer()
        b = boxes_px(texts, renderer)
        dx = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
        dy = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
        hit = np.triu((dx > 0) & (dy > 0), k=1)
        pairs = [(texts[i].get_text(), texts[j].get_text()) for i, j in zip(*np.nonzero(hit))]
        assert not pairs, f"overlapping labels at {dpi} dpi: {pairs[:5]}"
        frame = ax.get_window_extent(renderer)
        out = [
            t.get_text()
            for t, x in zip(texts, b)
            if x[0] < frame.x0 - 0.5 or x[1] < frame.y0 - 0.5 or x[2] > frame.x1 + 0.5 or x[3] > frame.y1 + 0.5
        ]
        assert not out, f"labels leaving the axes at {dpi} dpi: {out}"
    fig.set_dpi(100)


def draw(state: str, labelled, kinds) -> tuple[plt.Figure, plt.Axes, plotting.CountyMap]:
    plotting.use_style()
    fig, ax = plt.subplots()
    names = short_names(state)
    result = plotting.county_map(
        ax,
        geo.county_shapes(state),
        kinds,
        {f: names[f] for f in labelled},
        title=plotting.county_map_title(geo.state_info(state)["name"], 1, len(names)),
    )
    return fig, ax, result


@pytest.mark.parametrize("state", ["MINNESOTA", "WISCONSIN", "TEXAS"])
@pytest.mark.parametrize("which", ["every county", "the article's counties", "two kinds"])
def test_labels_do_not_overlap_and_stay_inside(state, which):
    shapes = geo.county_shapes(state)
    if which == "every county":
        kinds, labelled = signed_fips(state), list(shapes)
    elif which == "the article's counties":
        kinds, labelled = signed_fips(state), signed_fips(state)
    else:
        kinds = two_kinds(state)
        labelled = list(kinds)
    fig, ax, result = draw(state, labelled, kinds)
    try:
        assert sorted(label.fips for label in result.labels) == sorted(labelled)  # every label drawn
        assert_no_overlap_inside(fig, ax, result.texts)
        for label in result.labels:  # the label's point lies inside its own county
            assert shapes[label.fips].contains(Point(label.point)), (label.fips, label.name, label.point)
        renderer = fig.canvas.get_renderer()
        to_data = ax.transData.inverted()
        for label in result.labels:  # a label said to be inside is inside (1 pixel of rounding allowed)
            if label.how in (plotting.NAME_INSIDE, plotting.NUMBER_INSIDE):
                x0, y0, x1, y1 = label.artist.get_window_extent(renderer).extents + [1, 1, -1, -1]
                (a, b), (c, d) = to_data.transform([(x0, y0), (x1, y1)])
                assert geo.largest_polygon(shapes[label.fips]).contains(shapely.box(a, b, c, d)), label.name
        # the key lists exactly the numbered counties, in alphabetical order
        numbered = sorted((lb for lb in result.labels if lb.number), key=lambda lb: lb.number)
        assert [(lb.number, lb.name) for lb in numbered] == result.key
        assert [name.casefold() for _, name in result.key] == sorted(name.casefold() for _, name in result.key)
        assert all(lb.drawn == str(lb.number) for lb in numbered)
    finally:
        plt.close(fig)


def test_minnesota_names_the_article_counties_on_the_map():
    fig, _, result = draw("MINNESOTA", signed_fips("MINNESOTA"), signed_fips("MINNESOTA"))
    plt.close(fig)
    assert len(result.labels) == 8
    assert all(label.how in (plotting.NAME_INSIDE, plotting.NAME_ACROSS) for label in result.labels)
    drawn = {label.name: label.drawn for label in result.labels}
    assert drawn["Crow Wing"] in ("Crow Wing", "Crow\nWing")  # two lines when one does not fit


@pytest.mark.parametrize("state", ["TEXAS", "VIRGINIA"])
def test_a_long_key_sits_beside_or_below_the_map_clear_of_everything(state):
    kinds = signed_fips(state)
    fig, ax, result = draw(state, list(geo.county_shapes(state)) if state == "VIRGINIA" else kinds, kinds)
    assert len(result.key) > plotting.KEY_INLINE_MAX
    assert not any(label.how == plotting.NAME_ACROSS for label in result.labels)  # too dense to cross borders
    fig.canvas.draw()  # the legend lays itself out when drawn
    renderer = fig.canvas.get_renderer()
    key_texts = [t for t in ax.texts if t not in result.texts]
    assert {t.get_text() for t in key_texts} >= {name for _, name in result.key}
    frame, legend = ax.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer)
    for t in key_texts:
        box = t.get_window_extent(renderer)
        assert not box.overlaps(frame) and not box.overlaps(legend), t.get_text()
    assert_no_overlap_figure(key_texts + list(ax.get_legend().get_texts()), renderer)
    width, height = fig.get_size_inches()
    assert max(width, height) <= plotting.MAP_MAX_SIZE + 3.5  # the key's side was chosen to keep it compact
    plt.close(fig)


def test_legend_counts_each_kind():
    kinds = two_kinds("WISCONSIN")
    fig, ax, result = draw("WISCONSIN", [], kinds)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    n_signed = sum(k == COUNTY_AGENCY for k in kinds.values())
    n_other = len(kinds) - n_signed
    assert result.counts == {COUNTY_AGENCY: n_signed, OTHER_AGENCY: n_other, "no agreement": 72 - len(kinds)}
    assert legend == [
        f"County agency signed: {n_signed} counties",
        f"Other agency only: {n_other} counties",
        f"No agreement: {72 - len(kinds)} counties",
    ]


def test_one_kind_shortcut_and_singular_legend():
    shapes = geo.county_shapes("IOWA")
    fig, ax = plt.subplots()
    result = plotting.county_map(ax, shapes, ["19153"], {"19153": "Polk"})
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    assert legend == ["County agency signed: 1 county", "No county agency signed: 98 counties"]
    assert result.labels[0].how == plotting.NAME_INSIDE


@pytest.mark.parametrize("state", ["IOWA", "MINNESOTA", "TEXAS", "ALASKA"])
def test_figure_is_trimmed_to_the_state_shape(state):
    shapes = geo.county_shapes(state)
    bounds = shapely.total_bounds(list(shapes.values()))
    expected = (bounds[2] - bounds[0]) / ((bounds[3] - bounds[1]) * geo.map_aspect(tuple(bounds)))
    fig, ax = plt.subplots(figsize=(7, 8))  # the notebook's old, too tall figure
    result = plotting.county_map(ax, shapes, [], title="A title")
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    assert frame.width / frame.height == pytest.approx(expected, rel=0.01)
    width, height = fig.get_size_inches()
    assert width == pytest.approx(result.map_inches[0])  # nothing labelled: no key, no side margin
    assert height - result.map_inches[1] < 1.3  # title and legend only
    tight = fig.get_tightbbox(renderer)
    assert tight.width * tight.height > 0.55 * width * height  # ... and the saved image is mostly map
    plt.close(fig)


def test_alaska_is_drawn_in_one_piece():
    shapes = geo.county_shapes("ALASKA")
    x0, _, x1, _ = shapely.total_bounds(list(shapes.values()))
    assert x1 - x0 < 70  # the Aleutians west of 180 degrees are shifted, not drawn across the world


@pytest.mark.parametrize(
    "state,n_signed,n_total,n_any,published,expected",
    [
        ("Iowa", 0, 99, None, None, "None of Iowa's 99 counties has a county agency with a 287(g) agreement"),
        ("Iowa", 1, 99, None, None, "1 of Iowa's 99 counties has a county agency with a 287(g) agreement"),
        ("Minnesota", 8, 87, None, None, "8 of Minnesota's 87 counties have a county agency with a 287(g) agreement"),
        (
            "Iowa",
            0,
            99,
            1,
            None,
            "None of Iowa's 99 counties has a county agency with a 287(g) agreement; 1 has one through another agency",
        ),
        (
            "Iowa",
            0,
            99,
            2,
            None,
            "None of Iowa's 99 counties has a county agency with a 287(g) agreement; 2 have one through another agency",
        ),
        (
            "Minnesota",
            8,
            87,
            9,
            None,
            (
                "8 of Minnesota's 87 counties have a county agency with a 287(g) agreement; "
                "1 more has one through another agency"
            ),
        ),
        (
            "Texas",
            146,
            254,
            158,
            "2025-10-31 pm",
            (
                "146 of Texas's 254 counties have a county agency with a 287(g) agreement; "
                "12 more have one through another agency\nICE's sheet published 2025-10-31 pm"
            ),
        ),
        (
            "Minnesota",
            8,
            87,
            8,
            None,
            "8 of Minnesota's 87 counties have a county agency with a 287(g) agreement; no other agency adds a county",
        ),
        (
            "District of Columbia",
            1,
            1,
            None,
            "2026-05-18 am",
            (
                "1 of District of Columbia's 1 county has a county agency with a 287(g) agreement\n"
                "ICE's sheet published 2026-05-18 am"
            ),
        ),
    ],
)
def test_map_title_grammar(state, n_signed, n_total, n_any, published, expected):
    assert plotting.county_map_title(state, n_signed, n_total, n_any, published) == expected


@pytest.mark.parametrize(
    "args,match",
    [
        (("Iowa", 100, 99), "n_signed <= n_any <= n_total"),
        (("Iowa", 5, 99, 4), "n_signed <= n_any <= n_total"),
        (("Iowa", 5, 99, 100), "n_signed <= n_any <= n_total"),
        (("Iowa", -1, 99), "whole number"),
        (("Iowa", 1.5, 99), "whole number"),
        (("Iowa", True, 99), "whole number"),
        (("Iowa", 0, 0), "no counties"),
        (("", 0, 5), "empty state name"),
    ],
)
def test_map_title_bad_numbers(args, match):
    with pytest.raises(ValueError, match=match):
        plotting.county_map_title(*args)


def test_drawing_twice_gives_identical_png_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path))
    written = []
    for name in ("first", "second"):
        fig, _, _ = draw("WISCONSIN", list(two_kinds("WISCONSIN")), two_kinds("WISCONSIN"))
        written.append(plotting.save_figure(fig, name, source="test").read_bytes())
    assert written[0] == written[1]


MN = geo.county_shapes("MINNESOTA")


@pytest.mark.parametrize(
    "shapes,kinds,labels,error,match",
    [
        ({}, [], None, ValueError, "no county shapes to draw"),
        (MN, ["99999"], None, ValueError, "not among the 87 county shapes"),
        (MN, {"27021": COUNTY_AGENCY, "55009": COUNTY_AGENCY}, None, ValueError, "'55009'"),
        (MN, [], {"27": "Cass"}, ValueError, "labels name 1 FIPS not among"),
        (MN, {"27021": "sheriff only"}, None, ValueError, "unknown county kind 'sheriff only'"),
        (MN, "27021", None, TypeError, "not one string"),
        (MN, [], {"27021": "  "}, ValueError, "empty label for FIPS 27021"),
        ({"27021": [[(0, 0), (1, 0), (1, 1), (0, 0)]]}, [], None, TypeError, "not a shapely Polygon"),
        ({"27021": shapely.Polygon()}, [], None, ValueError, "is empty"),
    ],
)
def test_county_map_bad_inputs(shapes, kinds, labels, error, match):
    fig, ax = plt.subplots()
    try:
        with pytest.raises(error, match=match):
            plotting.county_map(ax, shapes, kinds, labels)
    finally:
        plt.close(fig)


def test_wrap_to_width_balances_lines():
    def measure(text, size, weight="normal"):
        return len(text) * 5.0, 10.0

    assert plotting.wrap_to_width("aaaa bbbb cccc dd", 80, measure, 10) == "aaaa bbbb\ncccc dd"  # not 3 + 1 words
    assert plotting.wrap_to_width("short", 80, measure, 10) == "short"
    assert plotting.wrap_to_width("unbreakablewordthatislong x", 40, measure, 10) == "unbreakablewordthatislong\nx"
    assert plotting.wrap_to_width("one\ntwo", 80, measure, 10) == "one\ntwo"

    # a source line takes as many words as fit, in order (no balancing)
    assert plotting.wrap_to_width("aaaa bbbb cccc dd", 80, measure, 10, balanced=False) == "aaaa bbbb cccc\ndd"


def _brute_force_balanced(words, width, measure):
    """Fewest lines, then the narrowest widest line, over every way of breaking ``words`` (small inputs only)."""
    best = None
    for cuts in itertools.product([False, True], repeat=len(words) - 1):
        lines, line = [], [words[0]]
        for word, cut in zip(words[1:], cuts):
            if cut:
                lines.append(" ".join(line))
                line = [word]
            else:
                line.append(word)
        lines.append(" ".join(line))
        if all(measure(x, 10)[0] <= width or " " not in x for x in lines):  # a word too wide stays on its own
            widest = max(measure(x, 10)[0] for x in lines)
            key = (len(lines), widest)
            best = key if best is None or key < best else best
    return best


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("aaaa bbbb cccc dd", 80),
        ("a bb ccc dddd eeeee ffffff g", 60),
        ("one two three four five six seven eight", 100),
        ("x " * 9 + "x", 23),
        ("a  b c", 20),  # two spaces: an empty word
        ("longwordthatdoesnotfit a b", 40),
    ],
)
def test_wrap_to_width_is_optimal(text, width):
    def measure(text, size, weight="normal"):
        return len(text) * 5.0, 10.0

    lines = plotting.wrap_to_width(text, width, measure, 10).split("\n")
    widest = max(measure(x, 10)[0] for x in lines)
    assert (len(lines), widest) == _brute_force_balanced(text.split(" "), width, measure)
    assert " ".join(lines) == text  # nothing lost or added


def test_wrap_to_width_measures_lines_whole_when_spaces_do_not_add_up():
    # a font whose long lines are wider than their words and spaces: the sums would let "aaaa bbbb cccc" (70 by its
    # words, 77 whole) onto a 75-point line; the result is measured whole and wrapped again
    whole = []

    def kerned(text, size, weight="normal"):
        whole.append(text)
        return len(text) * 5.0 * (1.1 if " " in text and len(text) > 12 else 1.0), 10.0

    assert plotting.wrap_to_width("aaaa bbbb cccc dd", 75, kerned, 10, balanced=False) == "aaaa bbbb\ncccc dd"
    assert "aaaa bbbb cccc" in whole
    assert plotting.wrap_to_width("aaaa bbbb cccc dd", 75, kerned, 10) == "aaaa bbbb\ncccc dd"


def test_wrap_to_width_measures_few_lines_whole():
    # words are measured once each; whole lines only near the limit and for the result
    calls = []

    def measure(text, size, weight="normal"):
        calls.append(text)
        return len(text) * 5.0, 10.0

    words = [f"w{i:02d}" for i in range(40)]
    plotting.wrap_to_width(" ".join(words), 200, measure, 10)
    whole = [c for c in calls if " " in c and c != "n n"]
    assert len(whole) <= 12, whole
    assert len(calls) == len(set(calls))  # nothing measured twice


@pytest.mark.parametrize(("value", "label"), [(1, "1"), (10, "10"), (1000, "1,000"), (12500, "12,500"), (0.5, "0.5")])
def test_log_count_axis_labels_plain_numbers(value, label):
    fig, ax = plt.subplots()
    try:
        ax.set_yscale("log")
        plotting.log_count_axis(ax.yaxis)
        assert ax.yaxis.get_major_formatter()(value, 0) == label
        assert "$" not in ax.yaxis.get_minor_formatter()(value * 2, 0)  # plain text, no mathtext
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- ranked bars

GROUPS = {
    "Florida and Texas": ["FLORIDA", "TEXAS"],
    "Wisconsin, Iowa and the Dakotas": ["WISCONSIN", "IOWA", "NORTH DAKOTA", "SOUTH DAKOTA"],
}


@lru_cache(maxsize=1)
def state_table() -> pd.DataFrame:
    return ice.state_counts(article_sheet())


@pytest.mark.parametrize("chosen,show_zero", [("MINNESOTA", False), ("CALIFORNIA", False), ("IOWA", True)])
def test_state_bars_labels_do_not_overlap(chosen, show_zero):
    plotting.use_style()
    fig, ax = plt.subplots()
    result = plotting.state_bars(ax, state_table(), chosen, GROUPS, show_zero=show_zero)
    ax.set_title("title")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = list(ax.get_yticklabels()) + [t for t in ax.texts if t.get_text()]  # bar labels and the note
    assert all(t in texts for t in result.bar_labels)
    assert_no_overlap_figure(texts, renderer)
    legend = result.legend.get_window_extent(renderer)
    for t in texts + list(ax.patches):
        assert not legend.overlaps(t.get_window_extent(renderer)), t
    table = state_table()
    name = geo.state_info(chosen)["name"]
    assert name in result.shown  # the chosen state is drawn, even with none
    zero = sorted(table.loc[table["agreements"] == 0, "name"])
    if show_zero:
        assert result.left_off == [] and result.note == "" and len(result.shown) == len(table)
    else:
        assert result.left_off == [n for n in zero if n != name]
        assert result.note.startswith(f"Not shown: {len(result.left_off)} states and territories with no agreements")
        assert all(n in result.note for n in result.left_off)
        assert len(result.shown) == len(table) - len(result.left_off)
    values = [int(table.loc[table["name"] == n, "agreements"].iloc[0]) for n in result.shown]
    assert values == sorted(values, reverse=True)
    plt.close(fig)


def test_state_bars_legend_moves_beside_the_axes_when_it_would_cover_a_bar():
    """Every state at 300: the lowest bars reach the lower right corner, so the legend goes beside the axes."""
    plotting.use_style()
    fig, ax = plt.subplots()
    result = plotting.state_bars(ax, state_table().assign(agreements=300), "MINNESOTA", GROUPS)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = result.legend.get_window_extent(renderer)
    try:
        assert legend.x0 >= ax.get_window_extent(renderer).x1  # beside, not over, the bars
        for t in [*ax.patches, *result.bar_labels, *ax.get_yticklabels()]:
            assert not legend.overlaps(t.get_window_extent(renderer)), t
    finally:
        plt.close(fig)


def test_state_bars_note_moves_with_the_figure_when_saved_tight():
    """save_figure saves with bbox_inches="tight", which shifts transFigure (and the source line on it) but not
    dpi_scale_trans: the note naming the states left off must be placed on transFigure, or it slides over the
    source line (it did, in notebook 02's figure)."""
    import io

    from PIL import Image

    plotting.use_style()
    fig, ax = plt.subplots()
    result = plotting.state_bars(ax, state_table(), "MINNESOTA", GROUPS)
    note = next(t for t in ax.texts if t.get_text().startswith("Not shown"))
    source = plotting.source_line(fig, "ICE")  # as save_figure places it

    def pixels() -> np.ndarray:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=plotting.DPI, bbox_inches="tight")
        return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))

    def rows_of(text) -> np.ndarray:  # the rows a text's pixels occupy in the saved image (alpha 0 keeps the layout)
        full = pixels()
        text.set_alpha(0)
        without = pixels()
        text.set_alpha(None)
        return np.flatnonzero((full != without).any(axis=1))

    try:
        assert result.note
        assert rows_of(note).max() < rows_of(source).min(), "the note and the source line overlap when saved"
    finally:
        plt.close(fig)


def assert_no_overlap_figure(texts, renderer) -> None:
    b = boxes_px(texts, renderer)
    dx = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    dy = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    hit = np.triu((dx > 0) & (dy > 0), k=1)
    assert not hit.any(), [(texts[i].get_text(), texts[j].get_text()) for i, j in zip(*np.nonzero(hit))][:5]


@pytest.mark.parametrize(
    "change,kwargs,error,match",
    [
        (lambda t: t.drop(columns="name"), {}, ValueError, "lacks column"),
        (lambda t: pd.concat([t, t.head(1)]), {}, ValueError, "repeated"),
        (lambda t: t.assign(agreements=t["agreements"] - 1000), {}, ValueError, "whole numbers >= 0"),
        (lambda t: t.assign(agreements=t["agreements"] + 0.5), {}, ValueError, "whole numbers >= 0"),
        (lambda t: t, {"highlight_state": "MINNESOTTA"}, geo.UnknownStateError, "MINNESOTA"),
        (lambda t: t[t["state"] != "MINNESOTA"], {"highlight_state": "MINNESOTA"}, ValueError, "not in the table"),
        (lambda t: t, {"groups": {"x": ["ATLANTIS"]}}, geo.UnknownStateError, "ATLANTIS"),
        (lambda t: t.assign(agreements=0), {}, ValueError, "no state has any agreements"),
    ],
)
def test_state_bars_bad_inputs(change, kwargs, error, match):
    fig, ax = plt.subplots()
    try:
        with pytest.raises(error, match=match):
            plotting.state_bars(ax, change(state_table()), **kwargs)
    finally:
        plt.close(fig)


def _titled_axes(case: str, loc: str):
    """A figure whose y axis or top x axis may put something under the title (see the table below)."""
    fig, ax = plt.subplots()
    y = {"multiplier": [1e7, 3e7], "offset": [1_000_000, 1_000_010], "negative multiplier": [-3e-7, -1e-7]}.get(
        case, [1, 2]
    )
    ax.plot([0, 1], y)
    if case == "ticks on top":
        ax.xaxis.tick_top()
    if case == "label on top":
        ax.xaxis.set_label_position("top")
    if case == "tick labels on top too":
        ax.tick_params(labeltop=True)
    ax.set(xlabel="x", ylabel="y")
    ax.set_title("A title that states the finding\non two lines", loc=loc)
    return fig, ax


@pytest.mark.parametrize(
    ("case", "loc", "moves"),
    [
        ("plain", "left", False),  # nothing above the axes: the title stays where the style puts it
        ("plain", "center", False),
        ("multiplier", "left", True),  # "1e7" above the y axis, under a left title
        ("negative multiplier", "left", True),
        ("offset", "left", True),  # "+1e6" and the like
        ("multiplier", "right", False),  # the y axis's offset text is on the left, away from a right title
        ("ticks on top", "left", True),
        ("ticks on top", "center", True),
        ("label on top", "center", True),
        ("tick labels on top too", "left", True),
    ],
)
def test_save_figure_lifts_titles_clear_of_offset_text_and_top_ticks(tmp_path, monkeypatch, case, loc, moves):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path))
    plotting.use_style()
    fig, ax = _titled_axes(case, loc)
    plotting.save_figure(fig, "titled", source="test")
    FigureCanvasAgg(fig)  # save_figure closed it; measure as drawn again
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    title = next(c for c in ax.get_children() if isinstance(c, Text) and c.get_text().startswith("A title"))
    below = [ax.yaxis.get_offset_text(), *ax.xaxis.get_ticklabels(), ax.xaxis.label]
    boxes = [t.get_window_extent(renderer) for t in below if t.get_visible() and t.get_text()]
    assert not [b for b in boxes if b.overlaps(title.get_window_extent(renderer))]
    assert (title.get_position()[1] > 1.0) == moves


def test_raise_covered_titles_says_whether_it_moved_a_title():
    """Nothing to move on a plain figure (save_figure then draws it once); a moved title is clear the next time."""
    plotting.use_style()
    fig, ax = _titled_axes("plain", "left")
    fig.draw_without_rendering()
    try:
        assert plotting.raise_covered_titles(fig) is False
        fig2, _ = _titled_axes("multiplier", "left")
        fig2.draw_without_rendering()
        assert plotting.raise_covered_titles(fig2) is True
        assert plotting.raise_covered_titles(fig2) is False  # once clear, it stays
    finally:
        plt.close("all")


@pytest.mark.parametrize("height", [3.0, 5.5, 60.0])
def test_source_line_sits_the_same_distance_under_any_figure(height):
    """A fixed gap in inches: on a 60-inch figure (a row per agency of Texas) it stays right under the figure."""
    plotting.use_style()
    fig = plt.figure(figsize=(9.0, height))
    try:
        line = plotting.source_line(fig, ["ICE 287(g) participating agencies", "Census 2024 Gazetteer"])
        box = line.get_window_extent(fig.canvas.get_renderer())
        assert line.get_text() == "Source: ICE 287(g) participating agencies; Census 2024 Gazetteer"
        assert box.y1 == pytest.approx(-plotting.SOURCE_GAP * fig.dpi, abs=0.5)  # pixels below the bottom edge
        assert box.x0 == pytest.approx(0.0, abs=0.5)
    finally:
        plt.close(fig)
