"""States, counties and county matching."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from helpers import data, geo, table_cache


def test_state_reference_agrees_with_census_gazetteer_and_atlas():
    ref = geo.states()
    assert len(ref) == 56 and ref["fips"].is_unique and ref["usps"].is_unique and ref["state"].is_unique
    assert (ref["kind"] == "state").sum() == 50
    gaz = geo.counties()[["usps", "state_fips"]].drop_duplicates()
    merged = gaz.merge(ref, left_on="state_fips", right_on="fips")
    assert len(merged) == len(gaz) == 52  # 50 states, DC, PR
    assert (merged["usps_x"] == merged["usps_y"]).all()
    atlas = json.loads(data.fetch("geo/us-atlas-2023-4.0.0/states-10m.json").read_text())
    ids = {g["id"] for g in atlas["objects"]["states"]["geometries"]}
    assert ids == set(ref["fips"])


def test_minnesota_has_87_counties():
    mn = geo.state_counties("MINNESOTA")
    assert len(mn) == 87 and mn["county_fips"].str.startswith("27").all()


@pytest.mark.parametrize(
    "printed,expected",
    [("Minnesota ", "MINNESOTA"), ("UTAh", "UTAH"), ("WEST VIRIGINIA", "WEST VIRGINIA"), ("GUAM", "GUAM")],
)
def test_normalize_state(printed, expected):
    assert geo.normalize_state(printed) == expected


def test_unknown_state_is_an_error_with_a_suggestion():
    with pytest.raises(geo.UnknownStateError, match="MINNESOTA"):
        geo.normalize_state("MINNESOTTA")
    with pytest.raises(geo.UnknownStateError):
        geo.state_counties("ATLANTIS")


@pytest.mark.parametrize(
    "state,printed,agency,fips,rule",
    [
        ("MINNESOTA", "Cass County ", "", "27021", "exact"),
        ("MINNESOTA", "cass county", "", "27021", "exact"),
        ("MINNESOTA", "Cass", "", "27021", "base"),
        ("MINNESOTA", "St. Louis County", "", "27137", "exact"),
        ("MINNESOTA", None, "Cass County Sheriff's Office", "27021", "agency"),
        ("ARKANSAS", "Pop County", "", "05115", "correction"),
        ("MINNESOTA", "Itaska County", "", None, "unmatched"),
        ("NORTH CAROLINA", "Albemarle County", "", None, "no county (correction)"),  # a jail of several counties
        ("TEXAS", "Guadalupe Conty", "", "48187", "correction"),
        ("TEXAS", "Fall County", "", "48145", "correction"),
        ("TEXAS", "San Patricio", "", "48409", "base"),
        ("GEORGIA", None, "Spaulding County Sheriff's Office", "13255", "correction"),  # corrections apply to names too
        ("MINNESOTA", None, "Minnesota Department of Corrections", None, "no county printed"),
        ("GUAM", "Kattan District", "", None, "no Census counties"),
        ("GUAM", None, "", None, "no Census counties"),
    ],
)
def test_match_county_rules(state, printed, agency, fips, rule):
    assert geo.match_county(state, printed, agency) == (fips, rule)


def test_a_place_without_census_counties_is_refused_by_name():
    assert geo.has_counties("MINNESOTA") and not geo.has_counties("GUAM")
    assert len(geo.require_counties("MINNESOTA")) == 87
    with pytest.raises(geo.NoCountiesError) as err:
        geo.require_counties("GUAM")
    for words in ("Parameter state='GUAM'", "Guam has no counties in the Census county list", "notebook 02"):
        assert words in str(err.value)


def test_every_county_correction_names_a_county_of_its_state_or_none():
    table = pd.read_csv(geo.COUNTY_CORRECTIONS, dtype=str, keep_default_na=False)
    assert not table.duplicated(["state", "printed"]).any()
    for r in table.itertuples():
        if r.county_fips:
            assert r.county_fips in set(geo.state_counties(r.state)["county_fips"]), r
        else:
            assert r.reason.startswith("No county:"), f"a correction to no county says why first: {r}"
        assert geo.match_county(r.state, r.printed)[0] == (r.county_fips or None)


def test_virginia_city_and_county_of_the_same_name_are_kept_apart():
    assert geo.match_county("VIRGINIA", "Fairfax County")[0] == "51059"
    assert geo.match_county("VIRGINIA", "Fairfax city")[0] == "51600"
    # a bare name means the county: independent cities keep "city" in their Census name
    assert geo.match_county("VIRGINIA", "Fairfax") == ("51059", "base")


@pytest.mark.parametrize("state", ["MINNESOTA", "WISCONSIN", "IOWA", "TEXAS", "VIRGINIA", "ALASKA", "CONNECTICUT"])
def test_county_shapes_cover_every_county_with_valid_areas(state):
    shapes = geo.county_shapes(state)
    assert list(shapes) == sorted(geo.state_counties(state)["county_fips"])
    for fips, shape in shapes.items():
        assert isinstance(shape, MultiPolygon) and shape.is_valid and shape.area > 0, fips


def test_county_shapes_keep_holes():
    """Fairfax County, Virginia surrounds Fairfax city: the city is a hole in the county, not painted over."""
    shapes = geo.county_shapes("VIRGINIA")
    county, city = shapes["51059"], shapes["51600"]
    assert sum(len(p.interiors) for p in county.geoms) >= 1
    assert county.intersection(city).area < 1e-9
    assert county.envelope.contains(city.representative_point())


def test_county_shapes_shift_alaska_across_the_antimeridian():
    shapes = geo.county_shapes("ALASKA")
    x0, _, x1, _ = shapely.total_bounds(list(shapes.values()))
    assert x1 < -129 and x1 - x0 < 70


def _square(x, y, size):
    return [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]


@pytest.mark.parametrize(
    "geometry,arcs,area,holes,parts",
    [
        ({"type": "Polygon", "arcs": [[0]]}, [_square(0, 0, 10)], 100, 0, 1),
        ({"type": "Polygon", "arcs": [[0], [1]]}, [_square(0, 0, 10), _square(2, 2, 2)[::-1]], 96, 1, 1),
        ({"type": "MultiPolygon", "arcs": [[[0]], [[1]]]}, [_square(0, 0, 10), _square(20, 0, 1)], 101, 0, 2),
        # a hole collapsed to two points by quantization is dropped
        ({"type": "Polygon", "arcs": [[0], [1]]}, [_square(0, 0, 10), [(2, 2), (2, 2)]], 100, 0, 1),
        # a bow-tie outline is repaired into its two triangles
        ({"type": "Polygon", "arcs": [[0]]}, [[(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)]], 2, 0, 2),
    ],
)
def test_polygons_from_topology(geometry, arcs, area, holes, parts):
    shape = geo.polygons_from_topology(geometry, arcs)
    assert shape.is_valid and shape.area == pytest.approx(area)
    assert sum(len(p.interiors) for p in shape.geoms) == holes and len(shape.geoms) == parts


def test_a_county_collapsed_to_a_line_is_widened():
    shape = geo.polygons_from_topology({"type": "Polygon", "arcs": [[0]]}, [[(0, 0), (1, 1), (0, 0)]])
    assert shape.is_valid and 0 < shape.area < 0.01
    assert shape.contains(Point(0.5, 0.5))
    # Falls Church city, Virginia is such a line in the 10m file; it is still drawn
    assert geo.county_shapes("VIRGINIA")["51610"].area > 0


@pytest.mark.parametrize(
    "geometry,arcs,match",
    [
        ({"type": "LineString", "arcs": [0], "id": "27001"}, [_square(0, 0, 1)], "'27001' has type 'LineString'"),
        ({"type": "Polygon", "arcs": [], "id": "27001"}, [], "'27001' has no coordinates"),
    ],
)
def test_polygons_from_topology_bad_geometry(geometry, arcs, match):
    with pytest.raises(ValueError, match=match):
        geo.polygons_from_topology(geometry, arcs)


def test_largest_polygon_and_map_aspect():
    shape = MultiPolygon([Polygon(_square(0, 0, 1)), Polygon(_square(5, 5, 3))])
    assert geo.largest_polygon(shape).area == 9
    assert geo.map_aspect((-97, 44, -89, 46)) == pytest.approx(2**0.5)
    assert geo.map_aspect((0, -1, 1, 1)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="not a map of a U.S. state"):
        geo.map_aspect((0, 85, 1, 89))


def test_corrections_have_reasons():
    for path in (geo.STATE_CORRECTIONS, geo.COUNTY_CORRECTIONS):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert "reason" in table.columns and table["reason"].str.len().gt(10).all(), path


def test_shared_arc_neighbours_on_a_small_topology():
    # three squares in a row (A | B | C) and D touching C at one corner only (no shared arc)
    topology = {
        "type": "Topology",
        "arcs": [[[0, 0]]] * 8,
        "objects": {
            "areas": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "id": "A", "arcs": [[0, 1]]},
                    {"type": "Polygon", "id": "B", "arcs": [[~1, 2, 3]]},
                    {"type": "MultiPolygon", "id": "C", "arcs": [[[~3, 4]], [[5]]]},
                    {"type": "Polygon", "id": "D", "arcs": [[6, 7]]},
                    {"type": None, "id": "E"},
                ],
            }
        },
    }
    assert geo.shared_arc_neighbours(topology, "areas", "A") == ["B"]
    assert geo.shared_arc_neighbours(topology, "areas", "B") == ["A", "C"]
    assert geo.shared_arc_neighbours(topology, "areas", "D") == []
    with pytest.raises(KeyError, match="'Z'"):
        geo.shared_arc_neighbours(topology, "areas", "Z")


def test_neighbouring_states_from_census_boundaries():
    assert geo.neighbouring_states("Minnesota") == ["IOWA", "NORTH DAKOTA", "SOUTH DAKOTA", "WISCONSIN"]
    # Four Corners: Arizona and Colorado meet at a point only; islands have no neighbours
    assert geo.neighbouring_states("ARIZONA") == ["CALIFORNIA", "NEVADA", "NEW MEXICO", "UTAH"]
    assert geo.neighbouring_states("HAWAII") == []
    with pytest.raises(geo.UnknownStateError):
        geo.neighbouring_states("MINNESOTTA")


# ---------------------------------------------------------------- cached counties and shapes (helpers.table_cache)


@pytest.fixture()
def own_table_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(table_cache.ENV, str(tmp_path / "tables"))
    return tmp_path / "tables"


def _wkb(shapes):
    return {f: shapely.to_wkb(g) for f, g in shapes.items()}


@pytest.mark.parametrize("state", ["MINNESOTA", "ALASKA", "VIRGINIA", "AMERICAN SAMOA"])
def test_cached_county_shapes_are_the_shapes_made(state, own_table_cache, monkeypatch):
    """Made (cache off), cold (written) and warm (read back): the same counties, types and coordinates."""
    monkeypatch.setenv(table_cache.ENV, "off")
    made = geo.county_shapes(state)
    monkeypatch.setenv(table_cache.ENV, str(own_table_cache))
    cold = geo.county_shapes(state)
    monkeypatch.setattr(geo, "_shapes_table", lambda *a: pytest.fail("a warm call must not build the shapes"))
    warm = geo.county_shapes(state)
    for shapes in (cold, warm):
        assert list(shapes) == list(made) and _wkb(shapes) == _wkb(made)
        assert all(type(shapes[f]) is type(made[f]) for f in made)


def test_county_shapes_cache_is_keyed_and_a_damaged_file_is_made_again(own_table_cache, monkeypatch):
    fips = geo.state_info("MINNESOTA")["fips"]
    first = _wkb(geo.county_shapes("MINNESOTA"))
    files = list((own_table_cache / "county-shapes" / fips).iterdir())
    assert [p.name for p in files] == [f"{geo._shapes_key(fips)}{table_cache.SUFFIX}"]
    files[0].write_bytes(files[0].read_bytes()[:50])  # half-written by a killed process
    builds = []
    real = geo._shapes_table
    monkeypatch.setattr(geo, "_shapes_table", lambda *a: builds.append(a) or real(*a))
    assert _wkb(geo.county_shapes("MINNESOTA")) == first and len(builds) == 1
    # Other atlas bytes, another state or another module source: another key.
    registry = data.load_registry()
    other = {
        **registry,
        geo.ATLAS_COUNTIES: data.Entry(**{**registry[geo.ATLAS_COUNTIES].__dict__, "sha256": "0" * 64}),
    }
    key = geo._shapes_key(fips)
    assert geo._shapes_key(geo.state_info("IOWA")["fips"]) != key
    monkeypatch.setattr(data, "load_registry", lambda *a, **k: dict(other))
    assert geo._shapes_key(fips) != key


def test_cached_counties_are_the_counties_made_and_keyed_by_the_gazetteer(own_table_cache, monkeypatch):
    geo.counties.cache_clear()
    try:
        made = geo._read_counties(data.fetch(geo.GAZETTEER))
        cold = geo.counties()
        geo.counties.cache_clear()
        monkeypatch.setattr(geo, "_read_counties", lambda *a: pytest.fail("a warm call must not read the file"))
        warm = geo.counties()
        pd.testing.assert_frame_equal(cold, made)
        pd.testing.assert_frame_equal(warm, made)
        registry = data.load_registry()
        entry = registry[geo.GAZETTEER]
        key = geo._counties_key()
        other = {**registry, geo.GAZETTEER: data.Entry(**{**entry.__dict__, "sha256": "0" * 64})}
        monkeypatch.setattr(data, "load_registry", lambda *a, **k: dict(other))
        assert geo._counties_key() != key
    finally:
        geo.counties.cache_clear()


@pytest.mark.parametrize("source", [geo.GAZETTEER, geo.ATLAS_COUNTIES])
def test_cached_tables_never_skip_the_raw_files_hash_check(source, own_table_cache, monkeypatch):
    """The cache holds what was made from verified bytes; the raw file is still checked on every call, so a
    tampered copy stops the run even when a table made from the good bytes is cached."""
    geo.counties.cache_clear()
    geo.county_shapes("MINNESOTA")
    geo.counties()
    real = data.fetch

    def refuse(name, **kwargs):
        if name == source:
            raise data.HashMismatchError(f"sha256 mismatch for raw file '{name}'")
        return real(name, **kwargs)

    monkeypatch.setattr(data, "fetch", refuse)
    geo.counties.cache_clear()
    try:
        with pytest.raises(data.HashMismatchError, match="sha256 mismatch"):
            geo.county_shapes("MINNESOTA") if source == geo.ATLAS_COUNTIES else geo.counties()
    finally:
        geo.counties.cache_clear()
