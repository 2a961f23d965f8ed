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
        if row["kind"] in ("not-from-data", "context"):
            assert row["reason"].strip(), row["claim_id"]
        if row["kind"] != "not-from-data":
            assert row["notebook"].strip(), row["claim_id"]
            json.loads(row["params"])


def test_the_registry_uses_the_new_kinds(registry):
    kinds = registry.set_index("claim_id")["kind"]
    assert kinds["article_counts_window"] == "package-check"
    for cid in (
        "mn_limited_success",
        "sheriffs_enforcement_authority",
        "klang_not_apprehending",
        "klang_transfer_custody",
    ):
        assert kinds[cid] == "context", cid
    assert kinds["conservative_immigrant_states"] == "comparison"


def test_claims_quote_the_article(registry):
    article = paths.ROOT.parent / "shared" / "article" / "startribune-2025-11-01.txt"
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
            {
                "claim_id": "a",
                "sentence": "",
                "article_value": "x",
                "kind": "count",
                "notebook": "",
                "params": "{",
                "reason": "",
            },
            {
                "claim_id": "a",
                "sentence": "",
                "article_value": "1",
                "kind": "guess",
                "notebook": "n",
                "params": "{}",
                "reason": "",
            },
            {
                "claim_id": "b",
                "sentence": "",
                "article_value": "",
                "kind": "not-from-data",
                "notebook": "",
                "params": "",
                "reason": "",
            },
            {
                "claim_id": "c",
                "sentence": "",
                "article_value": "",
                "kind": "context",
                "notebook": "n",
                "params": "{}",
                "reason": "",
            },
            {
                "claim_id": "d",
                "sentence": "",
                "article_value": "",
                "kind": "package-check",
                "notebook": "",
                "params": "{}",
                "reason": "",
            },
        ]
    )
    problems = " | ".join(claims.validate_claims(bad))
    assert "duplicate claim ids ['a']" in problems
    assert "kind 'guess'" in problems
    assert "a: needs the notebook" in problems and "d: needs the notebook" in problems
    assert "params is not JSON" in problems
    assert "non-integer" in problems
    assert "b: not-from-data claims need a reason" in problems
    assert "c: context claims need a reason" in problems


def test_the_claims_registry_is_read_once_and_again_when_it_changes(tmp_path, monkeypatch):
    path = tmp_path / "claims.csv"
    path.write_bytes(paths.CLAIMS.read_bytes())
    first = claims.load_claims(path)
    reads: list[object] = []
    original = claims._read_claims
    monkeypatch.setattr(claims, "_read_claims", lambda p: reads.append(p) or original(p))
    second = claims.load_claims(path)
    assert second.equals(first) and second is not first and reads == [], "read once, a new table each time"
    second.loc[0, "kind"] = "guess"
    second["params"] = "{}"  # a column replaced in place
    assert claims.load_claims(path).equals(first), "a caller's change does not reach the next caller"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    with paths.atomic_write(path) as tmp:  # an edit, saved by replacing the file
        tmp.write_text("".join(lines[:-1]), encoding="utf-8")
    assert len(claims.load_claims(path)) == len(first) - 1 and reads == [path]
    bad = first.copy()
    bad.loc[0, "kind"] = "guess"
    with paths.atomic_write(path) as tmp:  # a changed file is validated again
        bad.to_csv(tmp, index=False, lineterminator="\n")
    with pytest.raises(claims.ClaimsError, match="kind 'guess'"):
        claims.load_claims(path)


def test_record_stores_only_with_the_claims_own_parameters(registry, tmp_path):
    store = tmp_path / "recorded.csv"
    own = {"state": "MINNESOTA", "as_of": "2025-11-01", "sheet": None}
    other = dict(own, state="WISCONSIN")
    r1 = claims.record(
        "mn_counties_signed",
        8,
        params=own,
        claims=registry,
        store=store,
        inputs=["ice-287g/participatingAgencies10312025pm.xlsx"],
        evidence="test",
    )
    assert r1.stored
    r2 = claims.record("mn_counties_signed", 12, params=other, claims=registry, store=store)
    assert not r2.stored and "not recorded" in str(r2)
    table = claims.load_recorded(store)
    assert table.set_index("claim_id").loc["mn_counties_signed", "value"] == "8"
    assert "participatingAgencies10312025pm.xlsx@f3e8fbfa1ad3" in table.iloc[0]["inputs"]


