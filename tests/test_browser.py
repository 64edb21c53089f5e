"""The leaderboard page in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven by selenium).

Nothing is downloaded: the driver path is given explicitly, so Selenium Manager is not used. Checks: no console
errors, no network requests, the tables sort, the heatmaps and the scatter render, manifests open; a full-page
screenshot is saved (to $MLIR_BENCH_SCREENSHOT when set, e.g. leaderboard/screenshot.png).

Install on Debian: ``apt-get install -y chromium chromium-driver`` and ``pip install selenium``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlir_bench.leaderboard import build_leaderboard

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                                 else None)
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--window-size=1400,1000"]

try:
    import selenium  # noqa: F401
except ImportError:
    selenium = None

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="Debian chromium / chromium-driver not installed "
                              "(apt-get install -y chromium chromium-driver)"),
    pytest.mark.skipif(selenium is None, reason="selenium not installed (pip install selenium)"),
]


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # belt and braces: Selenium Manager must never download
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS:
        opts.add_argument(f)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield d
    finally:
        d.quit()


def _pages(tmp: Path) -> dict[str, Path]:
    """The committed page when there is one, and always a page built from synthetic results with bias data."""
    from test_leaderboard import write_fake_results

    pages = {}
    committed = ROOT / "leaderboard" / "index.html"
    if committed.exists():
        pages["committed"] = committed
    results = write_fake_results(tmp / "results")
    pages["synthetic"] = build_leaderboard(results, tmp / "site" / "index.html", n_permutations=500)
    return pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _pages(tmp_path_factory.mktemp("browser"))


def _open(driver, path: Path) -> None:  # type: ignore[no-untyped-def]
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")
    driver.get_log("browser")  # drain


def _console_errors(driver) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _column_values(driver, table, index: int) -> list[float]:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    vals = []
    for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
        raw = row.find_elements(By.TAG_NAME, "td")[index].get_attribute("data-sort")
        if raw:
            vals.append(float(raw))
    return vals


@pytest.mark.parametrize("which", ["committed", "synthetic"])
def test_page_in_chromium(driver, pages: dict[str, Path], which: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    if which not in pages:
        pytest.skip("no committed leaderboard/index.html yet")
    _open(driver, pages[which])
    assert driver.title == "mlir-bench leaderboard"
    # loaded with no console errors and no network: nothing but the page itself was requested
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources == [], resources

    # one view is visible (the headline setting); its table sorts on a click, both ways
    active = driver.find_element(By.CSS_SELECTOR, "section.view.active")
    table = active.find_element(By.CSS_SELECTOR, "table.lb")
    headers = table.find_elements(By.CSS_SELECTOR, "thead th")
    metric_col = next(i for i, h in enumerate(headers) if "headline" in (h.get_attribute("class") or ""))
    skipped_col = len(headers) - 1
    headers[metric_col].click()
    assert headers[metric_col].get_attribute("aria-sort") == "descending"
    down = _column_values(driver, table, metric_col)
    assert down == sorted(down, reverse=True) and len(down) >= 1
    headers[metric_col].click()
    up = _column_values(driver, table, metric_col)
    assert up == sorted(up)
    model_col = next(i for i, h in enumerate(headers) if h.text.strip().startswith("model"))
    headers[model_col].click()
    names = [r.find_elements(By.TAG_NAME, "td")[model_col].get_attribute("data-sort")
             for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert names == sorted(names, key=str.lower)
    headers[skipped_col].click()  # counts sort too

    # heatmaps render in every view: switch views through the navigation
    for link in driver.find_elements(By.CSS_SELECTOR, "a.nav-view"):
        link.click()
        view = driver.find_element(By.ID, link.get_attribute("data-view"))
        assert "active" in view.get_attribute("class")
        cells = view.find_elements(By.CSS_SELECTOR, "svg.heatmap rect.hm-cell")
        assert cells, f"no heatmap in {view.get_attribute('id')}"
        box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height]",
                                    cells[0])
        assert box[0] > 10 and box[1] > 10

    # the alignment–uniformity scatter has one point per model with geometry (synthetic results have it)
    if which == "synthetic":
        driver.find_element(By.CSS_SELECTOR, "a.nav-view.default").click()
        pts = driver.find_elements(By.CSS_SELECTOR, "section.view.active svg.scatter circle.pt")
        assert len(pts) == 3
        sup = driver.find_elements(By.CSS_SELECTOR, "section.view.active sup.sig")
        assert sup and sup[0].is_displayed()
        bias = driver.find_element(By.CSS_SELECTOR, "section.view.active table.bias-table")
        bias_headers = bias.find_elements(By.CSS_SELECTOR, "thead th")
        rd = next(i for i, h in enumerate(bias_headers) if h.text.replace("\u200b", "").replace("\n", "").strip() == "rank_distance")
        bias_headers[rd].click()
        vals = _column_values(driver, bias, rd)
        assert vals == sorted(vals, reverse=True) and len(vals) == 3

    # a model name opens its manifest
    driver.find_element(By.CSS_SELECTOR, "a.nav-view.default").click()
    btn = driver.find_element(By.CSS_SELECTOR, "section.view.active button.manifest-link")
    btn.click()
    dialog = driver.find_element(By.ID, btn.get_attribute("data-target"))
    assert dialog.get_attribute("open") is not None and "dataset sha256" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, "button.close").click()
    assert dialog.get_attribute("open") is None

    assert _console_errors(driver) == []

    # screenshot of the page as it opens (default view, unsorted), whole page height
    _open(driver, pages[which])
    assert _console_errors(driver) == []
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height + 120, 800), 6000))
    target = os.environ.get("MLIR_BENCH_SCREENSHOT") if which == "committed" else None
    shot = Path(target) if target else tmp_path / f"{which}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    driver.set_window_size(1400, 1000)
