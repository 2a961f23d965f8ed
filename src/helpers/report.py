"""Static HTML report of the executed notebooks (``python -m helpers.report``, ``make report``).

:func:`build_report` writes, into ``build/report/`` by default:

* ``index.html`` -- the page to read first: what the project checks, the claims
  table from ``data/processed/claims_report.csv`` (claim, article value,
  reproduced value, verdict, link to the notebook that checks it, evidence),
  then a list linking every notebook page;
* ``NN_name.html`` -- one page per ``notebooks/NN_*.ipynb`` in run order,
  rendered from the *committed outputs* (nothing is executed, so a build takes
  seconds).

Notebook pages use the nbconvert template shipped in
``helpers/report_template/``: it extends nbconvert's ``lab`` template, folds
every code input into ``<details><summary>Show code</summary>...</details>``
(closed by default, outputs stay visible), adds a header link back to
``index.html`` and drops the stock template's CDN scripts (require.js, MathJax,
Mermaid), so the pages are self-contained and work offline.  Figures are the
notebooks' embedded PNG outputs, written as ``data:image/png;base64`` URIs;
images referenced from Markdown are embedded too (``embed_images``).

The output is deterministic: no timestamps, no machine paths (the repository
root is replaced by ``.`` should an output contain it), stable ordering.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from collections.abc import Sequence
from pathlib import Path

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
    "Statements that rest on the newspaper's own reporting cannot be checked against data "
    "and say why. Follow a notebook link to see how a value was computed; "
    "code is folded under \u201cShow code\u201d."
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 80em; padding: 0 1em; line-height: 1.45; color: #222; }
h1 { font-size: 1.6em; }
table.claims { border-collapse: collapse; width: 100%; font-size: 0.92em; }
table.claims th, table.claims td { border: 1px solid #ccc; padding: 0.35em 0.5em; vertical-align: top;
                                   text-align: left; }
table.claims th { background: #f3f3f3; }
table.claims td.claim code { font-size: 0.95em; }
table.claims td.claim .sentence { color: #555; font-size: 0.9em; margin-top: 0.2em; }
table.claims td.evidence { font-size: 0.85em; color: #444; max-width: 30em; overflow-wrap: anywhere; }
td.verdict { white-space: nowrap; font-weight: bold; }
tr.v-reproduced td.verdict { color: #1a7f37; }
tr.v-differs td.verdict { color: #b42318; }
tr.v-not-yet-reproduced td.verdict { color: #9a6700; }
tr.v-not-from-data td.verdict { color: #57606a; font-weight: normal; }
""".strip()


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
            f"{paths.relative(path)} not found: run `make reproduce` first "
            "(notebooks/99_claims.ipynb writes it)"
        )
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def render_index(report: pd.DataFrame, pages: Sequence[tuple[str, str]]) -> str:
    """HTML of the claims page; ``pages`` are (stem, title) of the notebook pages, in order."""
    stems = {stem for stem, _ in pages}
    rows = []
    for _, r in report.iterrows():
        stem = r.get("notebook", "")
        if stem and stem in stems:
            nb_cell = f'<a href="{_esc(stem)}.html">{_esc(stem)}</a>'
        else:
            nb_cell = _esc(stem) or "&mdash;"
        sentence = r.get("sentence", "")
        sentence_html = f'<div class="sentence">{_esc(sentence)}</div>' if sentence else ""
        rows.append(
            f'<tr id="claim-{_esc(r["claim_id"])}" class="v-{_slug(r["verdict"])}">'
            f'<td class="claim"><code>{_esc(r["claim_id"])}</code>{sentence_html}</td>'
            f'<td class="article">{_esc(r["article_value"])}</td>'
            f'<td class="reproduced">{_esc(r["reproduced_value"]) or "&mdash;"}</td>'
            f'<td class="verdict">{_esc(r["verdict"])}</td>'
            f'<td class="notebook">{nb_cell}</td>'
            f'<td class="evidence">{_esc(r["evidence"])}</td>'
            "</tr>"
        )
    counts = report["verdict"].value_counts()
    summary = ", ".join(f"{n} {_esc(v)}" for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    links = "\n".join(
        f'<li><a href="{_esc(stem)}.html">{_esc(stem)}</a> &mdash; {_esc(title)}</li>' for stem, title in pages
    )
    body = "\n".join(rows)
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
<h2 id="claims">Claims</h2>
<p class="summary">{len(report)} statements: {summary}.</p>
<table class="claims" id="claims-table">
<thead><tr><th>claim</th><th>article value</th><th>reproduced value</th><th>verdict</th><th>notebook</th><th>evidence</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
<h2 id="notebooks">Notebooks</h2>
<ul class="notebook-list" id="notebook-list">
{links}
</ul>
</main>
</body>
</html>
"""


def _import_nbconvert():
    """Import nbconvert and nbformat without the ~20 s CPU import of ``rfc3987_syntax``.

    ``jsonschema`` (imported by nbformat) registers an "iri" format checker
    when ``rfc3987_syntax`` is importable, and that package builds some thirty
    Earley parsers at import time: 20+ seconds of CPU, minutes on a loaded
    machine.  Notebook validation never checks the "iri" format, so while
    nbconvert is first imported the module is made unavailable (only if neither
    it nor jsonschema is loaded yet), then made importable again.  The only
    effect: jsonschema in this process has no "iri"/"iri-reference" checker.
    """
    blocked = "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # makes `import` raise ImportError
    try:
        import nbconvert
        import nbformat
    finally:
        if blocked and sys.modules.get("rfc3987_syntax", False) is None:
            del sys.modules["rfc3987_syntax"]
    return nbconvert, nbformat


def _exporter():
    nbconvert, _ = _import_nbconvert()
    HTMLExporter = nbconvert.HTMLExporter

    exporter = HTMLExporter(
        template_name=TEMPLATE_DIR.name,
        extra_template_basedirs=[str(TEMPLATE_DIR.parent)],
    )
    exporter.embed_images = True
    exporter.exclude_anchor_links = False
    return exporter


def render_notebook(notebook: Path, exporter=None) -> tuple[str, str]:
    """(HTML, title) of one executed notebook, from its stored outputs (nothing is run)."""
    _, nbformat = _import_nbconvert()

    notebook = Path(notebook)
    exporter = exporter or _exporter()
    nb = nbformat.read(notebook, as_version=4)
    title = _notebook_title(nb, notebook.stem)
    resources = {
        "metadata": {"name": title, "path": str(notebook.parent)},  # path: where Markdown images are looked up
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
    rendered = [(nb.stem, *render_notebook(nb, exporter)) for nb in notebooks]
    index = out_dir / INDEX
    index.write_text(render_index(report, [(stem, title) for stem, _, title in rendered]), encoding="utf-8")
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
    parser.add_argument("--claims", type=Path, default=None, help="claims report CSV (default: data/processed/claims_report.csv)")
    args = parser.parse_args(argv)
    try:
        index = build_report(args.out, args.claims)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {paths.relative(index)} and {len(ordered_notebooks())} notebook pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
