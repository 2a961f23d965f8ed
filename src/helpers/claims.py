"""Claims registry, the recorder notebooks call, and the claims report.

``data/claims.csv`` holds one row per statistic or checkable statement in the
article (and the package's own checks): a stable ``claim_id``, the quoted
sentence, the value the article states, its ``kind`` (:data:`KINDS`), the
notebook that reproduces it, the parameters that define the claim (JSON) and,
for ``not-from-data`` and ``context`` rows, the reason data cannot decide it.
The article's values live only there and are used only for comparison.

Kinds and the verdicts they can get (:data:`VERDICTS`):

* ``count`` / ``list``: the notebook records a value; the verdict is decided
  here by comparing it with the article's (``reproduced`` or ``differs``).
* ``comparison``: a statement tested by a rule the notebook states; the
  notebook passes the verdict the rule gives (``reproduced``, ``partly
  supported`` or ``differs``).
* ``package-check``: the package's own check, not a sentence of the article
  (e.g. over which sheets the article's numbers hold); judged like a
  comparison, shown apart and left out of the count of the article's claims.
* ``context``: data inform the statement but cannot decide it; the notebook
  records the computed context and the verdict is ``context``.
* ``not-from-data``: the newspaper's own reporting; nothing is recorded.

Notebooks call :func:`record` with the value they computed *and the parameters
they ran with*.  A value is stored only when those parameters equal the
claim's own, so a student's run for Wisconsin or for a newer sheet never
changes the Minnesota claims.  ``evidence`` is one short readable line
(at most :data:`EVIDENCE_MAX` characters); longer explanations go in
``details``; the raw files and their hashes go in ``inputs``.
``notebooks/99_claims.ipynb`` joins the registry with what was recorded
(:func:`build_report`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import paths, tables

KINDS = ("count", "list", "comparison", "context", "package-check", "not-from-data")
#: Kinds that are sentences of the article (a package-check is not).
ARTICLE_KINDS = ("count", "list", "comparison", "context", "not-from-data")
#: Kinds whose verdict the recording notebook passes, by its stated rule.
JUDGED_KINDS = ("comparison", "package-check")
#: Verdicts a notebook may pass for a judged kind.
JUDGED = ("reproduced", "partly supported", "differs")
VERDICTS = ("reproduced", "partly supported", "differs", "context", "not yet reproduced", "not from data")
#: Longest ``evidence`` line (characters): one readable line per claim in the README and the HTML report.
EVIDENCE_MAX = 160
CLAIM_COLUMNS = ["claim_id", "sentence", "article_value", "kind", "notebook", "params", "reason"]
RECORD_COLUMNS = ["claim_id", "value", "verdict", "notebook", "params", "inputs", "evidence", "details"]
REPORT_COLUMNS = [
    "claim_id",
    "sentence",
    "kind",
    "article_value",
    "reproduced_value",
    "verdict",
    "notebook",
    "evidence",
    "details",
    "inputs",
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
    """Read and validate the claims registry.

    A notebook asks for it at every recorded claim: the file is read and
    validated once per process, and again whenever it changes
    (:func:`helpers.paths.read_once`).  Each call returns its own copy.
    """
    return paths.read_once("claims", Path(path or paths.CLAIMS), _read_claims).copy()


def _read_claims(path: Path) -> pd.DataFrame:
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
        if row["kind"] in ("not-from-data", "context") and not row["reason"].strip():
            problems.append(f"{cid}: {row['kind']} claims need a reason (why data cannot decide them)")
        if row["kind"] != "not-from-data":
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
        raise ClaimsError(f"unknown claim id '{claim_id}'; known ids: {', '.join(claims['claim_id'])}")
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


def check_evidence(evidence: str, claim_id: str = "") -> str:
    """``evidence`` if it is one line of at most :data:`EVIDENCE_MAX` characters; raises otherwise."""
    text = str(evidence).strip()
    if "\n" in text or len(text) > EVIDENCE_MAX:
        raise ClaimsError(
            f"{claim_id}: evidence must be one line of at most {EVIDENCE_MAX} characters (got {len(text)}): "
            "put the rule, the other numbers and the explanation in details=, the files in inputs="
        )
    return text


def record(
    claim_id: str,
    value: Any,
    *,
    params: Mapping[str, Any],
    inputs: Iterable[str | Path] = (),
    evidence: str = "",
    details: str = "",
    verdict: str | None = None,
    claims: pd.DataFrame | None = None,
    store: Path | None = None,
) -> Recorded:
    """Record the value a notebook reproduced for ``claim_id``.

    ``params`` are the notebook's parameters; the value is stored only if they
    match the claim's own (:func:`params_match`), otherwise it is reported and
    left out.  ``inputs`` are the raw files used (registry paths or local
    paths); their sha256 from the registry goes into the record.  ``evidence``
    is one short line (:func:`check_evidence`); ``details`` holds the rest.

    ``verdict``: for ``comparison`` and ``package-check`` claims, the verdict the
    notebook's stated rule gives, one of :data:`JUDGED` (required).  For counts and
    lists the verdict comes from comparing with the article's value, so passing
    one is an error; for ``context`` claims it is ``context`` (may be omitted).
    """
    claims = claims if claims is not None else load_claims()
    claim = _claim(claim_id, claims)
    kind = claim["kind"]
    if kind == "not-from-data":
        raise ClaimsError(f"{claim_id} is not-from-data; nothing can be recorded for it")
    if kind in JUDGED_KINDS:
        if verdict not in JUDGED:
            raise ClaimsError(
                f"{claim_id} is a {kind}: pass verdict= one of {JUDGED}, as the notebook's stated rule gives it "
                f"(got {verdict!r})"
            )
    elif kind == "context":
        if verdict not in (None, "context"):
            raise ClaimsError(f"{claim_id} is a context claim: its verdict is 'context', not {verdict!r}")
        verdict = "context"
    elif verdict is not None:
        raise ClaimsError(
            f"{claim_id} is a {kind}: its verdict comes from comparing with the article's value; do not pass verdict="
        )
    text = format_value(value, kind)
    evidence = check_evidence(evidence, claim_id)
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
        "verdict": verdict or "",
        "notebook": claim["notebook"],
        "params": _canonical({k: params[k] for k in wanted}),
        "inputs": "; ".join(_describe_inputs(inputs)),
        "evidence": evidence,
        "details": " ".join(str(details).split()),
    }
    store = store or (paths.processed_dir() / RECORD_FILE)
    with store_lock(store):  # notebooks running at once record into the same table
        table = load_recorded(store)
        table = pd.concat([table[table["claim_id"] != claim_id], pd.DataFrame([row])])
        tables.write_csv(table, store, sort_by="claim_id")
    judged = f"; {verdict}" if kind in JUDGED_KINDS else ""
    return Recorded(claim_id, text, True, f"{claim_id} = {text} (recorded{judged})")


@contextlib.contextmanager
def store_lock(store: Path) -> Iterator[None]:
    """Hold an exclusive lock for the record store ``store`` while the block reads, updates and rewrites it.

    The independent notebooks run at the same time (``make reproduce``, ``make test``) and
    each :func:`record` reads the whole table, replaces one row and writes the table back;
    two such updates at once would lose one of the rows.  The lock is ``flock`` on the
    store's folder itself, so no lock file is left behind and a killed process releases it.
    Where ``fcntl`` is missing (Windows) no lock is taken, and ``helpers.notebooks`` runs the
    notebooks one at a time there (:func:`helpers.notebooks.default_jobs`).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    folder = Path(store).parent
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def record_matching(
    notebook: str,
    value: Any,
    *,
    params: Mapping[str, Any],
    claims: pd.DataFrame | None = None,
    kind: str = "count",
    **kwargs: Any,
) -> list[Recorded]:
    """Record ``value`` for every ``kind`` claim of ``notebook`` whose own parameters match ``params``.

    For notebooks that compute one value per parameter set (e.g. one total per
    group of states): a group equal to a claim's states records that claim;
    any other group records nothing.  Returns what was recorded.
    """
    claims = claims if claims is not None else load_claims()
    mine = claims[(claims["notebook"] == notebook) & (claims["kind"] == kind)]
    return [
        record(cid, value, params=params, claims=claims, **kwargs)
        for cid, p in zip(mine["claim_id"], mine["params"])
        if params_match(json.loads(p or "{}"), params)
    ]


