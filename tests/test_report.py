"""The static HTML report (helpers.report): structure without a browser, then in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import claims, paths, report
from helpers.notebooks import ordered_notebooks

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"


def _has_figures(nb: Path) -> bool:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return any(
        "image/png" in out.get("data", {})
        for cell in cells
        if cell.get("cell_type") == "code"
        for out in cell.get("outputs", [])
    )


@pytest.fixture(scope="module")
def claims_csv(tmp_path_factory) -> Path:
    """The committed claims report, or one built from the registry and recorded values."""
    committed = paths.processed_dir() / claims.REPORT_FILE
    if committed.is_file():
        return committed
    out = tmp_path_factory.mktemp("claims") / claims.REPORT_FILE
    claims.build_report(claims.load_claims(), claims.load_recorded()).to_csv(out, index=False, lineterminator="\n")
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, claims_csv) -> Path:
    """The report built once for this module; returns its folder."""
    out = tmp_path_factory.mktemp("report")
    index = report.build_report(out, claims_csv)
    assert index == out / "index.html"
    return out


def test_index_lists_claims_and_links_notebooks(built, claims_csv):
    index = (built / "index.html").read_text(encoding="utf-8")
    table = pd.read_csv(claims_csv, dtype=str, keep_default_na=False)
    assert 'id="claims-table"' in index
    for cid in table["claim_id"]:
        assert f"<code>{cid}</code>" in index, cid
    notebooks = ordered_notebooks()
    assert notebooks
    for nb in notebooks:
        page = built / f"{nb.stem}.html"
        assert page.is_file(), page
        assert f'href="{nb.stem}.html"' in index
    # claims link to the notebook that checks them, when that notebook exists
    for stem in set(table["notebook"]) - {""}:
        if (paths.NOTEBOOKS / f"{stem}.ipynb").is_file():
            assert f'<td class="notebook" data-label="notebook"><a href="{stem}.html">{stem}</a></td>' in index


def test_notebook_pages_fold_code_and_embed_figures(built):
    root = str(paths.ROOT)
    for nb in ordered_notebooks():
        page = (built / f"{nb.stem}.html").read_text(encoding="utf-8")
        assert '<a href="index.html"' in page, nb.stem
        if '"cell_type": "code"' in nb.read_text(encoding="utf-8"):
            assert "<details" in page and "<summary>Show code</summary>" in page, nb.stem
        if _has_figures(nb):
            assert "<img" in page and "data:image/png;base64" in page, nb.stem
        assert root not in page, f"{nb.stem}: machine path in the report"
        assert "<script src=" not in page, f"{nb.stem}: external script"
    assert root not in (built / "index.html").read_text(encoding="utf-8")


def _rows(index: str, table_id: str) -> list[str]:
    table = index.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr id=\"claim-.*?</tr>", table, flags=re.S)


def _visible(html_text: str) -> str:
    """Text of an HTML fragment without tags and without folded <details> blocks."""
    text = re.sub(r"<details>.*?</details>", "", html_text, flags=re.S)
    return re.sub(r"<[^>]+>", "", text)


def test_index_evidence_is_one_short_line_with_files_folded(built, claims_csv):
    index = (built / "index.html").read_text(encoding="utf-8")
    table = pd.read_csv(claims_csv, dtype=str, keep_default_na=False).set_index("claim_id")
    rows = _rows(index, "claims-table") + _rows(index, "package-checks-table")
    assert len(rows) == len(table)
    for row in rows:
        cid = re.search(r'id="claim-([a-z0-9_]+)"', row).group(1)
        evidence = re.search(r'<td class="evidence"[^>]*>(.*?)</td>', row, flags=re.S).group(1)
        shown = _visible(evidence)
        assert len(shown) <= claims.EVIDENCE_MAX, (cid, shown)
        for item in [x.strip() for x in table.loc[cid, "inputs"].split(";") if x.strip()]:
            assert item not in shown, f"{cid}: {item} should be folded"
            assert f"<code>{item}</code>" in evidence, f"{cid}: {item} missing from the fold"
        # every cell of a row stays short enough for one laptop screen (about 20 lines of its column)
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S):
            assert len(_visible(cell)) <= 600, (cid, _visible(cell)[:80])


def test_package_checks_are_a_table_apart(built, claims_csv):
    index = (built / "index.html").read_text(encoding="utf-8")
    table = pd.read_csv(claims_csv, dtype=str, keep_default_na=False)
    own = set(table.loc[table["kind"] == "package-check", "claim_id"])
    assert own, "the registry has no package check"
    main = " ".join(_rows(index, "claims-table"))
    apart = " ".join(_rows(index, "package-checks-table"))
    for cid in own:
        assert f'id="claim-{cid}"' in apart and f'id="claim-{cid}"' not in main
    assert claims.summary_sentence(table).replace("'", "&#x27;") in index


def test_pages_are_stamped_with_the_commit_and_built_deterministically(built, claims_csv, tmp_path):
    commit = report.build_commit()
    assert commit
    index = (built / "index.html").read_text(encoding="utf-8")
    assert f"Built from commit {commit}." in index
    for nb in ordered_notebooks():
        assert f"built from commit {commit}" in (built / f"{nb.stem}.html").read_text(encoding="utf-8"), nb.stem
    again = report.build_report(tmp_path / "again", claims_csv).parent
    for page in sorted(built.glob("*.html")):
        assert (again / page.name).read_bytes() == page.read_bytes(), page.name


def test_build_commit_outside_git(tmp_path):
    assert report.build_commit(tmp_path) == "no git commit"


def test_every_figure_has_alt_text_and_rules_print_values(built):
    for nb in ordered_notebooks():
        page = (built / f"{nb.stem}.html").read_text(encoding="utf-8")
        for img in re.findall(r"<img\b[^>]*>", page):
            alt = re.search(r'\balt="([^"]*)"', img)
            assert alt and len(alt.group(1).split()) >= 5, f"{nb.stem}: figure without a sentence of alt text"
        # outside the folded code, no constant is shown by name (stats.ALPHA, detention.LONG_STANDING_YEARS, ...)
        prose = re.sub(r'<details class="report-code">.*?</details>', "", page, flags=re.S)
        names = re.findall(r"\b(?:stats|detention|claims|context)\.[A-Z][A-Z_]{2,}\b", _visible(prose))
        assert not names, f"{nb.stem}: rule shown by name {names}"


def _figure(title: str = "Eight counties signed"):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title(title)
    return fig


def test_save_figure_stores_alt_text_in_the_png(tmp_path, monkeypatch):
    from helpers import plotting

    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path))
    given = plotting.save_figure(_figure(), "given", "test", alt="A line rises  from 0\nto 1.")
    assert plotting.alt_text(given) == "A line rises from 0 to 1."
    default = plotting.save_figure(_figure("Eight counties\nsigned by March"), "default", "test")
    assert plotting.alt_text(default) == "Eight counties; signed by March"
    again = plotting.save_figure(_figure(), "again", "test", alt="A line rises from 0 to 1.")
    assert again.read_bytes() == given.read_bytes()  # byte-stable, alt text included
    assert plotting.show(given)._repr_png_()[1] == {"alt": "A line rises from 0 to 1."}
    assert plotting.show(given, alt="other")._repr_png_()[1] == {"alt": "other"}
    with pytest.raises(ValueError, match="alt text is empty"):
        plotting.save_figure(_figure(), "empty", "test", alt="  ")


def test_a_figure_without_title_or_alt_has_none(tmp_path, monkeypatch):
    from helpers import plotting

    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path))
    assert plotting.alt_text(plotting.save_figure(_figure(""), "untitled", "test")) is None


def test_missing_claims_report_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reproduce"):
        report.build_report(tmp_path / "out", tmp_path / "nope.csv")


# --- headless browser -------------------------------------------------------------------------


@pytest.fixture()
def browser(tmp_path):
    """Selenium driving Debian's headless Chromium; quit in teardown."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip(f"selenium is not installed; also {INSTALL_HINT}")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not exe.is_file() or shutil.which(str(exe)) is None:
            pytest.skip(f"{exe} not found: {INSTALL_HINT}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,1024",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(30)
        yield driver
    finally:
        driver.quit()


@pytest.mark.browser
def test_report_in_headless_chromium(built, loopback_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    served, base = loopback_server
    shutil.copytree(built, served, dirs_exist_ok=True)
    wait = WebDriverWait(browser, 60)

    browser.get(f"{base}/index.html")
    table = wait.until(ec.presence_of_element_located((By.ID, "claims-table")))
    assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) > 0

    # the notebook to follow: 01_state_counties when its page has figures, else the first that has some
    with_figures = [
        p.stem
        for p in sorted(built.glob("[0-9][0-9]_*.html"))
        if re.search(r'<img[^>]*src="data:image/png;base64', p.read_text(encoding="utf-8"))
    ]
    assert with_figures, "no notebook has an embedded figure"
    stem = "01_state_counties" if "01_state_counties" in with_figures else with_figures[0]
    link = browser.find_element(By.CSS_SELECTOR, f'#notebook-list a[href="{stem}.html"]')
    link.click()
    wait.until(ec.url_contains(f"/{stem}.html"))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    wait.until(ec.presence_of_element_located((By.ID, "back-to-claims")))

    # every figure has loaded (decoded, non-zero size), and there is at least one
    wait.until(lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 22)])"
    )
    assert images, f"{stem}.html shows no image"
    for complete, width, src in images:
        assert complete and width > 0, (src, complete, width)

    # every figure shows its alt text to assistive technology
    alts = browser.execute_script("return Array.from(document.images).map(i => i.alt)")
    assert all(a and a.strip() for a in alts), alts

    # code is folded: closed by default, opens on click
    details = browser.find_elements(By.CSS_SELECTOR, "details.report-code")
    assert details and not any(d.get_attribute("open") for d in details)
    first = details[0]
    code = first.find_element(By.CSS_SELECTOR, ".jp-InputArea-editor")
    assert not code.is_displayed()
    first.find_element(By.TAG_NAME, "summary").click()
    wait.until(lambda d: code.is_displayed())


@pytest.mark.browser
def test_index_fits_a_laptop_screen_per_row_and_a_phone_without_overflow(built, loopback_server, browser):
    served, base = loopback_server
    shutil.copytree(built, served, dirs_exist_ok=True)
    browser.set_window_size(1280, 800)
    browser.get(f"{base}/index.html")
    height = browser.execute_script("return window.innerHeight")
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.claims tbody tr')).map(r => [r.id, r.getBoundingClientRect().height])"
    )
    assert rows
    for cid, h in rows:
        assert h <= height, f"{cid}: row is {h:.0f}px tall on a {height}px laptop screen"
    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{base}/index.html")
    widths = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page overflows at phone width: {widths}"
