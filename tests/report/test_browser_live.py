"""A live report in headless Chromium: it loads without console errors, draws its SVG
charts and its decision-boundary image, and reloads itself; the final report does not.
A screenshot goes to test-artifacts/live-report.png."""

from functools import partial
from pathlib import Path

import trainlab.runner as runner
from browser_helpers import ARTIFACTS, browser, open_page
from trainlab.live import LiveReport


def test_a_live_report_loads_reloads_and_the_final_one_stays(tmp_path, monkeypatch):
    sync_playwright = browser()
    # a page per evaluation (not every 2 s), so that the smoke run's last live page has
    # every epoch but the final one
    monkeypatch.setattr(runner, "LiveReport", partial(LiveReport, interval=0.0))
    out = tmp_path / "run"
    pages = []

    def keep(rows):  # the live report (the first observer) has just written the page
        page = out / "report.html"
        if page.exists():
            pages.append(page.read_text())
    outcome = runner.execute("height-weight", preset="smoke", out=out, progress=False, quiet=True,
                      observers=[keep])
    assert outcome.state == "completed"
    live = Path(tmp_path / "live.html")
    live.write_text(pages[-1])  # the last page written while it ran
    with sync_playwright() as p:
        chromium, page, errors = open_page(p)
        page.goto(live.as_uri())
        page.wait_for_load_state("load")
        assert errors == []
        assert "running" in page.inner_text(".live")
        charts = page.evaluate("Array.from(document.querySelectorAll('svg.chart'))"
                               ".map(s => s.getBoundingClientRect().width)")
        assert len(charts) == 5 and min(charts) > 200  # loss, accuracy, 3 boundaries
        lines = page.evaluate("Array.from(document.querySelectorAll('svg.chart polyline'))"
                              ".filter(l => l.points.numberOfItems > 1).length")
        assert lines >= 6  # train and test of three networks, at least two epochs each
        # the decision-boundary PNGs decode (an undecodable image has no size)
        sizes = page.evaluate("""Promise.all(Array.from(document.querySelectorAll(
            'svg.chart image')).map(i => new Promise(ok => { const im = new Image();
            im.onload = () => ok([im.naturalWidth, im.naturalHeight]);
            im.onerror = () => ok(null); im.src = i.getAttribute('href'); })))""")
        assert sizes == [[32, 32]] * 3
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live-report.png"), full_page=True)
        with page.expect_event("load", timeout=15_000):
            pass  # the meta refresh (3 s) reloads the page by itself
        assert errors == []
        page.goto((out / "report.html").as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("document.querySelectorAll('meta[http-equiv=refresh]').length") == 0
        assert "completed" in page.inner_text("main")
        assert errors == []
        chromium.close()
