"""The surface report in headless Chromium: no request leaves the machine, no console
error, both 3-D views drawn (a WebGL scene with its canvas). Screenshot to test-artifacts/."""

import shutil
from pathlib import Path

from optional_deps import missing, require
from trainlab.runner import execute

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DRAWN = """Array.from(document.querySelectorAll('.surface3d')).map(el => {
  const c = el.querySelector('canvas');
  return {id: el.id, scene: !!(el._fullLayout && el._fullLayout.scene),
          traces: el._fullData ? el._fullData.length : 0,
          canvas: c ? c.width * c.height : 0};
})"""


def _sync_playwright():
    if not Path(CHROMIUM).exists():
        missing("chromium is not installed (make test installs Debian's chromium)")
    require("plotly")
    return require("playwright.sync_api").sync_playwright


def test_surface_report_draws_offline_in_chromium(tmp_path):
    sync_playwright = _sync_playwright()
    out = execute("surface", preset="smoke", runs_dir=tmp_path / "runs", progress=False,
                  quiet=True, sets={"functions": {"enabled": False}})
    assert out.state == "completed", out.reason
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, outside = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith(("file:", "data:", "blob:")) else None)
        page.goto((out.path / "report.html").as_uri())
        page.wait_for_load_state("load")
        page.wait_for_function("document.querySelectorAll('.surface3d canvas').length >= 2",
                               timeout=20_000)
        views = page.evaluate(DRAWN)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "surface-1280.png"), full_page=True)
        browser.close()
    assert outside == [], f"requests that left the machine: {outside}"
    assert errors == [], f"console errors: {errors}"
    assert [v["id"] for v in views] == ["surface3d-random", "surface3d-pca"]
    for v in views:
        assert v["scene"] and v["traces"] >= 1 and v["canvas"] > 0, v