BAD_RECORDS = [
    # (claim id, value, extra keyword arguments, error message fragment)
    ("mn_counties_signd", 8, {}, "unknown claim id"),
    ("mn_counties_signed", 8.5, {}, "whole number"),
    ("mn_counties_named", "Cass", {}, "list of names"),
    ("klang_quote", "x", {}, "not-from-data"),
    ("conservative_immigrant_states", "x", {}, "pass verdict= one of"),
    ("conservative_immigrant_states", "x", {"verdict": True}, "pass verdict= one of"),
    ("conservative_immigrant_states", "x", {"verdict": "supported"}, "pass verdict= one of"),
    ("article_counts_window", "x", {}, "package-check: pass verdict="),
    ("mn_counties_signed", 8, {"verdict": "reproduced"}, "comes from comparing"),
    ("mn_limited_success", "x", {"verdict": "reproduced"}, "verdict is 'context'"),
    ("mn_counties_signed", 8, {"evidence": "x" * (claims.EVIDENCE_MAX + 1)}, "at most"),
    ("mn_counties_signed", 8, {"evidence": "two\nlines"}, "one line"),
]


@pytest.mark.parametrize("claim_id,value,kwargs,match", BAD_RECORDS, ids=[f"{c}-{m}" for c, _, _, m in BAD_RECORDS])
def test_record_rejects_unknown_ids_and_bad_values(registry, tmp_path, claim_id, value, kwargs, match):
    with pytest.raises(claims.ClaimsError, match=match):
        claims.record(claim_id, value, params={}, claims=registry, store=tmp_path / "r.csv", **kwargs)
    assert not (tmp_path / "r.csv").exists()


def test_record_keeps_verdict_and_details(registry, tmp_path):
    store = tmp_path / "r.csv"
    params = claims.claim_params("conservative_immigrant_states", registry)
    r = claims.record(
        "conservative_immigrant_states",
        "partly supported: a; b",
        params=params,
        claims=registry,
        store=store,
        verdict="partly supported",
        evidence="short",
        details="long\n  text",
    )
    assert r.stored and "partly supported" in str(r)
    ctx = claims.record(
        "mn_limited_success",
        "rank 30 of 51",
        params=claims.claim_params("mn_limited_success", registry),
        claims=registry,
        store=store,
        evidence="e",
    )
    assert ctx.stored
    table = claims.load_recorded(store).set_index("claim_id")
    assert table.loc["conservative_immigrant_states", "verdict"] == "partly supported"
    assert table.loc["conservative_immigrant_states", "details"] == "long text"
    assert table.loc["mn_limited_success", "verdict"] == "context"
    report = claims.build_report(registry, claims.load_recorded(store)).set_index("claim_id")
    assert report.loc["conservative_immigrant_states", "verdict"] == "partly supported"
    assert report.loc["mn_limited_success", "verdict"] == "context"
    assert report.loc["mn_limited_success", "details"].startswith(
        registry.set_index("claim_id").loc["mn_limited_success", "reason"]
    )
    assert report.loc["klang_not_apprehending", "verdict"] == "not yet reproduced"


def test_an_old_record_store_is_a_clear_error(tmp_path):
    old = tmp_path / "old.csv"
    old.write_text("claim_id,value,agrees,notebook,params,inputs,evidence\n", encoding="utf-8")
    with pytest.raises(claims.ClaimsError, match="make reproduce"):
        claims.load_recorded(old)


