"""Claims registry, recorder and report."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from helpers import claims, data, paths


@pytest.fixture()
def registry() -> pd.DataFrame:
    return claims.load_claims()


def test_claim_ids_are_unique_and_required_ids_exist(registry):
    assert registry["claim_id"].is_unique
    required = {
        "mn_counties_signed": "8",
        "mn_counties_total": "87",
        "fl_tx_agreements": "536",
        "upper_midwest_agreements": "31",
    }
    for cid, value in required.items():
        assert registry.set_index("claim_id").loc[cid, "article_value"] == value
    for cid in ("mn_counties_named", "mn_detention_deals", "conservative_immigrant_states"):
        assert cid in set(registry["claim_id"])


def test_every_claim_has_a_notebook_or_a_reason(registry):
    for _, row in registry.iterrows():
        if row["kind"] == "not-from-data":
            assert row["reason"].strip(), row["claim_id"]
        else:
            assert row["notebook"].strip(), row["claim_id"]
            json.loads(row["params"])


def test_claims_quote_the_article(registry):
    article = (paths.ROOT.parent / "shared" / "article" / "startribune-2025-11-01.txt")
    if not article.is_file():
        pytest.skip("article text not beside the repository")
    text = article.read_text(encoding="utf-8").replace("’", "'").replace("“", '"').replace("”", '"')
    for _, row in registry.iterrows():
        if row["sentence"].startswith("(Implicit)"):
            continue
        for fragment in re.split(r"\s*\.\.\.\s*|\s*—\s*", row["sentence"]):
            fragment = fragment.strip(' "').rstrip(".,")
            if len(fragment) > 12:
                assert fragment in text, f"{row['claim_id']}: {fragment!r} is not in the article"


def test_validate_catches_bad_tables():
    bad = pd.DataFrame(
        [
            {"claim_id": "a", "sentence": "", "article_value": "x", "kind": "count", "notebook": "", "params": "{", "reason": ""},
            {"claim_id": "a", "sentence": "", "article_value": "1", "kind": "guess", "notebook": "n", "params": "{}", "reason": ""},
            {"claim_id": "b", "sentence": "", "article_value": "", "kind": "not-from-data", "notebook": "", "params": "", "reason": ""},
        ]
    )
    problems = " | ".join(claims.validate_claims(bad))
    assert "duplicate claim ids ['a']" in problems
    assert "kind 'guess'" in problems
    assert "needs the notebook" in problems
    assert "params is not JSON" in problems
    assert "non-integer" in problems
    assert "b: not-from-data claims need a reason" in problems


def test_record_stores_only_with_the_claims_own_parameters(registry, tmp_path):
    store = tmp_path / "recorded.csv"
    own = {"state": "MINNESOTA", "as_of": "2025-11-01", "sheet": None}
    other = dict(own, state="WISCONSIN")
    r1 = claims.record("mn_counties_signed", 8, params=own, claims=registry, store=store,
                       inputs=["ice-287g/participatingAgencies10312025pm.xlsx"], evidence="test")
    assert r1.stored
    r2 = claims.record("mn_counties_signed", 12, params=other, claims=registry, store=store)
    assert not r2.stored and "not recorded" in str(r2)
    table = claims.load_recorded(store)
    assert table.set_index("claim_id").loc["mn_counties_signed", "value"] == "8"
    assert "participatingAgencies10312025pm.xlsx@f3e8fbfa1ad3" in table.iloc[0]["inputs"]


def test_record_rejects_unknown_ids_and_bad_values(registry, tmp_path):
    store = tmp_path / "r.csv"
    with pytest.raises(claims.ClaimsError, match="unknown claim id"):
        claims.record("mn_counties_signd", 8, params={}, claims=registry, store=store)
    with pytest.raises(claims.ClaimsError, match="whole number"):
        claims.record("mn_counties_signed", 8.5, params={}, claims=registry, store=store)
    with pytest.raises(claims.ClaimsError, match="not-from-data"):
        claims.record("klang_quote", "x", params={}, claims=registry, store=store)
    with pytest.raises(claims.ClaimsError, match="agrees"):
        claims.record("conservative_immigrant_states", "supported", params={}, claims=registry, store=store)


@pytest.mark.parametrize(
    "kind,article,reproduced,agrees,expected",
    [
        ("count", "8", "8", "", "reproduced"),
        ("count", "8", "9", "", "differs"),
        ("count", "8", None, "", "not yet reproduced"),
        ("list", "Cass; Crow Wing", "Crow Wing County; Cass County", "", "reproduced"),
        ("list", "Cass; Crow Wing", "Cass County", "", "differs"),
        ("comparison", "x", "partly supported: y", "false", "differs"),
        ("comparison", "x", "supported", "true", "reproduced"),
        ("not-from-data", "x", None, "", "not from data"),
    ],
)
def test_verdicts(kind, article, reproduced, agrees, expected):
    assert claims.verdict(kind, article, reproduced, agrees) == expected


def test_report_ignores_values_recorded_with_other_parameters(registry):
    recorded = pd.DataFrame(
        [
            {"claim_id": "mn_counties_signed", "value": "7", "agrees": "", "notebook": "01_state_counties",
             "params": json.dumps({"as_of": "2025-12-31", "sheet": None, "state": "MINNESOTA"}),
             "inputs": "", "evidence": ""},
            {"claim_id": "mn_counties_total", "value": "87", "agrees": "", "notebook": "01_state_counties",
             "params": json.dumps({"as_of": "2025-11-01", "sheet": None, "state": "MINNESOTA"}),
             "inputs": "", "evidence": "e"},
        ]
    )
    report = claims.build_report(registry, recorded).set_index("claim_id")
    assert report.loc["mn_counties_signed", "verdict"] == "not yet reproduced"
    assert report.loc["mn_counties_total", "verdict"] == "reproduced"
    assert report.loc["klang_quote", "verdict"] == "not from data"
    assert list(report.reset_index().columns) == claims.REPORT_COLUMNS


def test_readme_table_matches_the_report():
    """The README's claims table is the one 99_claims.ipynb renders from claims_report.csv."""
    report_path = paths.processed_dir() / claims.REPORT_FILE
    report = pd.read_csv(report_path, dtype=str, keep_default_na=False)
    readme = paths.README.read_text(encoding="utf-8")
    expected = claims.replace_between_markers(readme, claims.markdown_table(report))
    expected = claims.replace_between_markers(expected, data.sources_markdown(), data.SOURCES_START, data.SOURCES_END)
    assert readme == expected, "README claims table is out of date: run `make reproduce`"
    assert set(report["claim_id"]) == set(claims.load_claims()["claim_id"])


def test_report_is_built_from_the_current_registry_and_records():
    report_path = paths.processed_dir() / claims.REPORT_FILE
    stored = pd.read_csv(report_path, dtype=str, keep_default_na=False)
    rebuilt = claims.build_report(claims.load_claims(), claims.load_recorded()).astype(str)
    pd.testing.assert_frame_equal(stored, rebuilt, check_dtype=False)


def test_replace_between_markers_requires_markers():
    with pytest.raises(claims.ClaimsError):
        claims.replace_between_markers("no markers here", "table")
    text = f"a\n{claims.README_START}\nold\n{claims.README_END}\nb"
    assert claims.replace_between_markers(text, "new") == f"a\n{claims.README_START}\nnew\n{claims.README_END}\nb"
