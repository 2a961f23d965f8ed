"""States, counties and county matching."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers import data, geo


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


@pytest.mark.parametrize("printed,expected", [("Minnesota ", "MINNESOTA"), ("UTAh", "UTAH"), ("WEST VIRIGINIA", "WEST VIRGINIA"), ("GUAM", "GUAM")])
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
        ("NORTH CAROLINA", "Albemarle County", "", None, "unmatched"),
        ("MINNESOTA", None, "Minnesota Department of Corrections", None, "no county printed"),
    ],
)
def test_match_county_rules(state, printed, agency, fips, rule):
    assert geo.match_county(state, printed, agency) == (fips, rule)


def test_virginia_city_and_county_of_the_same_name_are_kept_apart():
    assert geo.match_county("VIRGINIA", "Fairfax County")[0] == "51059"
    assert geo.match_county("VIRGINIA", "Fairfax city")[0] == "51600"
    # a bare name means the county: independent cities keep "city" in their Census name
    assert geo.match_county("VIRGINIA", "Fairfax") == ("51059", "base")


def test_county_shapes_cover_every_minnesota_county():
    shapes = geo.county_shapes("MINNESOTA")
    assert set(shapes) == set(geo.state_counties("MINNESOTA")["county_fips"])
    for rings in shapes.values():
        for ring in rings:
            assert ring[0] == pytest.approx(ring[-1], abs=1e-9)  # closed rings


def test_corrections_have_reasons():
    for path in (geo.STATE_CORRECTIONS, geo.COUNTY_CORRECTIONS):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert "reason" in table.columns and table["reason"].str.len().gt(10).all(), path


def test_shared_arc_neighbours_on_a_small_topology():
    # three squares in a row (A | B | C) and D touching C at one corner only (no shared arc)
    topology = {"type": "Topology", "arcs": [[[0, 0]]] * 8, "objects": {"areas": {"type": "GeometryCollection", "geometries": [
        {"type": "Polygon", "id": "A", "arcs": [[0, 1]]},
        {"type": "Polygon", "id": "B", "arcs": [[~1, 2, 3]]},
        {"type": "MultiPolygon", "id": "C", "arcs": [[[~3, 4]], [[5]]]},
        {"type": "Polygon", "id": "D", "arcs": [[6, 7]]},
        {"type": None, "id": "E"},
    ]}}}
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
