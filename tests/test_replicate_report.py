"""The top report of replicates that ran one after another shows the first replicate's
own figures (copied, byte for byte, from its folder)."""

import re

from trainlab.runner import execute


def test_top_report_shows_the_first_replicates_figures(tmp_path):
    out = execute("linreg", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True,
                  seed=7, seeds=2)
    run = out.path
    sub = run / "replicates" / "seed-7"
    own = sorted(p.stem for p in (sub / "figures").glob("*.png"))
    assert own, "the replicate drew no figure"
    text = (run / "report.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\(figures/(seed-7-[^)]+)\.png\)", text)
    assert sorted(shown) == [f"seed-7-{name}" for name in own]
    for name in own:
        copy = run / "figures" / f"seed-7-{name}.png"
        assert copy.read_bytes() == (sub / "figures" / f"{name}.png").read_bytes()
    assert "seed-8-" not in text  # the other replicates stay in their own reports
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "replicate seed 7" in html
