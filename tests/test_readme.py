"""The README's table of experiments is the registry's (regenerate with
`trainlab list --markdown`)."""

from pathlib import Path

from trainlab.cli import experiments_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_table_matches_registry():
    text = README.read_text()
    start = text.index("<!-- experiments:start -->") + len("<!-- experiments:start -->")
    end = text.index("<!-- experiments:end -->")
    assert text[start:end].strip() == experiments_markdown().strip(), (
        "README experiments table is stale: run `python tools/update_readme.py`")