def test_record_matching_records_counts_only(registry, tmp_path):
    # sheriffs_enforcement_authority (a context claim of notebook 02) has parameters this run matches
    params = {"as_of": "2025-11-01", "sheet": None, "states": ["FLORIDA", "TEXAS"]}
    done = claims.record_matching(
        "02_regional_comparison", 536, params=params, claims=registry, store=tmp_path / "r.csv"
    )
    assert [r.claim_id for r in done] == ["fl_tx_agreements"]


@pytest.mark.parametrize(
    "kind,article,reproduced,recorded,expected",
    [
        ("count", "8", "8", "", "reproduced"),
        ("count", "8", "9", "", "differs"),
        ("count", "8", None, "", "not yet reproduced"),
        ("list", "Cass; Crow Wing", "Crow Wing County; Cass County", "", "reproduced"),
        ("list", "Cass; Crow Wing", "Cass County", "", "differs"),
        ("comparison", "x", "partly supported: y", "partly supported", "partly supported"),
        ("comparison", "x", "y", "reproduced", "reproduced"),
        ("comparison", "x", "y", "differs", "differs"),
        ("package-check", "x", "y", "reproduced", "reproduced"),
        ("context", "x", "rank 30", "context", "context"),
        ("context", "x", None, "", "not yet reproduced"),
        ("not-from-data", "x", None, "", "not from data"),
    ],
)
def test_verdicts(kind, article, reproduced, recorded, expected):
    assert claims.verdict(kind, article, reproduced, recorded) == expected
    assert expected in claims.VERDICTS


@pytest.mark.parametrize("recorded", ["", "true", "supported"])
def test_a_judged_claim_without_a_verdict_is_an_error(recorded):
    with pytest.raises(claims.ClaimsError, match="without a verdict"):
        claims.verdict("comparison", "x", "y", recorded)


def _report(rows):
    base = {
        "sentence": "",
        "article_value": "a",
        "reproduced_value": "b",
        "notebook": "",
        "evidence": "",
        "details": "",
        "inputs": "",
    }
    return pd.DataFrame([{**base, **r} for r in rows], columns=claims.REPORT_COLUMNS)


def test_package_checks_are_shown_apart_and_not_counted():
    report = _report(
        [
            {
                "claim_id": "c1",
                "kind": "count",
                "verdict": "reproduced",
                "inputs": "x@1; y@2",
                "evidence": "counted rows",
            },
            {"claim_id": "c2", "kind": "comparison", "verdict": "partly supported"},
            {"claim_id": "c3", "kind": "context", "verdict": "context"},
            {"claim_id": "c4", "kind": "not-from-data", "verdict": "not from data", "evidence": "a quote"},
            {"claim_id": "p1", "kind": "package-check", "verdict": "reproduced"},
        ]
    )
    sentence = claims.summary_sentence(report)
    assert sentence.startswith(
        "Of the article's 4 statements, 2 can be checked against public data (1 reproduced and 1 partly supported)"
    )
    assert "context to 1 more" in sentence and "1 rest on the newspaper" in sentence
    assert sentence.endswith("The package's own check (not counted above): 1 reproduced.")
    table = claims.markdown_table(report)
    main, _, own = table.partition("**The package's own checks**")
    assert "`p1`" in own and "`p1`" not in main and "`c1`" in main
    assert "counted rows; [2 raw files](data/processed/claims_report.csv)" in main
    assert "*a quote*" in main
    assert all(line.count("|") == 7 for line in table.splitlines() if line.startswith("|"))


def test_report_ignores_values_recorded_with_other_parameters(registry):
    recorded = pd.DataFrame(
        [
            {
                "claim_id": "mn_counties_signed",
                "value": "7",
                "verdict": "",
                "notebook": "01_state_counties",
                "params": json.dumps({"as_of": "2025-12-31", "sheet": None, "state": "MINNESOTA"}),
                "inputs": "",
                "evidence": "",
                "details": "",
            },
            {
                "claim_id": "mn_counties_total",
                "value": "87",
                "verdict": "",
                "notebook": "01_state_counties",
                "params": json.dumps({"as_of": "2025-11-01", "sheet": None, "state": "MINNESOTA"}),
                "inputs": "",
                "evidence": "e",
                "details": "",
            },
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
