"""docs/api.md and docs/experiments/*.md equal what the code generates
(regenerate with `python -m trainlab.docs`)."""

from pathlib import Path

from trainlab.docs import generated_files
from trainlab.registry import all_experiments

ROOT = Path(__file__).resolve().parents[1]


def test_generated_docs_are_up_to_date():
    stale = [str(p.relative_to(ROOT)) for p, text in generated_files(ROOT).items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run `python -m trainlab.docs` to regenerate: {stale}"


def test_every_experiment_has_a_page_with_question_and_guide():
    for exp in all_experiments():
        text = (ROOT / "docs" / "experiments" / f"{exp.id}.md").read_text()
        assert "## Configuration" in text and "## Presets" in text
        assert exp.question and exp.what_to_look_at, exp.id
