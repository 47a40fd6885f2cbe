"""The layering of docs/DESIGN.md §7: no module imports from a layer above it."""

import ast
from pathlib import Path

import trainlab

ROOT = Path(trainlab.__file__).parent

LAYERS = {  # module (first component under trainlab) -> layer, 1 = top
    "__init__": 1, "__main__": 1, "cli": 1, "api": 1, "suite": 1, "suite_workers": 1, "docs": 1,
    "experiments": 2,
    "train": 3, "train_state": 3, "sweeps": 3, "report": 3, "runner": 3, "run_env": 3,
    "diagnosis": 3, "run_context": 3, "runs": 3, "replicates": 3, "live": 3, "watch": 1,
    "replicate_report": 3, "compare": 3,
    "run_folder": 4, "run_lock": 4,
    "data": 5, "models": 5, "ensemble_layers": 5, "optim": 5, "ensemble_optim": 5, "losses": 5,
    "engine": 5, "callbacks": 5, "history": 5, "diagnostics": 5,
    "numpy_nn": 5,
    "config": 5, "registry": 5, "errors": 5, "progress": 5, "stats": 5, "claims": 5,
}


def _component(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _trainlab_imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "trainlab" and len(parts) > 1:
                yield parts[1]
            elif parts[0] == "trainlab" and isinstance(node, ast.ImportFrom):
                yield from (a.name for a in node.names)


def test_every_module_has_a_layer():
    missing = {_component(p) for p in ROOT.rglob("*.py")} - set(LAYERS)
    assert not missing, f"add these to LAYERS (and docs/DESIGN.md §7): {missing}"


def test_no_module_imports_from_a_layer_above():
    violations = []
    for path in ROOT.rglob("*.py"):
        me = _component(path)
        for target in _trainlab_imports(ast.parse(path.read_text())):
            if target in LAYERS and LAYERS[target] < LAYERS[me]:
                violations.append(f"{path.relative_to(ROOT)} imports trainlab.{target}")
    assert not violations, violations


def test_only_the_registry_imports_experiments_by_name():
    # DESIGN §7: the one upward edge is the registry's discovery by the naming rule;
    # docs.py imports the (lower) modules whose API it documents.
    callers = set()
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "import_module":
                callers.add(str(path.relative_to(ROOT)))
    assert callers == {"registry.py", "docs.py"}, callers
