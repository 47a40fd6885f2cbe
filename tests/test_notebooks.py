"""The notebooks of examples/ run top to bottom in a Jupyter kernel and are kept without outputs."""

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell: generous for a loaded CI machine


def test_the_four_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == [
        "01-tour.ipynb", "02-custom-experiment.ipynb", "03-sweep.ipynb", "04-diagnose.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """The environment the kernel inherits: headless plots, temporary files in tmp_path.

    MPLBACKEND=Agg holds for every process the notebooks start; the kernel itself is
    started with `--matplotlib=inline`, as Jupyter does, so its figures become outputs.
    """
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' tempfile.mkdtemp() runs
    # Tiny models gain nothing from intra-op threads, and on a busy machine two threads
    # per process wait on each other: one thread keeps the timing steady.
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    monkeypatch.setenv("TRAINLAB_THREADS", os.environ.get("TRAINLAB_THREADS", "1"))
    return tmp_path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT, allow_errors=False,
                            extra_arguments=["--matplotlib=inline"],
                            resources={"metadata": {"path": str(kernel_env)}})
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError at the first cell that fails
    seconds = time.perf_counter() - started
    print(f"{path.name}: {seconds:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors
    for cell in nb.cells:
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), (
                f"{path.name} cell {cell.id}: the figure was not shown")
    if not path.name.startswith("02-"):  # 02 composes blocks in memory, without a run
        assert list(kernel_env.iterdir()), "the notebook wrote no run folder under its temp dir"
