"""The runs index and reports in headless Chromium: links work, images load, no console
errors. Screenshots of the index at 1280 px and 390 px go to test-artifacts/."""

from pathlib import Path

from browser_helpers import ARTIFACTS, browser, open_page
from trainlab.report.html import key_values
from trainlab.report.html import page as html_page
from trainlab.report.site import write_index
from trainlab.runner import execute


def _check_page(page, url, errors):
    page.goto(url)
    page.wait_for_load_state("load")
    # lazy images are not part of the load event: bring each into view, wait for it
    page.evaluate("Array.from(document.images).forEach(i => { i.loading = 'eager'; })")
    try:
        page.wait_for_function("Array.from(document.images).every(i => i.complete)",
                               timeout=15_000)
    except Exception:  # noqa: BLE001 - the assertion below names the images
        pass
    broken = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.alt || i.src.slice(0, 60))")
    assert broken == [], f"{url}: images that did not load: {broken}"
    assert errors == [], f"{url}: console errors: {errors}"
    return page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")


def test_index_and_reports_render_in_chromium(tmp_path):
    sync_playwright = browser()
    runs = tmp_path / "runs"
    execute("polyfit", preset="smoke", runs_dir=runs, progress=False, quiet=True,
            sets={"title": "<i>escaped</i> & fine"})
    execute("polyfit", preset="smoke", runs_dir=runs, progress=False, quiet=True,
            sets={"lrs": [1000.0], "loss": "mse"})  # a failed (diverged) run
    index = write_index(runs)
    with sync_playwright() as p:
        chromium, page, errors = open_page(p)
        links = _check_page(page, index.as_uri(), errors)
        reports = sorted({u for u in links if u.endswith("report.html")})
        assert len(reports) == 2
        assert "<i>escaped</i> &amp; fine" not in page.content()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "index-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(ARTIFACTS / "index-390.png"), full_page=True)
        for url in reports:
            links = _check_page(page, url, errors)
            figures = page.evaluate("document.querySelectorAll('figure img').length")
            assert figures >= 1, url
            for raw in [u for u in links if u.startswith("file:")]:
                assert Path(raw.removeprefix("file://")).exists() or "summary.json" in raw, raw
        chromium.close()


def test_a_list_of_numbers_wraps_between_items_only(tmp_path):
    """A narrow card with a long list (weight-pca's ratios): several lines, no number cut."""
    sync_playwright = browser()
    values = [0.123456789 / (i + 1) for i in range(8)]
    path = tmp_path / "wrap.html"
    path.write_text(html_page("wrap", "<div class='card' style='width:220px'>"
                              + key_values([("explained_variance_ratio", values)]) + "</div>"),
                    encoding="utf-8")
    with sync_playwright() as p:
        chromium, tab, errors = open_page(p, width=390, height=844)
        tab.goto(path.as_uri())
        rects = tab.evaluate("Array.from(document.querySelectorAll('dd .item'))"
                             ".map(s => s.getClientRects().length)")
        lines = tab.evaluate("(() => { const d = document.querySelector('dd');"
                             " return Math.round(d.getBoundingClientRect().height"
                             " / parseFloat(getComputedStyle(d).lineHeight)); })()")
        chromium.close()
    assert errors == []
    assert rects == [1] * 8  # every number on one line
    assert lines >= 2  # and the list did wrap
