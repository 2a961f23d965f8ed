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
            assert f'<td class="notebook"><a href="{stem}.html">{stem}</a></td>' in index


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
        p.stem for p in sorted(built.glob("[0-9][0-9]_*.html"))
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

    # code is folded: closed by default, opens on click
    details = browser.find_elements(By.CSS_SELECTOR, "details.report-code")
    assert details and not any(d.get_attribute("open") for d in details)
    first = details[0]
    code = first.find_element(By.CSS_SELECTOR, ".jp-InputArea-editor")
    assert not code.is_displayed()
    first.find_element(By.TAG_NAME, "summary").click()
    wait.until(lambda d: code.is_displayed())
