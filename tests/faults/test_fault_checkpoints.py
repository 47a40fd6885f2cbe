"""A completed run keeps what the user needs, not what only resume needs.

By default the `.prev.pt` copies go and each training checkpoint loses its optimizer
state (the trained model stays); `--keep-checkpoints` keeps everything as it was.
An interrupted run keeps everything, since resume needs it.
"""

import pytest
import torch

from trainlab.cli import main


def _checkpoints(run):
    return {p.name: torch.load(p, weights_only=True)
            for p in sorted((run / "checkpoints").glob("*.pt"))}


@pytest.mark.parametrize("keep", [False, True])
def test_completed_runs_trim_their_checkpoints_unless_asked(tmp_path, keep):
    run = tmp_path / "run"
    argv = ["run", "polyfit", "--preset", "smoke", "--out", str(run)]
    assert main(argv + (["--keep-checkpoints"] if keep else [])) == 0
    saved = _checkpoints(run)
    assert "sgd.pt" in saved and "model" in saved["sgd.pt"]
    assert any(name.endswith(".prev.pt") for name in saved) == keep
    assert ("optimizer" in saved["sgd.pt"]) == keep
