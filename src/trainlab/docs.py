"""Generated documentation: `docs/api.md`, one page per experiment, the README's table.

All are built from the code (docstrings, the registry, config field help), so they
cannot drift: `python -m trainlab.docs [ROOT]` rewrites them (ROOT: the repository, by
default the current folder) and tests check that the committed files equal what this
module generates.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path

from trainlab.config import PRESETS, describe_fields
from trainlab.registry import all_experiments

README_START, README_END = "<!-- experiments:start -->", "<!-- experiments:end -->"

API = [
    ("trainlab.api", ["run", "diagnose", "load", "list_experiments", "sweep", "Run"]),
    ("trainlab.models", ["Ensemble", "mlp", "mlp_spec", "pytorch_examples_cnn_spec",
                         "small_cnn_spec", "size_to_budget", "mlp_param_count"]),
    ("trainlab.train", ["fit", "Split", "History", "FitResult", "evaluate"]),
    ("trainlab.callbacks", ["Callback"]),
    ("trainlab.train_state", ["TrainState"]),
    ("trainlab.optim", ["OptimSpec", "OptimInfo", "make_optimizer", "schedule"]),
    ("trainlab.losses", ["member_loss", "member_accuracy", "member_penalty", "Penalty"]),
    ("trainlab.data", None),
    ("trainlab.diagnostics", None),
    ("trainlab.numpy_nn", None),
    ("trainlab.report", ["Report", "Text", "Table", "Pre", "Figure", "Block", "to_markdown",
                         "to_html", "save_report"]),
    ("trainlab.run_context", ["RunContext"]),
]


def _first_paragraph(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").strip()


def api_markdown() -> str:
    """docs/api.md: every public function and class with its signature and docstring."""
    out = ["# Python API", "", "Generated from the docstrings by `python -m trainlab.docs`; "
           "do not edit by hand.", ""]
    for module_name, names in API:
        module = importlib.import_module(module_name)
        names = names or list(getattr(module, "__all__", []))
        out += [f"## `{module_name}`", "", _first_paragraph(module.__doc__).split("\n\n")[0], ""]
        for name in names:
            obj = getattr(module, name, None)
            if obj is None or not callable(obj):
                continue
            try:
                sig = str(inspect.signature(obj))
            except (TypeError, ValueError):
                sig = "(...)"
            kind = "class" if inspect.isclass(obj) else "def"
            out += [f"### `{name}`", "", f"```python\n{kind} {name}{sig}\n```", "",
                    _first_paragraph(obj.__doc__) or "(no docstring)", ""]
    return "\n".join(out).rstrip() + "\n"


def experiment_markdown(exp) -> str:
    """docs/experiments/<id>.md: question, setting, figures, expected outcome, references."""
    out = [f"# `{exp.id}`", "", f"*{exp.purpose}.*", "", f"Chapter: {exp.chapter}. Run it with "
           f"`trainlab run {exp.id}` (full preset) or `--preset quick` / `--preset smoke`.", ""]
    if exp.question:
        out += ["## The question", "", exp.question.strip(), ""]
    module_doc = _first_paragraph(sys.modules[exp.run.__module__].__doc__)
    if module_doc:
        out += ["## The setting", "", module_doc, ""]
    if exp.what_to_look_at:
        out += ["## How to read the figures — what to look at", "", exp.what_to_look_at.strip(),
                ""]
    if exp.headline:
        out += ["Headline numbers of the summary: " + ", ".join(f"`{k}`" for k in exp.headline)
                + ".", ""]
    out += ["## Configuration", "", "| key | type | default | meaning |", "|---|---|---|---|"]
    for row in describe_fields(exp.config):
        default = json.dumps(row["default"]).replace("|", "\\|")
        kind = row["type"].replace("|", "or") + (f" ({row['range']})" if row["range"] else "")
        out.append(f"| `{row['key']}` | {kind} | `{default}` | {row['help']} |")
    out += ["", "## Presets", ""]
    for name in PRESETS:
        over = exp.presets.get(name, {})
        text = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in over.items()) or "the defaults"
        out.append(f"- `{name}`: {text}")
    if exp.references:
        out += ["", "## References", ""] + [f"- {r}" for r in exp.references]
    return "\n".join(out).rstrip() + "\n"


def experiments_markdown() -> str:
    """The README's table of experiments (`trainlab list --markdown`)."""
    lines = ["| id | chapter | what it does |", "|---|---|---|"]
    lines += [f"| `{e.id}` | {e.chapter} | {e.purpose} |" for e in all_experiments()
              if e.run.__module__.startswith("trainlab.experiments.")]
    return "\n".join(lines)


def readme_with_table(text: str) -> str:
    """`text` (the README) with the table between its experiments markers regenerated."""
    if README_START not in text or README_END not in text:
        raise ValueError(f"README.md lacks the markers {README_START} ... {README_END}")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n{experiments_markdown()}\n{README_END}{tail}"


def generated_files(root: Path) -> dict[Path, str]:
    """Every generated documentation file and its content (the README as a whole)."""
    files = {root / "docs" / "api.md": api_markdown()}
    for exp in all_experiments():
        if exp.run.__module__.startswith("trainlab.experiments."):
            files[root / "docs" / "experiments" / f"{exp.id}.md"] = experiment_markdown(exp)
    readme = root / "README.md"
    files[readme] = readme_with_table(readme.read_text(encoding="utf-8"))
    return files


def main() -> None:
    """`python -m trainlab.docs [ROOT]`: rewrite every generated file, print the changed ones."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for path, text in generated_files(root).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
