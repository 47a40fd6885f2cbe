"""The README's table of experiments is the registry's (regenerate with
`python -m trainlab.docs`, which rewrites every generated file)."""

from pathlib import Path

import pytest

from trainlab.docs import README_END, README_START, experiments_markdown, readme_with_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_table_matches_registry():
    text = README.read_text(encoding="utf-8")
    start = text.index(README_START) + len(README_START)
    end = text.index(README_END)
    assert text[start:end].strip() == experiments_markdown().strip(), (
        "README experiments table is stale: run `python -m trainlab.docs`")


def test_only_the_table_between_the_markers_is_rewritten():
    text = f"intro\n{README_START}\nold rows\n{README_END}\noutro\n"
    assert readme_with_table(text) == (
        f"intro\n{README_START}\n{experiments_markdown()}\n{README_END}\noutro\n")
    assert "| `polyfit` | basics |" in experiments_markdown()
    with pytest.raises(ValueError, match="markers"):
        readme_with_table("no markers here")
