"""Static HTML report of the executed notebooks (``python -m helpers.report``, ``make report``).

:func:`build_report` writes, into ``build/report/`` by default (git-ignored: a
build product, never committed):

* ``index.html`` -- the page to read first: what the project checks, the
  summary of verdicts, the claims table from ``data/processed/claims_report.csv``
  (claim, article value, reproduced value, verdict, link to the notebook that
  checks it, one short line of evidence with the rule's explanation and the raw
  files and their hashes folded under it), the package's own checks in a
  table apart, then a list linking every notebook page;
* ``NN_name.html`` -- one page per ``notebooks/NN_*.ipynb`` in run order,
  rendered from the *committed outputs* (nothing is executed, so a build takes
  seconds).

Every page is stamped with the commit it was built from (:func:`build_commit`).
The index is laid out to keep a claim's row within one laptop screen and to
turn rows into stacked cards at phone width (no horizontal overflow).

Notebook pages use the nbconvert template shipped in
``helpers/report_template/``: it extends nbconvert's ``lab`` template, folds
every code input into ``<details><summary>Show code</summary>...</details>``
(closed by default, outputs stay visible), adds a header link back to
``index.html`` with the commit stamp, puts each figure's alt text (stored in
the PNG by :func:`helpers.plotting.save_figure`, carried in the output's
metadata by :func:`helpers.plotting.show`) on its ``<img>``, and drops the
stock template's CDN scripts (require.js, MathJax, Mermaid), so the pages are
self-contained and work offline.  Figures are the notebooks' embedded PNG
outputs, written as ``data:image/png;base64`` URIs; images referenced from
Markdown are embedded too (``embed_images``).

The output is deterministic for a given commit: no timestamps, no machine
paths (the repository root is replaced by ``.`` should an output contain
it), stable ordering.
"""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import paths
from helpers.notebooks import ordered_notebooks

#: The nbconvert template directory shipped with the package.
TEMPLATE_DIR: Path = Path(__file__).resolve().parent / "report_template"
DEFAULT_OUT: Path = paths.ROOT / "build" / "report"
INDEX = "index.html"

