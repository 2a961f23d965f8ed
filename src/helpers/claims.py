"""Claims registry, the recorder notebooks call, and the claims report.

``data/claims.csv`` holds one row per statistic or checkable statement in the
article: a stable ``claim_id``, the quoted sentence, the value the article
states, its ``kind`` (``count``, ``list``, ``comparison`` or
``not-from-data``), the notebook that reproduces it, the parameters that
define the claim (JSON) and, for ``not-from-data`` rows, the reason.  The
article's values live only there and are used only for comparison.

Notebooks call :func:`record` with the value they computed *and the parameters
they ran with*.  A value is stored only when those parameters equal the
claim's own, so a student's run for Wisconsin or for a newer sheet never
changes the Minnesota claims.  ``notebooks/99_claims.ipynb`` joins the
registry with what was recorded (:func:`build_report`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from helpers import paths, tables

KINDS = ("count", "list", "comparison", "not-from-data")
VERDICTS = ("reproduced", "differs", "not yet reproduced", "not from data")
CLAIM_COLUMNS = ["claim_id", "sentence", "article_value", "kind", "notebook", "params", "reason"]
RECORD_COLUMNS = ["claim_id", "value", "agrees", "notebook", "params", "inputs", "evidence"]
REPORT_COLUMNS = [
    "claim_id",
    "sentence",
    "kind",
    "article_value",
    "reproduced_value",
    "verdict",
    "notebook",
    "evidence",
]
RECORD_FILE = "claims_recorded.csv"
REPORT_FILE = "claims_report.csv"
README_START = "<!-- claims-table:start (written by notebooks/99_claims.ipynb; do not edit) -->"
README_END = "<!-- claims-table:end -->"


class ClaimsError(ValueError):
    """A malformed claims registry, an unknown claim id or a bad recorded value."""


def _canonical(params: Mapping[str, Any]) -> str:
    """Parameters as JSON with sorted keys (the form they are compared and stored in)."""
    return json.dumps(dict(params), sort_keys=True, ensure_ascii=False)


def load_claims(path: Path | None = None) -> pd.DataFrame:
    """Read and validate the claims registry."""
    path = path or paths.CLAIMS
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CLAIM_COLUMNS if c not in df.columns]
    if missing:
        raise ClaimsError(f"{path}: missing columns {missing}")
    problems = validate_claims(df)
    if problems:
        raise ClaimsError(f"{path}: " + "; ".join(problems))
    return df[CLAIM_COLUMNS]


def validate_claims(df: pd.DataFrame) -> list[str]:
    """Problems with a claims table (empty list when it is valid)."""
    problems: list[str] = []
    dupes = sorted(set(df.loc[df["claim_id"].duplicated(), "claim_id"]))
    if dupes:
        problems.append(f"duplicate claim ids {dupes}")
    for _, row in df.iterrows():
        cid = row["claim_id"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", cid):
            problems.append(f"claim id '{cid}' is not snake_case")
        if row["kind"] not in KINDS:
            problems.append(f"{cid}: kind '{row['kind']}' is not one of {KINDS}")
        if row["kind"] == "not-from-data":
            if not row["reason"].strip():
                problems.append(f"{cid}: not-from-data claims need a reason")
        else:
            if not row["notebook"].strip():
                problems.append(f"{cid}: needs the notebook that reproduces it")
            try:
                json.loads(row["params"])
            except json.JSONDecodeError:
                problems.append(f"{cid}: params is not JSON: {row['params']!r}")
        if row["kind"] == "count" and not re.fullmatch(r"-?\d+", row["article_value"].strip()):
            problems.append(f"{cid}: count claim has a non-integer article value")
    return problems


def _claim(claim_id: str, claims: pd.DataFrame) -> pd.Series:
    match = claims[claims["claim_id"] == claim_id]
    if match.empty:
        raise ClaimsError(
            f"unknown claim id '{claim_id}'; known ids: {', '.join(claims['claim_id'])}"
        )
    return match.iloc[0]


def claim_params(claim_id: str, claims: pd.DataFrame | None = None) -> dict[str, Any]:
    """The parameters that define a claim (what a run must use for its value to count)."""
    claims = claims if claims is not None else load_claims()
    return json.loads(_claim(claim_id, claims)["params"] or "{}")


def params_match(claim: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """True when every parameter the claim defines has the same value in ``given``.

    Lists are compared as sorted lists, so the order of states does not matter.
    """

    def norm(v: Any) -> Any:
        return sorted(norm(x) for x in v) if isinstance(v, (list, tuple)) else v

    return all(k in given and norm(given[k]) == norm(v) for k, v in claim.items())


def format_value(value: Any, kind: str) -> str:
    """A reproduced value as stored: integers for counts, ``; ``-joined names for lists."""
    if kind == "count":
        if isinstance(value, bool) or int(value) != value:
            raise ClaimsError(f"a count must be a whole number, got {value!r}")
        return str(int(value))
    if kind == "list":
        if isinstance(value, str):
            raise ClaimsError("a list claim needs a list of names, not a string")
        return "; ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` did."""

    claim_id: str
    value: str
    stored: bool
    message: str

    def __str__(self) -> str:
        return self.message


