"""The leaderboard page in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven by selenium).

Nothing is downloaded: the driver path is given explicitly, so Selenium Manager is not used. Each page (the
committed one, and one built from synthetic results with every kind of row) is checked at a desktop width
(1400 × 900) and a phone width (390 × 844, mobile emulation): no console errors, no network requests, no
page-level horizontal overflow in any view, the headline score column visible, tables sort by mouse and keyboard,
filters hide rows and language columns (the average is recomputed), CSV downloads match the table, the scatter has
a legend entry per point, manifests open with the reproduction command.

Screenshots of the committed page as it opens: ``$MLIR_BENCH_SCREENSHOT`` (desktop, 1400 × 900) and
``$MLIR_BENCH_SCREENSHOT_PHONE`` (390 × 844), e.g. leaderboard/screenshot.png and leaderboard/screenshot-phone.png.

Install on Debian: ``apt-get install -y chromium chromium-driver`` and ``pip install selenium``.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
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
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--window-size=1400,900"]
WIDTHS = {"desktop": (1400, 900), "phone": (390, 844)}

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
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def driver(downloads: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # belt and braces: Selenium Manager must never download
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield d
    finally:
        d.quit()


def _pages(tmp: Path) -> dict[str, Path]:
    """The committed page when there is one, and always a page built from synthetic results with every row kind."""
    from test_leaderboard import write_rich_results

    pages = {}
    committed = ROOT / "leaderboard" / "index.html"
    if committed.exists():
        pages["committed"] = committed
    results = write_rich_results(tmp / "results")
    pages["synthetic"] = build_leaderboard(results, tmp / "site" / "index.html", n_permutations=2000)
    return pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _pages(tmp_path_factory.mktemp("browser"))


def _viewport(driver, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def _open(driver, path: Path, size: str = "desktop", fragment: str = "") -> None:  # type: ignore[no-untyped-def]
    _viewport(driver, *WIDTHS[size])
    driver.get("about:blank")  # a fresh document each time (not a fragment navigation within the last one)
    driver.get(path.resolve().as_uri() + (f"#{fragment}" if fragment else ""))
    driver.execute_script("return document.readyState")


def _console_errors(driver) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _column_values(table, index: int) -> list[float]:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    vals = []
    for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
        if not row.is_displayed():
            continue
        raw = row.find_elements(By.TAG_NAME, "td")[index].get_attribute("data-sort")
        if raw:
            vals.append(float(raw))
    return vals


def _active(driver):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "section.view.active")


def _overflow(driver) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return tuple(driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]"))


def _headline_visible(driver, table) -> bool:  # type: ignore[no-untyped-def]
    """The first row's headline score is fully inside the viewport horizontally (not scrolled off or clipped)."""
    return bool(driver.execute_script(
        "const t = arguments[0]; const heads = Array.from(t.tHead.rows[0].cells);"
        "const i = heads.findIndex(h => h.classList.contains('headline'));"
        "const row = Array.from(t.tBodies[0].rows).find(r => r.offsetParent !== null);"
        "if (i < 0 || !row) return false; const r = row.cells[i].getBoundingClientRect();"
        "const wrap = t.closest('.table-wrap').getBoundingClientRect();"
        "return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 0.5 && r.right <= wrap.right + 0.5;",
        table))


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("which", ["committed", "synthetic"])
def test_layout_every_view(driver, pages: dict[str, Path], which: str, size: str) -> None:  # type: ignore[no-untyped-def]
    """No console error, no request, no page-level horizontal overflow and the score column visible, in every view."""
    from selenium.webdriver.common.by import By

    if which not in pages:
        pytest.skip("no committed leaderboard/index.html yet")
    _open(driver, pages[which], size)
    driver.get_log("browser")
    assert driver.title == "mlir-bench leaderboard"
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources == [], resources
    assert _active(driver).get_attribute("id") == "overview"  # the landing view
    width = WIDTHS[size][0]
    for link in driver.find_elements(By.CSS_SELECTOR, "a.nav-view"):
        driver.execute_script("arguments[0].click()", link)
        view = _active(driver)
        vid = view.get_attribute("id")
        assert vid == link.get_attribute("data-view")
        scroll, inner = _overflow(driver)
        assert inner == width and scroll <= inner, f"{vid} at {width}px: the page scrolls sideways ({scroll} > {inner})"
        table = view.find_element(By.CSS_SELECTOR, "table.lb")
        assert _headline_visible(driver, table), f"{vid} at {width}px: the headline score is off screen"
        if vid != "overview":
            cells = view.find_elements(By.CSS_SELECTOR, "svg.heatmap rect.hm-cell")
            assert cells, f"no heatmap in {vid}"
            box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height]",
                                        cells[0])
            assert box[0] > 5 and box[1] > 5
            for svg in view.find_elements(By.CSS_SELECTOR, "figure svg"):  # figures scale down, never overflow
                right = driver.execute_script("return arguments[0].getBoundingClientRect().right", svg)
                assert right <= inner + 0.5, f"{vid}: a figure is wider than the screen"
    # the static sections (models, reproduction, glossary, footer) do not overflow either
    for sid in ("models", "glossary"):
        driver.execute_script(f"document.getElementById('{sid}').scrollIntoView()")
        scroll, inner = _overflow(driver)
        assert scroll <= inner, f"#{sid} at {width}px overflows"
    # sticky model column: scrolled sideways, the model names stay in view
    driver.execute_script("arguments[0].click()", driver.find_element(By.CSS_SELECTOR, "a.nav-view.main:not(.default)"))
    view = _active(driver)
    wrap = view.find_element(By.CSS_SELECTOR, ".table-wrap")
    driver.execute_script("arguments[0].scrollLeft = 10000", wrap)
    cell = view.find_element(By.CSS_SELECTOR, "table.lb tbody td.model")
    left = driver.execute_script("return arguments[0].getBoundingClientRect().left", cell)
    wrap_left = driver.execute_script("return arguments[0].getBoundingClientRect().left", wrap)
    assert left >= wrap_left - 0.5, "the model column scrolled out of view"
    assert _console_errors(driver) == []