TITLE = "Minnesota and 287(g): the Star Tribune's claims, reproduced from raw data"
INTRO = (
    "The Star Tribune reported on 2025-11-01 that few Minnesota law enforcement agencies "
    "had signed 287(g) agreements with U.S. Immigration and Customs Enforcement. "
    "Each row below is one statement from that article: the value the article gives, "
    "the value the notebooks of this project reproduce from public raw data, and the verdict. "
    "Statements that data can inform but not decide show the computed context instead (verdict \u201ccontext\u201d); "
    "statements that rest on the newspaper's own reporting cannot be checked against data and say why. "
    "Each row's evidence is one line; its rule and raw files (with their sha256 prefixes) open beneath it. "
    "Follow a notebook link to see how a value was computed; code is folded under \u201cShow code\u201d."
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em auto;
       max-width: 86em; padding: 0 1em; line-height: 1.4; color: #222; }
h1 { font-size: 1.5em; }
p.stamp { color: #57606a; font-size: 0.85em; }
table.claims { border-collapse: collapse; width: 100%; font-size: 0.9em; table-layout: fixed; }
table.claims th, table.claims td { border: 1px solid #ccc; padding: 0.35em 0.5em; vertical-align: top;
                                   text-align: left; overflow-wrap: anywhere; }
table.claims th { background: #f3f3f3; }
table.claims col.c-claim { width: 27%; } table.claims col.c-article { width: 13%; }
table.claims col.c-reproduced { width: 22%; } table.claims col.c-verdict { width: 9%; }
table.claims col.c-notebook { width: 9%; } table.claims col.c-evidence { width: 20%; }
table.claims td.claim code { font-size: 0.9em; }
table.claims td.claim .sentence { color: #444; margin-bottom: 0.2em; }
table.claims td.evidence { font-size: 0.88em; color: #444; }
table.claims details { margin-top: 0.3em; }
table.claims details summary { cursor: pointer; color: #0550ae; }
table.claims details ul { padding-left: 1.1em; margin: 0.3em 0; }
table.claims details code { font-size: 0.85em; }
td.verdict { font-weight: bold; }
tr.v-reproduced td.verdict { color: #1a7f37; }
tr.v-partly-supported td.verdict { color: #9a6700; }
tr.v-differs td.verdict { color: #b42318; }
tr.v-context td.verdict { color: #0550ae; }
tr.v-not-yet-reproduced td.verdict { color: #9a6700; }
tr.v-not-from-data td.verdict { color: #57606a; font-weight: normal; }
@media (max-width: 48em) {
  table.claims, table.claims tbody, table.claims tr, table.claims td { display: block; width: auto; }
  table.claims thead, table.claims colgroup { display: none; }
  table.claims tr { border: 1px solid #ccc; margin: 0 0 0.8em 0; }
  table.claims td { border: none; border-bottom: 1px solid #eee; }
  table.claims td::before { content: attr(data-label); display: block; font-size: 0.8em; color: #57606a;
                            text-transform: uppercase; letter-spacing: 0.03em; }
}
""".strip()

#: Column labels of the claims tables (also the ``data-label`` of each cell at phone width).
COLUMNS = (
    ("claim", "claim"),
    ("article", "article value"),
    ("reproduced", "reproduced value"),
    ("verdict", "verdict"),
    ("notebook", "notebook"),
    ("evidence", "evidence"),
)


def build_commit(root: Path | None = None) -> str:
    """The commit the report is built from: ``abcdef123456``, with `` + uncommitted changes`` when the
    tracked files differ from it; ``no git commit`` outside a git checkout.

    Untracked and git-ignored files (``build/``, ``data/raw/``) do not count.
    """
    root = root or paths.ROOT
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no git commit"
    return f"{head} + uncommitted changes" if changed else head


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).casefold()).strip("-")


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _notebook_title(nb: object, fallback: str) -> str:
    """First Markdown heading of a notebook (``# ...``), else ``fallback``."""
    for cell in getattr(nb, "cells", []):
        if cell.get("cell_type") == "markdown":
            for line in str(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def load_claims_report(path: Path | None = None) -> pd.DataFrame:
    """The claims report written by ``notebooks/99_claims.ipynb`` (all columns as strings)."""
    from helpers import claims

    path = Path(path) if path else paths.processed_dir() / claims.REPORT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{paths.relative(path)} not found: run `make reproduce` first (notebooks/99_claims.ipynb writes it)"
        )
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _evidence_cell(r: pd.Series) -> str:
    """One short line of evidence; the explanation and the raw files with their hashes folded under it."""
    from helpers import claims

    line = _esc(r.get("evidence", "")) or "&mdash;"
    if r.get("kind") == "not-from-data":
        return f"<em>{line}</em>"
    inputs = [x.strip() for x in str(r.get("inputs", "")).split(";") if x.strip()]
    details = str(r.get("details", "")).strip()
    if not inputs and not details:
        return line
    label = " and ".join(x for x in ("how" if details else "", claims.short_inputs(r.get("inputs", ""))) if x)
    items = "".join(f"<li><code>{_esc(x)}</code></li>" for x in inputs)
    body = (f"<p>{_esc(details)}</p>" if details else "") + (f"<ul>{items}</ul>" if items else "")
    return f"{line}<details><summary>{_esc(label)}</summary>{body}</details>"


def _claims_table(part: pd.DataFrame, stems: set[str], table_id: str) -> str:
    rows = []
    for _, r in part.iterrows():
        stem = r.get("notebook", "")
        if stem and stem in stems:
            nb_cell = f'<a href="{_esc(stem)}.html">{_esc(stem)}</a>'
        else:
            nb_cell = _esc(stem) or "&mdash;"
        sentence = r.get("sentence", "")
        sentence_html = f'<div class="sentence">{_esc(sentence)}</div>' if sentence else ""
        cells = {
            "claim": f"{sentence_html}<code>{_esc(r['claim_id'])}</code>",
            "article": _esc(r["article_value"]) or "&mdash;",
            "reproduced": _esc(r["reproduced_value"]) or "&mdash;",
            "verdict": _esc(r["verdict"]),
            "notebook": nb_cell,
            "evidence": _evidence_cell(r),
        }
        tds = "".join(f'<td class="{key}" data-label="{_esc(label)}">{cells[key]}</td>' for key, label in COLUMNS)
        rows.append(f'<tr id="claim-{_esc(r["claim_id"])}" class="v-{_slug(r["verdict"])}">{tds}</tr>')
    cols = "".join(f'<col class="c-{key}">' for key, _ in COLUMNS)
    head = "".join(f"<th>{_esc(label)}</th>" for _, label in COLUMNS)
    body = "\n".join(rows)
    return (
        f'<table class="claims" id="{table_id}">\n<colgroup>{cols}</colgroup>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table>"
    )


def render_index(report: pd.DataFrame, pages: Sequence[tuple[str, str]], commit: str = "") -> str:
    """HTML of the claims page; ``pages`` are (stem, title) of the notebook pages, in order.

    The article's claims and the package's own checks are two tables; ``commit`` stamps the page.
    """
    from helpers import claims

    stems = {stem for stem, _ in pages}
    article, own = claims.split_report(report)
    summary = claims.summary_sentence(report)
    own_html = ""
    if len(own):
        own_html = (
            '<h2 id="package-checks">The package\'s own checks</h2>\n'
            "<p>Checks this package makes of itself; they are not sentences of the article and are not counted "
            "among its claims.</p>\n" + _claims_table(own, stems, "package-checks-table")
        )
    links = "\n".join(
        f'<li><a href="{_esc(stem)}.html">{_esc(stem)}</a> &mdash; {_esc(title)}</li>' for stem, title in pages
    )
    stamp = f"Built from commit {_esc(commit)}." if commit else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{_esc(TITLE)}</title>
<style>
{_CSS}
</style>
</head>
<body>
<main>
<h1>{_esc(TITLE)}</h1>
<p>{_esc(INTRO)}</p>
<p class="stamp" id="build-commit">{stamp} Full evidence (files, hashes, rules): <code>data/processed/claims_report.csv</code>.</p>
<h2 id="claims">Claims</h2>
<p class="summary">{_esc(summary)}</p>
{_claims_table(article, stems, "claims-table")}
{own_html}
<h2 id="notebooks">Notebooks</h2>
<ul class="notebook-list" id="notebook-list">
{links}
</ul>
</main>
</body>
</html>
"""


def _import_nbconvert() -> tuple[Any, Any]:
    """Import nbconvert and nbformat without jsonschema's slow "iri" checker (:func:`helpers.notebooks.quick_jsonschema`)."""
    from helpers.notebooks import quick_jsonschema

    with quick_jsonschema():
        import nbconvert
        import nbformat
    return nbconvert, nbformat


def _exporter() -> Any:  # nbconvert's HTMLExporter (nbconvert has no type information)
    nbconvert, _ = _import_nbconvert()
    HTMLExporter = nbconvert.HTMLExporter

    exporter = HTMLExporter(
        template_name=TEMPLATE_DIR.name,
        extra_template_basedirs=[str(TEMPLATE_DIR.parent)],
    )
    exporter.embed_images = True
    exporter.exclude_anchor_links = False
    return exporter


def render_notebook(notebook: Path, exporter: Any = None, commit: str = "") -> tuple[str, str]:
    """(HTML, title) of one executed notebook, from its stored outputs (nothing is run); ``commit`` stamps it."""
    _, nbformat = _import_nbconvert()

    notebook = Path(notebook)
    exporter = exporter or _exporter()
    nb = nbformat.read(notebook, as_version=4)
    title = _notebook_title(nb, notebook.stem)
    resources = {
        "metadata": {"name": title, "path": str(notebook.parent)},  # path: where Markdown images are looked up
        "report_commit": commit,
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    # Never leak a machine path into the report (outputs are scrubbed, but be sure).
    for root in {str(paths.ROOT), str(paths.ROOT.resolve())}:
        body = body.replace(root + "/", "./").replace(root, ".")
    return body, title


def build_report(out_dir: Path = DEFAULT_OUT, claims_csv: Path | None = None) -> Path:
    """Write the static report into ``out_dir``; return the path of its ``index.html``.

    ``claims_csv`` defaults to ``data/processed/claims_report.csv``.  Stale
    ``NN_*.html`` pages (of notebooks that no longer exist) are removed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = load_claims_report(claims_csv)
    exporter = _exporter()
    notebooks = ordered_notebooks()
    commit = build_commit()
    rendered = [(nb.stem, *render_notebook(nb, exporter, commit)) for nb in notebooks]
    index = out_dir / INDEX
    index.write_text(render_index(report, [(stem, title) for stem, _, title in rendered], commit), encoding="utf-8")
    written = {index}
    for stem, body, _ in rendered:
        page = out_dir / f"{stem}.html"
        page.write_text(body, encoding="utf-8")
        written.add(page)
    for old in out_dir.glob("[0-9][0-9]_*.html"):
        if old not in written:
            old.unlink()
    return index


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m helpers.report [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.report", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build/report)")
    parser.add_argument(
        "--claims", type=Path, default=None, help="claims report CSV (default: data/processed/claims_report.csv)"
    )
    args = parser.parse_args(argv)
    try:
        index = build_report(args.out, args.claims)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {paths.relative(index)} and {len(ordered_notebooks())} notebook pages; open {paths.relative(index)} "
        "in a browser"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