def record(
    claim_id: str,
    value: Any,
    *,
    params: Mapping[str, Any],
    inputs: Iterable[str | Path] = (),
    evidence: str = "",
    agrees: bool | None = None,
    claims: pd.DataFrame | None = None,
    store: Path | None = None,
) -> Recorded:
    """Record the value a notebook reproduced for ``claim_id``.

    ``params`` are the notebook's parameters; the value is stored only if they
    match the claim's own (:func:`params_match`), otherwise it is reported and
    left out.  ``inputs`` are the raw files used (registry paths or local
    paths); their sha256 from the registry goes into the record.  For
    ``comparison`` claims the notebook passes ``agrees``: whether the data
    supports the article's statement, decided by the notebook's stated rule.
    """
    claims = claims if claims is not None else load_claims()
    claim = _claim(claim_id, claims)
    kind = claim["kind"]
    if kind == "not-from-data":
        raise ClaimsError(f"{claim_id} is not-from-data; nothing can be recorded for it")
    if kind == "comparison" and agrees is None:
        raise ClaimsError(f"{claim_id} is a comparison: pass agrees=True/False")
    text = format_value(value, kind)
    wanted = json.loads(claim["params"] or "{}")
    if not params_match(wanted, params):
        return Recorded(
            claim_id,
            text,
            False,
            f"{claim_id} = {text} (not recorded: this run's parameters differ from the "
            f"claim's own {_canonical(wanted)})",
        )
    row = {
        "claim_id": claim_id,
        "value": text,
        "agrees": "" if agrees is None else str(bool(agrees)).lower(),
        "notebook": claim["notebook"],
        "params": _canonical({k: params[k] for k in wanted}),
        "inputs": "; ".join(_describe_inputs(inputs)),
        "evidence": evidence,
    }
    store = store or (paths.processed_dir() / RECORD_FILE)
    table = load_recorded(store)
    table = pd.concat([table[table["claim_id"] != claim_id], pd.DataFrame([row])])
    tables.write_csv(table, store, sort_by="claim_id")
    return Recorded(claim_id, text, True, f"{claim_id} = {text} (recorded)")


def record_matching(
    notebook: str,
    value: Any,
    *,
    params: Mapping[str, Any],
    claims: pd.DataFrame | None = None,
    **kwargs: Any,
) -> list[Recorded]:
    """Record ``value`` for every claim of ``notebook`` whose own parameters match ``params``.

    For notebooks that compute one value per parameter set (e.g. one total per
    group of states): a group equal to a claim's states records that claim;
    any other group records nothing.  Returns what was recorded.
    """
    claims = claims if claims is not None else load_claims()
    mine = claims[(claims["notebook"] == notebook) & (claims["kind"] != "not-from-data")]
    return [
        record(cid, value, params=params, claims=claims, **kwargs)
        for cid, p in zip(mine["claim_id"], mine["params"])
        if params_match(json.loads(p or "{}"), params)
    ]


def _describe_inputs(inputs: Iterable[str | Path]) -> list[str]:
    """``path@sha256[:12]`` for each input, using the registry's hash."""
    from helpers import data  # local import: data imports nothing from here

    registry = data.load_registry()
    out = []
    for item in inputs:
        name = str(item)
        if isinstance(item, Path) or "/" in name:
            try:
                name = Path(item).resolve().relative_to(paths.RAW.resolve()).as_posix()
            except ValueError:
                name = Path(item).name
        try:
            entry = data.resolve(name, registry)
            out.append(f"{entry.path}@{entry.sha256[:12]}")
        except data.UnknownRawFileError:
            out.append(f"{name}@unregistered")
    return sorted(out)