def _describe_inputs(inputs: Iterable[str | Path]) -> list[str]:
    """``path@sha256[:12]`` for each input, using the registry's hash."""
    from helpers import data  # local import: data imports nothing from here

    registry = data.load_registry()
    raw = paths.RAW.resolve()
    out = []
    for item in inputs:
        name = str(item)
        if isinstance(item, Path) or "/" in name:
            try:
                name = Path(item).resolve().relative_to(raw).as_posix()
            except ValueError:
                name = Path(item).name
        try:
            entry = data.resolve(name, registry)
            out.append(f"{entry.path}@{entry.sha256[:12]}")
        except data.UnknownRawFileError:
            out.append(f"{name}@unregistered")
    return sorted(out)


def load_recorded(store: Path | None = None) -> pd.DataFrame:
    """The recorded values (empty table if nothing has been recorded yet).

    A store written before ``verdict`` replaced ``agrees`` raises, naming the fix.
    """
    store = store or (paths.processed_dir() / RECORD_FILE)
    if not Path(store).is_file():
        return pd.DataFrame(columns=RECORD_COLUMNS)
    table = pd.read_csv(store, dtype=str, keep_default_na=False)
    missing = [c for c in RECORD_COLUMNS if c not in table.columns]
    if missing:
        raise ClaimsError(
            f"{paths.relative(Path(store))}: columns {missing} missing (an older format?); "
            "delete it and run `make reproduce` to record every claim again"
        )
    return table[RECORD_COLUMNS]


