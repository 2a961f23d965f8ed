"""States, territories and Census counties; matching printed county names to FIPS.

* :func:`states` — the 50 states, DC and the territories (upper-case name as ICE
  prints it, display name, USPS code, FIPS, kind), from ``data/reference/states.csv``
  (checked against the Census Gazetteer and the us-atlas geometry by the tests).
* :func:`normalize_state` — a printed state name to the reference name; ICE's
  typos are fixed only through ``data/corrections/state_names.csv``.
* :func:`counties` — every county and equivalent from the Census 2024 Gazetteer.
* :func:`match_county` — printed county name to 5-digit FIPS, by stated rules.
* :func:`county_shapes` — each county's area (shapely polygons with holes) for maps.
* :func:`neighbouring_states` — states sharing a land border.

County-matching rules, tried in order (the rule used is returned with the match):

1. ``correction``: the (state, printed name) pair is in ``data/corrections/county_names.csv``.
   A correction with an empty ``county_fips`` says that the printed name was checked by
   hand and is no county of that state (e.g. a regional jail of several counties, or a
   county of another state printed under this one): rule ``no county (correction)``.
2. ``exact``: the printed name equals a Census county name of that state
   (case, spacing and punctuation ignored; ``St.`` = ``Saint``).
3. ``base``: the printed name without its suffix (``County``, ``Parish``, ``Borough``…)
   equals exactly one county's name without its suffix.
4. ``agency``: nothing was printed (sheets before March 2025 have no COUNTY
   column) and the agency name starts with ``<Name> County`` (or Parish): that
   name goes through rules 1-3 (so a correction applies to it as well).
5. otherwise ``unmatched`` (the caller decides: :mod:`helpers.ice` stops with an error
   naming the row and the corrections file), or ``no county printed`` when there was
   nothing to match, or ``no Census counties`` for a place with no counties in the
   Census list (Guam, the Virgin Islands, American Samoa, the Northern Mariana Islands).
"""

from __future__ import annotations

import difflib
import math
import re
from functools import cache, lru_cache
from pathlib import Path

import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon

from helpers import data, paths, table_cache

GAZETTEER = "context/2024_Gaz_counties_national.txt"
STATES_CSV = paths.DATA / "reference" / "states.csv"
STATE_CORRECTIONS = paths.CORRECTIONS / "state_names.csv"
COUNTY_CORRECTIONS = paths.CORRECTIONS / "county_names.csv"
_SUFFIXES = (
    "city and borough",
    "census area",
    "municipality",
    "borough",
    "parish",
    "county",
    "planning region",
)


class UnknownStateError(ValueError):
    """A state or territory name that is not in the reference table or the corrections."""


@lru_cache(maxsize=1)
def states() -> pd.DataFrame:
    """Reference table of states, DC and territories (columns state, name, usps, fips, kind)."""
    return pd.read_csv(STATES_CSV, dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def _state_corrections() -> dict[str, str]:
    df = pd.read_csv(STATE_CORRECTIONS, dtype=str, keep_default_na=False)
    return dict(zip(df["printed"].str.strip().str.upper(), df["state"]))


@lru_cache(maxsize=1)
def _known_states() -> dict[str, dict[str, str]]:
    return {str(row["state"]): {str(k): str(v) for k, v in row.items()} for row in states().to_dict("records")}


def normalize_state(printed: object) -> str:
    """Reference upper-case name for a printed state name; raises :class:`UnknownStateError`."""
    text = re.sub(r"\s+", " ", str(printed if printed is not None else "")).strip().upper()
    known = _known_states()
    if text in known:
        return text
    fixed = _state_corrections().get(text)
    if fixed is not None:
        return fixed
    near = difflib.get_close_matches(text, sorted(known), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(near)}?" if near else ""
    raise UnknownStateError(
        f"unknown state or territory {printed!r}.{hint} Known names are in "
        f"{paths.relative(STATES_CSV)}; a misspelling in a source file goes in "
        f"{paths.relative(STATE_CORRECTIONS)} with a reason."
    )


def state_info(state: str) -> dict[str, str]:
    """The reference row (state, name, usps, fips, kind) for a state name, as a dict."""
    return dict(_known_states()[normalize_state(state)])


@lru_cache(maxsize=1 << 16)  # pure, and called for every cell of every sheet
def key(name: object) -> str:
    """Comparison key for a place name: lower case, ``St.`` = ``Saint``, no punctuation."""
    text = str(name if name is not None else "").casefold().strip()
    text = re.sub(r"\bst\.?\s", "saint ", text)
    text = re.sub(r"\bste\.?\s", "sainte ", text)
    text = re.sub(r"[^a-z0-9 ]", "", text.replace("-", " "))
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=1 << 16)
def base_key(name: object) -> str:
    """:func:`key` without a trailing county-type suffix (``Cass County`` -> ``cass``)."""
    text = key(name)
    for suffix in _SUFFIXES:
        if text.endswith(" " + suffix):
            return text[: -len(suffix) - 1]
    return text