def load_recorded(store: Path | None = None) -> pd.DataFrame:
    """The recorded values (empty table if nothing has been recorded yet)."""
    store = store or (paths.processed_dir() / RECORD_FILE)
    if not Path(store).is_file():
        return pd.DataFrame(columns=RECORD_COLUMNS)
    return pd.read_csv(store, dtype=str, keep_default_na=False)[RECORD_COLUMNS]


def _names(text: str) -> set[str]:
    """Normalised set of names from a ``;``-separated list ("Cass County" == "Cass")."""
    return {
        re.sub(r"\s+county$", "", part.strip().casefold())
        for part in text.split(";")
        if part.strip()
    }


def verdict(kind: str, article_value: str, reproduced: str | None, agrees: str = "") -> str:
    """Verdict for one claim: reproduced, differs, not yet reproduced or not from data."""
    if kind == "not-from-data":
        return "not from data"
    if reproduced is None or reproduced == "":
        return "not yet reproduced"
    if kind == "count":
        return "reproduced" if int(reproduced) == int(article_value) else "differs"
    if kind == "list":
        return "reproduced" if _names(reproduced) == _names(article_value) else "differs"
    if agrees not in ("true", "false"):
        raise ClaimsError(f"comparison claim recorded without agrees=true/false: {reproduced!r}")
    return "reproduced" if agrees == "true" else "differs"


def build_report(claims: pd.DataFrame, recorded: pd.DataFrame) -> pd.DataFrame:
    """Join the registry with recorded values into the claims report (registry order)."""
    claims_params = dict(zip(claims["claim_id"], claims["params"]))
    rec = {}
    for _, r in recorded.iterrows():
        cid = r["claim_id"]
        if cid not in claims_params:
            raise ClaimsError(f"recorded value for unknown claim '{cid}'")
        wanted = json.loads(claims_params[cid] or "{}")
        if params_match(wanted, json.loads(r["params"] or "{}")):
            rec[cid] = r  # a stale record made with other parameters is ignored
    rows = []
    for _, c in claims.iterrows():
        r = rec.get(c["claim_id"])
        value = None if r is None else r["value"]
        agrees = "" if r is None else r["agrees"]
        if c["kind"] == "not-from-data":
            evidence = c["reason"]
        elif r is None:
            evidence = ""
        else:
            evidence = "; ".join(x for x in (r["evidence"], r["inputs"]) if x)
        rows.append(
            {
                "claim_id": c["claim_id"],
                "sentence": c["sentence"],
                "kind": c["kind"],
                "article_value": c["article_value"],
                "reproduced_value": value or "",
                "verdict": verdict(c["kind"], c["article_value"], value, agrees),
                "notebook": c["notebook"],
                "evidence": evidence,
            }
        )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def markdown_table(report: pd.DataFrame, notebook_link: str = "notebooks/{}.ipynb") -> str:
    """The report as a Markdown table for the README.

    Each claim shows the article's sentence and its id; notebooks are linked;
    a not-from-data claim shows why data cannot check it.
    """

    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ").strip()

    lines = [
        "| claim | article says | reproduced | verdict | notebook |",
        "|---|---|---|---|---|",
    ]
    for _, r in report.iterrows():
        nb = f"[{r['notebook']}]({notebook_link.format(r['notebook'])})" if r["notebook"] else "—"
        sentence = cell(r.get("sentence", ""))
        claim = f"{sentence}<br>`{r['claim_id']}`" if sentence else f"`{r['claim_id']}`"
        reason = cell(r["evidence"]) if r["kind"] == "not-from-data" else ""
        reproduced = f"— *{reason}*" if reason else cell(r["reproduced_value"]) or "—"
        lines.append(
            f"| {claim} | {cell(r['article_value']) or '—'} | {reproduced} | **{r['verdict']}** | {nb} |"
        )
    return "\n".join(lines)


def replace_between_markers(text: str, block: str, start: str = README_START, end: str = README_END) -> str:
    """Put ``block`` between the start and end markers of ``text``."""
    if start not in text or end not in text:
        raise ClaimsError(f"markers {start!r} and {end!r} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{block}\n{end}{tail}"
