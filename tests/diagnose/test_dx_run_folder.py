"""A diagnose run folder afterwards: `trainlab resume` refuses it in one line, and the
notebook view of its `Run` shows diagnose's headline numbers."""

import json

import torch
from torch import nn

import trainlab
from trainlab.cli import main


def _run(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x, y = torch.randn(24, 3), torch.randint(0, 2, (24,))
    return trainlab.diagnose(model, (x, y), only=["hessian", "trace"], preset="smoke",
                             out=tmp_path / "dx", progress=False)


def test_resume_refuses_a_diagnose_folder_in_one_line(tmp_path, capsys):
    run = _run(tmp_path)
    before = {p.name: p.read_bytes() for p in run.dir.iterdir() if p.is_file()}
    # an interrupted diagnose run too: the refusal does not depend on the state
    status = json.loads((run.dir / "status.json").read_text())
    (run.dir / "status.json").write_text(json.dumps({**status, "state": "running"}))
    before["status.json"] = (run.dir / "status.json").read_bytes()
    code = main(["resume", str(run.dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "diagnose run cannot be resumed" in err
    assert "unknown experiment" not in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in run.dir.iterdir() if p.is_file()} == before


def test_repr_html_shows_the_diagnose_headline(tmp_path):
    run = _run(tmp_path)
    html = run._repr_html_()
    s = run.summary
    assert "hessian_top" in html and "hessian_trace.value" in html and "params" in html
    assert "train_loss" not in html  # a top-level scalar that is not a headline number
    assert f"{s['hessian_trace']['value']:.4g}" in html


def test_unknown_lanczos_rule_is_bad_input(tmp_path):
    import pytest

    from trainlab.errors import BadInput

    model = nn.Linear(3, 2)
    with pytest.raises(BadInput, match="lanczos_rule"):
        trainlab.diagnose(model, (torch.randn(8, 3), torch.randint(0, 2, (8,))),
                          lanczos_rule="power", out=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()
