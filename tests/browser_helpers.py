"""Headless Chromium for the report tests: where the browser is, its flags, one page whose
console errors are collected. Needs Debian's chromium and the playwright package (a missing
one skips on a workstation and fails under CI, through optional_deps)."""

import shutil
from pathlib import Path

from optional_deps import missing, require

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# no sandbox (containers), no GPU, and nothing that would reach the network on its own
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser():
    """playwright's ``sync_playwright``, once Chromium and playwright are known to be there."""
    if not Path(CHROMIUM).exists():
        missing("chromium is not installed (make test installs Debian's chromium)")
    return require("playwright.sync_api").sync_playwright


def open_page(p, width=1280, height=900):
    """Launch Chromium from playwright ``p``; return (browser, page, errors), where
    ``errors`` fills with the page's console errors and uncaught exceptions."""
    chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    page = chromium.new_page(viewport={"width": width, "height": height})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return chromium, page, errors