@lru_cache(maxsize=1)
def counties() -> pd.DataFrame:
    """Census 2024 Gazetteer counties: usps, state_fips, county_fips, county_name, keys.

    Every notebook needs them: the table is made once from the verified Gazetteer file and kept in the table
    cache (:mod:`helpers.table_cache`) under a key of the file's registered sha256 and this module's source.
    """
    path = data.fetch(GAZETTEER)  # verified on every run, cached table or not
    return table_cache.cached("counties", _counties_key(), lambda: _read_counties(path))


def _counties_key() -> str:
    """Table-cache key of :func:`counties`: the Gazetteer's registered sha256 and this module's source."""
    return table_cache.key([f"{GAZETTEER} {data.resolve(GAZETTEER).sha256}", Path(__file__)])


def _read_counties(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    needed = {"USPS", "GEOID", "NAME"}
    if not needed <= set(df.columns):
        raise data.RawDataError(f"{GAZETTEER}: expected columns {sorted(needed)}, found {list(df.columns)}")
    out = pd.DataFrame(
        {
            "usps": df["USPS"].str.strip(),
            "state_fips": df["GEOID"].str.strip().str[:2],
            "county_fips": df["GEOID"].str.strip(),
            "county_name": df["NAME"].str.strip(),
        }
    )
    out["key"] = out["county_name"].map(key)
    out["base"] = out["county_name"].map(base_key)
    return out.sort_values("county_fips").reset_index(drop=True)


def state_counties(state: str) -> pd.DataFrame:
    """Census counties of one state (by name as ICE prints it)."""
    fips = state_info(state)["fips"]
    df = counties()
    return df[df["state_fips"] == fips].reset_index(drop=True)


@lru_cache(maxsize=1)
def _county_corrections() -> dict[tuple[str, str], str | None]:
    """(state, key of the printed name) -> FIPS, or None for a name checked as no county of that state."""
    df = pd.read_csv(COUNTY_CORRECTIONS, dtype=str, keep_default_na=False)
    return {
        (state.strip().upper(), key(printed)): (fips.strip() or None)
        for state, printed, fips in zip(df["state"], df["printed"], df["county_fips"])
    }


@cache
def _lookup_tables(state_fips: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    df = counties()
    df = df[df["state_fips"] == state_fips]
    exact = dict(zip(df["key"], df["county_fips"]))
    base: dict[str, list[str]] = {}
    for b, f in zip(df["base"], df["county_fips"]):
        base.setdefault(b, []).append(f)
    return exact, base


_AGENCY_COUNTY = re.compile(r"^(?:the\s+)?(.+?\s+(?:county|parish))\b", re.IGNORECASE)
#: Rules of :func:`match_county` that give a county, and those that do not.
MATCHED_RULES = ("correction", "exact", "base", "agency")
NO_COUNTY_CORRECTION = "no county (correction)"
NO_COUNTY_PRINTED = "no county printed"
NO_CENSUS_COUNTIES = "no Census counties"
UNMATCHED = "unmatched"


class NoCountiesError(ValueError):
    """A state or territory with no counties in the Census county list (e.g. Guam)."""


def has_counties(state: str) -> bool:
    """True when the Census county list (2024 Gazetteer: 50 states, DC, Puerto Rico) has counties for ``state``."""
    return bool(_lookup_tables(state_info(state)["fips"])[0])


def require_counties(state: str, parameter: str = "state") -> pd.DataFrame:
    """:func:`state_counties` of ``state``; raises :class:`NoCountiesError` when it has none (Guam, ...).

    The message names the parameter and says why: a count of counties of a place
    without counties would read "0 of Guam's 0 counties".
    """
    found = state_counties(state)
    if found.empty:
        name = state_info(state)["name"]
        raise NoCountiesError(
            f"Parameter {parameter}={state!r}: {name} has no counties in the Census county list "
            f"(2024 Gazetteer, which covers the 50 states, DC and Puerto Rico), so its counties cannot be counted. "
            f"Choose a state, DC or Puerto Rico; {name}'s agreements are counted in the table of every state "
            "(notebook 02, data/processed/state_agreements_<sheet>.csv)."
        )
    return found


def _match_name(state: str, exact: dict[str, str], base: dict[str, list[str]], text: str) -> tuple[str | None, str]:
    if (state, key(text)) in _county_corrections():
        fixed = _county_corrections()[(state, key(text))]
        return fixed, "correction" if fixed else NO_COUNTY_CORRECTION
    if key(text) in exact:
        return exact[key(text)], "exact"
    hits = base.get(base_key(text), [])
    if len(hits) == 1:
        return hits[0], "base"
    return None, UNMATCHED


def match_county(state: str, printed: object, agency: object = "") -> tuple[str | None, str]:
    """5-digit county FIPS for a printed county name, and the rule that matched (see the module's rules).

    Returns ``(None, "unmatched")`` when no rule applies, ``(None, "no county printed")``
    when there is nothing to match (no county printed and none in the agency name),
    ``(None, "no county (correction)")`` for a name the corrections mark as no county of
    the state, and ``(None, "no Census counties")`` for a place without Census counties.
    """
    state = normalize_state(state)
    fips = state_info(state)["fips"]
    exact, base = _lookup_tables(fips)
    text = "" if printed is None or (isinstance(printed, float) and pd.isna(printed)) else str(printed).strip()
    if not exact:
        return None, NO_CENSUS_COUNTIES
    if text:
        return _match_name(state, exact, base, text)
    m = _AGENCY_COUNTY.match(str(agency or "").strip())
    if m:
        found, rule = _match_name(state, exact, base, m.group(1))
        return found, "agency" if rule in ("exact", "base") else rule
    return None, NO_COUNTY_PRINTED


# --------------------------------------------------------------------------- map geometry

ATLAS_COUNTIES = "geo/us-atlas-2023-4.0.0/counties-10m.json"
#: Degrees by which a county that quantization collapsed to a line is widened.
COLLAPSED_WIDTH = 0.002


def _decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """Absolute lon/lat coordinates of every arc of a quantized TopoJSON topology."""
    scale = topology.get("transform", {}).get("scale", [1.0, 1.0])
    shift = topology.get("transform", {}).get("translate", [0.0, 0.0])
    quantized = "transform" in topology
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            if quantized:
                x, y = x + dx, y + dy
                points.append((x * scale[0] + shift[0], y * scale[1] + shift[1]))
            else:
                points.append((dx, dy))
        arcs.append(points)
    return arcs


def _ring(indices: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """Stitch arcs into one ring; a negative index ~i means arc i reversed."""
    ring: list[tuple[float, float]] = []
    for i in indices:
        points = arcs[i] if i >= 0 else arcs[~i][::-1]
        ring.extend(points if not ring else points[1:])
    return ring


def polygons_from_topology(geometry: dict, arcs: list[list[tuple[float, float]]]) -> MultiPolygon:
    """One TopoJSON ``Polygon`` or ``MultiPolygon`` geometry as a valid shapely :class:`MultiPolygon`.

    In each polygon the first ring is the outline and the others are holes (an
    independent city inside a county, a lake).  Rules for what quantization
    leaves behind: a ring with fewer than four points, or whose points lie on
    one line, is dropped (a sliver collapsed to a point or a line); a
    self-touching outline is repaired with ``shapely.make_valid`` keeping only
    areas; a county with no ring of any area left (Falls Church city, Virginia,
    is a line in the 10m file) becomes its points' hull widened by
    :data:`COLLAPSED_WIDTH` degrees, so that it can still be drawn and
    labelled.  Raises ``ValueError`` for another geometry type or a geometry
    without coordinates.
    """
    kind = geometry.get("type")
    gid = geometry.get("id", "?")
    if kind == "Polygon":
        polygons = [geometry["arcs"]]
    elif kind == "MultiPolygon":
        polygons = geometry["arcs"]
    else:
        raise ValueError(f"geometry {gid!r} has type {kind!r}; a county must be a Polygon or MultiPolygon")
    parts: list[Polygon] = []
    points: list[tuple[float, float]] = []
    for rings in polygons:
        coords = [_ring(ring, arcs) for ring in rings]
        points.extend(xy for c in coords for xy in c)
        coords = [c for c in coords if len(c) >= 4 and shapely.MultiPoint(c).convex_hull.area > 0]
        if coords:
            parts.append(Polygon(coords[0], coords[1:]))
    if not parts:
        if not points:
            raise ValueError(f"geometry {gid!r} has no coordinates")
        sliver = shapely.MultiPoint(points).convex_hull.buffer(COLLAPSED_WIDTH, quad_segs=2)
        return MultiPolygon([sliver])
    shape = MultiPolygon(parts)
    if not shape.is_valid:
        shape = shapely.make_valid(shape, method="structure", keep_collapsed=False)
    polys = [p for p in shapely.get_parts(shape) if isinstance(p, Polygon) and not p.is_empty]
    if not polys:
        raise ValueError(f"geometry {gid!r} has no area left after repair")
    return MultiPolygon(polys)


def county_shapes(state: str) -> dict[str, MultiPolygon]:
    """County FIPS -> its area (lon/lat, a shapely MultiPolygon with holes) for one state, sorted by FIPS.

    From the Census 2023 cartographic boundaries (us-atlas ``counties-10m.json``),
    built by :func:`polygons_from_topology`.  A state whose counties cross the
    180th meridian (Alaska's Aleutians) has its eastern-hemisphere longitudes
    shifted by -360 degrees so that it is drawn in one piece.  Returns an empty
    dict if the geometry file is not registered (maps are then skipped).

    Building them reads the whole national file; each state's shapes are kept in the table cache
    (:mod:`helpers.table_cache`, as WKB, which keeps every coordinate) under a key of the file's registered
    sha256, this module's source and shapely's version.
    """
    try:
        path = data.fetch(ATLAS_COUNTIES)  # verified on every run, cached shapes or not
    except data.UnknownRawFileError:
        return {}
    fips = state_info(state)["fips"]
    table = table_cache.cached(f"county-shapes/{fips}", _shapes_key(fips), lambda: _shapes_table(path, fips))
    return dict(zip(table["county_fips"], shapely.from_wkb(table["wkb"].to_numpy())))


def _shapes_key(fips: str) -> str:
    """Table-cache key of one state's :func:`county_shapes`: the atlas file's registered sha256, the state, this
    module's source and shapely's version (it repairs and stores the shapes)."""
    return table_cache.key(
        [
            f"{ATLAS_COUNTIES} {data.resolve(ATLAS_COUNTIES).sha256}",
            f"state {fips}",
            f"shapely {table_cache.version('shapely')}",
            Path(__file__),
        ]
    )


def _shapes_table(path: Path, fips: str) -> pd.DataFrame:
    """:func:`county_shapes` of the state with FIPS code ``fips`` as a table (``county_fips``, ``wkb``)."""
    import json

    topology = json.loads(path.read_text(encoding="utf-8"))
    arcs = _decode_arcs(topology)
    shapes = {
        str(geom["id"]): polygons_from_topology(geom, arcs)
        for geom in topology["objects"]["counties"]["geometries"]
        if str(geom.get("id", "")).startswith(fips) and len(str(geom["id"])) == 5
    }
    if shapes:
        xmin, _, xmax, _ = shapely.total_bounds(list(shapes.values()))
        if xmax - xmin > 180:
            shapes = {
                f: shapely.transform(g, lambda xy: xy - [[360.0, 0.0]] * (xy[:, :1] > 0)) for f, g in shapes.items()
            }
    ordered = sorted(shapes.items())
    return pd.DataFrame(
        {"county_fips": [f for f, _ in ordered], "wkb": [shapely.to_wkb(g) for _, g in ordered]},
        columns=["county_fips", "wkb"],
    )


def largest_polygon(shape: Polygon | MultiPolygon) -> Polygon:
    """The part with the largest area (where a county's label goes); ties go to the first part."""
    parts = [p for p in shapely.get_parts(shape) if isinstance(p, Polygon)]
    if not parts:
        raise ValueError(f"no polygon in {shape.geom_type}")
    return max(parts, key=lambda p: p.area)


def map_aspect(bounds: tuple[float, float, float, float]) -> float:
    """Height-to-width scale of a degree of latitude against one of longitude at the bounds' middle latitude.

    ``1 / cos(middle latitude)``: an equirectangular projection that is true to
    shape at the middle of the map, adequate for one state.
    """
    _, ymin, _, ymax = bounds
    middle = (ymin + ymax) / 2
    if not -80 < middle < 80:
        raise ValueError(f"middle latitude {middle} is outside -80..80; not a map of a U.S. state")
    return 1 / math.cos(math.radians(middle))


# --------------------------------------------------------------------------- neighbouring states

ATLAS_STATES = "geo/us-atlas-2023-4.0.0/states-10m.json"


def shared_arc_neighbours(topology: dict, object_name: str, geometry_id: str) -> list[str]:
    """Ids of the geometries of ``object_name`` that share a boundary arc with ``geometry_id``.

    In a TopoJSON topology a boundary between two areas is stored once, as an
    arc both areas use (a negative index ``~i`` is arc ``i`` reversed), so two
    areas border each other exactly when their arc sets intersect.  Areas that
    only face each other across water (cartographic boundaries follow the
    shoreline) or touch at a single point share no arc and are not neighbours.
    """

    def arc_set(geom: dict) -> set[int]:
        polygons = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        return {i if i >= 0 else ~i for polygon in polygons for ring in polygon for i in ring}

    geometries = topology["objects"][object_name]["geometries"]
    by_id = {str(g.get("id")): g for g in geometries if g.get("type") in ("Polygon", "MultiPolygon")}
    if geometry_id not in by_id:
        raise KeyError(f"no geometry with id {geometry_id!r} in objects.{object_name}")
    own = arc_set(by_id[geometry_id])
    return sorted(gid for gid, g in by_id.items() if gid != geometry_id and own & arc_set(g))


def neighbouring_states(state: str) -> list[str]:
    """States (upper-case reference names, alphabetical) sharing a land border with ``state``.

    Computed from the Census 2023 cartographic state boundaries (us-atlas
    ``states-10m.json``) by :func:`shared_arc_neighbours`.
    """
    import json

    info = state_info(state)
    topology = json.loads(data.fetch(ATLAS_STATES).read_text(encoding="utf-8"))
    by_fips = {row["fips"]: row["state"] for row in _known_states().values()}
    return sorted(by_fips[f] for f in shared_arc_neighbours(topology, "states", info["fips"]))
