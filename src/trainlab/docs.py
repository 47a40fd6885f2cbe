"""Generated documentation: `docs/api.md` and one page per experiment.

Both are built from the code (docstrings, the registry, config field help), so they
cannot drift: `python -m trainlab.docs` rewrites them and a test checks that the
committed files equal what this module generates.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path

from trainlab.config import PRESETS, describe_fields
from trainlab.registry import all_experiments

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
        out.append(f"| `{row['key']}` | {row['type'].replace('|', 'or')} | `{default}` | "
                   f"{row['help']} |")
    out += ["", "## Presets", ""]
    for name in PRESETS:
        over = exp.presets.get(name, {})
        text = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in over.items()) or "the defaults"
        out.append(f"- `{name}`: {text}")
    if exp.references:
        out += ["", "## References", ""] + [f"- {r}" for r in exp.references]
    return "\n".join(out).rstrip() + "\n"


def generated_files(root: Path) -> dict[Path, str]:
    """Every generated documentation file and its content."""
    files = {root / "docs" / "api.md": api_markdown()}
    for exp in all_experiments():
        files[root / "docs" / "experiments" / f"{exp.id}.md"] = experiment_markdown(exp)
    return files


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for path, text in generated_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