def _names(text: str) -> set[str]:
    """Normalised set of names from a ``;``-separated list ("Cass County" == "Cass")."""
    return {re.sub(r"\s+county$", "", part.strip().casefold()) for part in text.split(";") if part.strip()}


def verdict(kind: str, article_value: str, reproduced: str | None, recorded: str = "") -> str:
    """Verdict for one claim (one of :data:`VERDICTS`).

    ``recorded`` is the verdict the notebook recorded (judged kinds and context claims).
    """
    if kind == "not-from-data":
        return "not from data"
    if reproduced is None or reproduced == "":
        return "not yet reproduced"
    if kind == "count":
        return "reproduced" if int(reproduced) == int(article_value) else "differs"
    if kind == "list":
        return "reproduced" if _names(reproduced) == _names(article_value) else "differs"
    if kind == "context":
        return "context"
    if recorded not in JUDGED:
        raise ClaimsError(f"{kind} claim recorded without a verdict in {JUDGED}: {reproduced!r} ({recorded!r})")
    return recorded


def build_report(claims: pd.DataFrame, recorded: pd.DataFrame) -> pd.DataFrame:
    """Join the registry with recorded values into the claims report (registry order).

    ``evidence`` is the short line (for not-from-data claims: why data cannot check
    them); ``details`` the longer explanation (for context claims it begins with why
    data cannot decide them); ``inputs`` the raw files with their hash prefixes.
    """
    claims_params = dict(zip(claims["claim_id"], claims["params"]))
    rec: dict[str, pd.Series] = {}
    for _, r in recorded.iterrows():
        cid = r["claim_id"]
        if cid not in claims_params:
            raise ClaimsError(f"recorded value for unknown claim '{cid}'")
        wanted = json.loads(claims_params[cid] or "{}")
        if params_match(wanted, json.loads(r["params"] or "{}")):
            rec[cid] = r  # a stale record made with other parameters is ignored
    rows = []
    for _, c in claims.iterrows():
        found = rec.get(c["claim_id"])
        value = None if found is None else found["value"]
        if c["kind"] == "not-from-data":
            evidence, details, inputs = c["reason"], "", ""
        elif found is None:
            evidence, details, inputs = "", "", ""
        else:
            evidence, inputs = found["evidence"], found["inputs"]
            details = " ".join(x for x in (c["reason"] if c["kind"] == "context" else "", found["details"]) if x)
        rows.append(
            {
                "claim_id": c["claim_id"],
                "sentence": c["sentence"],
                "kind": c["kind"],
                "article_value": c["article_value"],
                "reproduced_value": value or "",
                "verdict": verdict(c["kind"], c["article_value"], value, "" if found is None else found["verdict"]),
                "notebook": c["notebook"],
                "evidence": evidence,
                "details": details,
                "inputs": inputs,
            }
        )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def split_report(report: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the article's claims, the package's own checks) of a claims report."""
    own = report["kind"] == "package-check"
    return report[~own], report[own]


def summary_sentence(report: pd.DataFrame) -> str:
    """How many of the article's statements got which verdict, and the package's checks apart.

    Built from the report: counts of every verdict among the article's statements
    (package checks left out of that count), then the package checks.
    """
    from helpers.text import counted, join

    article, own = split_report(report)
    counts = article["verdict"].value_counts()
    decided = [v for v in ("reproduced", "partly supported", "differs", "not yet reproduced") if counts.get(v, 0)]
    checkable = int(sum(counts.get(v, 0) for v in decided))
    text = f"Of the article's {counted(len(article), 'statement')}, {checkable} can be checked against public data" + (
        f" ({join(f'{counts[v]} {v}' for v in decided)})" if decided else ""
    )
    if counts.get("context", 0):
        text += f"; public data give context to {counts['context']} more"
    if counts.get("not from data", 0):
        text += f"; {counts['not from data']} rest on the newspaper's own reporting"
    text += "."
    if len(own):
        own_counts = own["verdict"].value_counts()
        text += (
            f" The package's own {'check' if len(own) == 1 else 'checks'} (not counted above): "
            + join(f"{n} {v}" for v, n in sorted(own_counts.items(), key=lambda kv: VERDICTS.index(kv[0])))
            + "."
        )
    return text


def short_inputs(inputs: str) -> str:
    """``3 raw files`` for a ``;``-separated inputs cell (empty for none)."""
    n = len([x for x in str(inputs).split(";") if x.strip()])
    return "" if n == 0 else f"{n} raw file{'s' if n != 1 else ''}"


def markdown_table(
    report: pd.DataFrame,
    notebook_link: str = "notebooks/{}.ipynb",
    evidence_link: str = "data/processed/claims_report.csv",
) -> str:
    """The report as Markdown for the README: the article's claims, then the package's own checks apart.

    Each claim shows the article's sentence and its id, the values, the verdict, one
    short line of evidence (inputs and hashes are in ``evidence_link``), and the
    notebook that checks it; a not-from-data claim shows why data cannot check it.
    """

    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ").strip()

    def rows(part: pd.DataFrame) -> list[str]:
        lines = [
            "| claim | article says | reproduced | verdict | evidence | notebook |",
            "|---|---|---|---|---|---|",
        ]
        for _, r in part.iterrows():
            nb = f"[{r['notebook']}]({notebook_link.format(r['notebook'])})" if r["notebook"] else "—"
            sentence = cell(r.get("sentence", ""))
            claim = f"{sentence}<br>`{r['claim_id']}`" if sentence else f"`{r['claim_id']}`"
            evidence = cell(r["evidence"])
            if r["kind"] == "not-from-data":
                evidence = f"*{evidence}*" if evidence else "—"
            else:
                files = short_inputs(r.get("inputs", ""))
                evidence = "; ".join(x for x in (evidence, f"[{files}]({evidence_link})" if files else "") if x) or "—"
            lines.append(
                f"| {claim} | {cell(r['article_value']) or '—'} | {cell(r['reproduced_value']) or '—'} "
                f"| **{r['verdict']}** | {evidence} | {nb} |"
            )
        return lines

    article, own = split_report(report)
    out = rows(article)
    if len(own):
        out += [
            "",
            "**The package's own checks** (not sentences of the article, and not counted among its claims):",
            "",
            *rows(own),
        ]
    return "\n".join(out)


def replace_between_markers(text: str, block: str, start: str = README_START, end: str = README_END) -> str:
    """Put ``block`` between the start and end markers of ``text``."""
    if start not in text or end not in text:
        raise ClaimsError(f"markers {start!r} and {end!r} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{block}\n{end}{tail}"
