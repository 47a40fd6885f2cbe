"""Regenerate the README's table of experiments from the registry."""

from pathlib import Path

from trainlab.cli import experiments_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- experiments:start -->", "<!-- experiments:end -->"

text = README.read_text()
head, rest = text.split(START, 1)
_, tail = rest.split(END, 1)
README.write_text(f"{head}{START}\n{experiments_markdown()}\n{END}{tail}")
print("README table updated")
