"""height-weight: smoke run learns above chance; N(0, 0.02²) initialisation; label check."""

import pytest
import torch

from trainlab.errors import BadInput
from trainlab.experiments.height_weight import build_model
from trainlab.runner import execute


def test_smoke_run_beats_chance_for_every_activation(tmp_path):
    out = execute("height-weight", preset="smoke", runs_dir=tmp_path, progress=False,
                  quiet=True)
    assert out.state == "completed"
    results = out.summary["results"]
    assert [r["activation"] for r in results] == ["sigmoid", "tanh", "relu"]
    for r in results:
        assert r["train_accuracy"] > 0.7 and r["test_accuracy"] > 0.7  # chance: 0.5


def test_init_std_gives_normal_weights_of_that_std():
    model = build_model(["relu"], [2000], seed=0, init_std=0.02)
    flat = model.flat_parameters()[0]
    assert flat.numel() == 2 * 2000 + 2000 + 2000 + 1
    assert flat.std().item() == pytest.approx(0.02, rel=0.03)
    assert abs(flat.mean().item()) < 0.002
    again = build_model(["relu"], [2000], seed=0, init_std=0.02)
    assert torch.equal(again.flat_parameters(), model.flat_parameters())  # seeded


def test_labels_must_be_zero_and_one(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("h,w,label\n170,70,0\n180,80,2\n160,60,0\n")
    with pytest.raises(BadInput, match="0 and 1"):
        execute("height-weight", preset="smoke", runs_dir=tmp_path / "runs", progress=False,
                quiet=True, sets={"data.path": str(csv)})
