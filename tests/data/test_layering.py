"""trainlab.data is the ground floor: it imports only trainlab.errors from trainlab."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import trainlab.data

DATA_DIR = Path(trainlab.data.__file__).parent
ALLOWED_TOP_LEVEL = {"trainlab", "numpy", "torch"}
LAZY_ONLY = {"sklearn", "mlxtend", "scipy"}


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module


def test_data_imports_only_errors_from_trainlab():
    for path in sorted(DATA_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for _, module in _imports(tree):
            if module.split(".")[0] == "trainlab":
                ok = module == "trainlab.errors" or module.startswith("trainlab.data")
                assert ok, f"{path.name} imports {module}"


def test_optional_packages_are_imported_lazily():
    for path in sorted(DATA_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                    node.module or ""
                ]
                for name in names:
                    assert name.split(".")[0] not in LAZY_ONLY, f"{path.name}: {name}"


def test_importing_data_pulls_in_no_optional_package():
    code = (
        "import sys, trainlab.data; "
        "bad = [m for m in ('sklearn', 'mlxtend', 'scipy', 'matplotlib') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