@pytest.mark.parametrize("which", ["committed", "synthetic"])
def test_sorting_by_mouse_and_keyboard(driver, pages: dict[str, Path], which: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    if which not in pages:
        pytest.skip("no committed leaderboard/index.html yet")
    _open(driver, pages[which], "desktop")
    driver.find_element(By.CSS_SELECTOR, "a.nav-view.main:not(.default)").click()
    table = _active(driver).find_element(By.CSS_SELECTOR, "table.lb")
    headers = table.find_elements(By.CSS_SELECTOR, "thead th")
    metric_col = next(i for i, h in enumerate(headers) if "headline" in (h.get_attribute("class") or ""))
    headers[metric_col].find_element(By.TAG_NAME, "button").click()
    assert headers[metric_col].get_attribute("aria-sort") == "descending"  # ↑: best first
    down = _column_values(table, metric_col)
    assert down == sorted(down, reverse=True) and len(down) >= 1
    headers[metric_col].find_element(By.TAG_NAME, "button").click()
    up = _column_values(table, metric_col)
    assert up == sorted(up)
    # keyboard: the header is a real button, reachable and operable without a mouse
    model_col = next(i for i, h in enumerate(headers) if h.get_attribute("data-label") == "model")
    button = headers[model_col].find_element(By.TAG_NAME, "button")
    driver.execute_script("arguments[0].focus()", button)
    assert driver.switch_to.active_element == button
    button.send_keys(Keys.ENTER)
    assert headers[model_col].get_attribute("aria-sort") == "ascending"
    names = [r.find_elements(By.TAG_NAME, "td")[model_col].get_attribute("data-sort")
             for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert names == sorted(names, key=str.lower)
    # a lower-is-better column sorts best (lowest) first
    bias = _active(driver).find_elements(By.CSS_SELECTOR, "table.bias-table")
    if bias:
        bh = bias[0].find_elements(By.CSS_SELECTOR, "thead th")
        rd = next(i for i, h in enumerate(bh) if h.get_attribute("data-label") == "rank_distance")
        assert bh[rd].get_attribute("data-better") == "lower"
        bh[rd].find_element(By.TAG_NAME, "button").click()
        assert bh[rd].get_attribute("aria-sort") == "ascending"
        vals = _column_values(bias[0], rd)
        assert vals == sorted(vals) and len(vals) >= 3
    # every table of the page sorts (the reproduction table's "on this page" column included)
    repro = driver.find_elements(By.CSS_SELECTOR, "#t-repro")
    if repro:
        rh = repro[0].find_elements(By.CSS_SELECTOR, "thead th")
        col = next(i for i, h in enumerate(rh) if h.get_attribute("data-label") == "on this page")
        driver.execute_script("arguments[0].click()", rh[col].find_element(By.TAG_NAME, "button"))
        vals = _column_values(repro[0], col)
        assert vals == sorted(vals, reverse=True) and vals
    assert _console_errors(driver) == []


def test_filters_and_language_columns(driver, pages: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _open(driver, pages["synthetic"], "desktop", "xquad-r-multi")
    view = _active(driver)
    table = view.find_element(By.CSS_SELECTOR, "table.lb")

    def shown(attr: str = "") -> list[str]:
        return [r.get_attribute("data-model") for r in table.find_elements(By.CSS_SELECTOR, f"tbody tr{attr}")
                if r.is_displayed()]

    everyone = shown()
    assert "XLM-R hybrid" in everyone and "middle-model+center:pool" in everyone
    form = view.find_element(By.CSS_SELECTOR, "form.filters")
    Select(form.find_element(By.NAME, "zs")).select_by_value("hide-no")
    assert not shown('[data-zs="no"]') and shown('[data-zs="unknown"]')
    Select(form.find_element(By.NAME, "zs")).select_by_value("only-yes")
    assert set(shown()) == set(shown('[data-zs="yes"]')) and "bm25" in shown()
    Select(form.find_element(By.NAME, "zs")).select_by_value("all")
    form.find_element(By.NAME, "reported").click()
    assert not shown('[data-kind="reported"]') and len(shown()) == 8
    form.find_element(By.NAME, "transductive").click()
    assert "middle-model+center:pool" not in shown() and "middle-model+center:ntrex" in shown()
    form.find_element(By.NAME, "transformed").click()
    assert "middle-model+center:ntrex" not in shown()
    # the state is the page's: another view's rows are filtered the same way
    driver.find_element(By.CSS_SELECTOR, 'a.nav-view[data-view="xquad-r-mono"]').click()
    mono = _active(driver).find_element(By.CSS_SELECTOR, "table.lb")
    assert all(not r.is_displayed() for r in mono.find_elements(By.CSS_SELECTOR, 'tbody tr[data-transformed="1"]'))
    driver.find_element(By.CSS_SELECTOR, 'a.nav-view[data-view="xquad-r-multi"]').click()
    # query languages: untick en, its column disappears from the per-language table and avg is recomputed
    lang = view.find_element(By.CSS_SELECTOR, "table.lang-table")
    row = lang.find_element(By.CSS_SELECTOR, 'tbody tr[data-model="strong-model"]')
    vals = {td.get_attribute("data-lang"): float(td.get_attribute("data-sort"))
            for td in row.find_elements(By.CSS_SELECTOR, "td[data-lang]")}
    form.find_element(By.CSS_SELECTOR, 'input[name="lang"][value="en"]').click()
    en_head = lang.find_element(By.CSS_SELECTOR, 'th[data-lang="en"]')
    assert not en_head.is_displayed()
    avg = row.find_element(By.CSS_SELECTOR, "td.avg")
    assert float(avg.get_attribute("data-sort")) == pytest.approx((vals["de"] + vals["zh"]) / 2)
    assert avg.text == f"{(vals['de'] + vals['zh']) / 2:.4f}"
    form.find_element(By.CSS_SELECTOR, "button.langs-all").click()
    assert en_head.is_displayed()
    assert float(avg.get_attribute("data-sort")) == pytest.approx(sum(vals.values()) / 3)
    # the overview masks cells of models that are not zero-shot on that task
    driver.find_element(By.CSS_SELECTOR, "a.nav-view.default").click()
    ov = _active(driver)
    Select(ov.find_element(By.NAME, "zs")).select_by_value("hide-no")
    masked = ov.find_elements(By.CSS_SELECTOR, "table.overview td[data-masked]")
    assert masked and all(td.get_attribute("data-zs") == "no" for td in masked)
    assert _console_errors(driver) == []


def test_csv_download_matches_the_table(driver, pages: dict[str, Path], downloads: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    _open(driver, pages["synthetic"], "desktop", "xquad-r-multi")
    view = _active(driver)
    table = view.find_element(By.CSS_SELECTOR, "table.lb")
    table_id = table.get_attribute("id")
    for f in downloads.glob("*"):
        f.unlink()
    view.find_element(By.CSS_SELECTOR, f'button.csv[data-table="{table_id}"]').click()
    target = downloads / f"{table_id}.csv"
    for _ in range(50):
        if target.exists() and target.stat().st_size > 0:
            break
        time.sleep(0.1)
    assert target.exists(), list(downloads.iterdir())
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    shown = [r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr") if r.is_displayed()]
    assert len(rows) == len(shown)
    assert {"rank", "model", "map", "row_type", "zero_shot", "transductive"} <= set(rows[0])
    first = shown[0]
    head = first.find_element(By.CSS_SELECTOR, "td.headline")
    assert rows[0]["model"] == first.get_attribute("data-model")
    assert float(rows[0]["map"]) == float(head.get_attribute("data-sort"))
    assert {r["row_type"] for r in rows} == {"measured", "reported"}
    assert any(r["transductive"] == "yes" for r in rows)
    assert _console_errors(driver) == []


def test_scatter_legend_and_manifest(driver, pages: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    _open(driver, pages["synthetic"], "desktop", "xquad-r-multi")
    view = _active(driver)
    pts = view.find_elements(By.CSS_SELECTOR, "svg.scatter .pt")
    legend = view.find_elements(By.CSS_SELECTOR, "ul.scatter-legend li")
    labels = [t.text for t in view.find_elements(By.CSS_SELECTOR, "svg.scatter text.pt-label")]
    assert len(pts) == len(legend) == len(labels) == 6  # bm25 and weak-model have no geometry
    assert labels == [li.find_element(By.TAG_NAME, "b").text for li in legend]
    styles = {(p.get_attribute("fill"), p.tag_name) for p in pts}
    assert len(styles) == len(pts)  # distinct colour and marker pairs
    sup = view.find_elements(By.CSS_SELECTOR, "sup.sig")
    assert sup and sup[0].is_displayed()
    # the pairwise p-values are drawn when opened: one row and one column per tested model
    details = view.find_element(By.CSS_SELECTOR, "details.pvalues")
    details.find_element(By.TAG_NAME, "summary").click()
    matrix = details.find_element(By.CSS_SELECTOR, "table.pmatrix")
    n = len(view.find_elements(By.CSS_SELECTOR, "table.lb tbody tr[data-kind=measured]"))
    assert len(matrix.find_elements(By.CSS_SELECTOR, "tbody tr")) == n
    assert matrix.find_elements(By.CSS_SELECTOR, "td.sig")
    btn = view.find_element(By.CSS_SELECTOR, "table.lb button.manifest-link")
    btn.click()
    dialog = driver.find_element(By.ID, "manifest-dialog")
    assert dialog.get_attribute("open") is not None and dialog.get_attribute("data-manifest") == \
        btn.get_attribute("data-target")
    assert btn.text in dialog.find_element(By.TAG_NAME, "h2").text and "dataset sha256" in dialog.text
    assert "mlir-bench run -m" in dialog.text and "--overwrite" in dialog.text
    assert dialog.find_element(By.CSS_SELECTOR, ".manifest-body a").get_attribute("href").endswith(".json")
    dialog.find_element(By.CSS_SELECTOR, "button.close").click()
    assert dialog.get_attribute("open") is None
    assert _console_errors(driver) == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("which", ["committed", "synthetic"])
def test_screenshot(driver, pages: dict[str, Path], which: str, size: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The page as it opens (the overview, unsorted), top of the page at the given width."""
    if which not in pages:
        pytest.skip("no committed leaderboard/index.html yet")
    _open(driver, pages[which], size)
    time.sleep(0.2)
    assert _console_errors(driver) == []
    env = {"desktop": "MLIR_BENCH_SCREENSHOT", "phone": "MLIR_BENCH_SCREENSHOT_PHONE"}[size]
    target = os.environ.get(env) if which == "committed" else None
    shot = Path(target) if target else tmp_path / f"{which}-{size}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    _viewport(driver, *WIDTHS["desktop"])
