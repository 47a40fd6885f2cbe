"""Bad input to `trainlab diagnose`: exit 2, one line naming the problem, nothing written."""

import torch
from torch import nn

from trainlab.cli import main

GOOD_MODEL = """
import torch
from torch import nn
def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
"""
GOOD_DATA = """
def data():
    x = torch.randn(20, 4)
    return x, (x[:, 0] > 0).long()
"""


class NotAStateDict:
    """Anything torch.load(weights_only=True) must refuse to unpickle."""

    def __init__(self):
        self.weights = torch.zeros(3)


def _cases(tmp, write_spec):
    good = write_spec(GOOD_MODEL + GOOD_DATA, "good.py")
    yield "missing-spec", [str(tmp / "nope.py")], "no such spec"
    yield "no-model", [str(write_spec("import torch\n" + GOOD_DATA, "a.py"))], "model()"
    yield "no-data", [str(write_spec(GOOD_MODEL, "b.py"))], "data()"
    yield "raises-on-import", [str(write_spec("raise RuntimeError('boom')", "c.py"))], "boom"
    yield "model-raises", [str(write_spec(GOOD_MODEL.replace("torch.manual_seed(0)",
                                                             "1 / 0") + GOOD_DATA, "d.py"))], \
        "ZeroDivisionError"
    yield "not-a-module", [str(write_spec("def model():\n    return 3\n" + "import torch\n"
                                          + GOOD_DATA, "e.py"))], "not an nn.Module"
    yield "lengths-differ", [str(write_spec(GOOD_MODEL + GOOD_DATA.replace(
        "(x[:, 0] > 0).long()", "(x[:5, 0] > 0).long()"), "f.py"))], "same length"
    yield "wrong-input-shape", [str(write_spec(GOOD_MODEL + GOOD_DATA.replace(
        "torch.randn(20, 4)", "torch.randn(20, 7)"), "g.py"))], "model(x) fails"
    yield "non-scalar-loss", [str(write_spec(GOOD_MODEL + GOOD_DATA + """
def loss(out, y):
    return torch.nn.functional.cross_entropy(out, y, reduction="none")
""", "h.py"))], "not a scalar"
    yield "unknown-loss", [str(write_spec(GOOD_MODEL + GOOD_DATA + "loss = 'hinge'\n",
                                          "i.py"))], "hinge"
    ref = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    state = ref.state_dict()
    torch.save({k.replace("2.", "9."): v for k, v in state.items()}, tmp / "keys.pt")
    yield "checkpoint-keys", [str(good), "--checkpoint", str(tmp / "keys.pt")], "'2.weight'"
    torch.save({**state, "0.weight": torch.zeros(8, 5)}, tmp / "shape.pt")
    yield "checkpoint-shape", [str(good), "--checkpoint", str(tmp / "shape.pt")], "'0.weight'"
    torch.save({**state, "extra": torch.zeros(1)}, tmp / "extra.pt")
    yield "checkpoint-extra", [str(good), "--compare", str(tmp / "extra.pt")], "'extra'"
    torch.save(NotAStateDict(), tmp / "pickle.pt")
    yield "checkpoint-pickle", [str(good), "--checkpoint", str(tmp / "pickle.pt")], \
        "unpickling"
    (tmp / "garbage.pt").write_bytes(b"not a checkpoint")
    yield "checkpoint-garbage", [str(good), "--checkpoint", str(tmp / "garbage.pt")], \
        "not a readable"
    yield "only-unknown", [str(good), "--only", "hessian,nosuch"], "nosuch"
    yield "only-needs-compare", [str(good), "--only", "interpolation"], "--compare"
    (tmp / "traj").mkdir()
    torch.save(state, tmp / "traj" / "1.pt")
    yield "trajectory-short", [str(good), "--trajectory", str(tmp / "traj")], "at least 3"
    yield "bad-setting", [str(good), "--set", "top_k=0"], "top_k"
    yield "dense-too-big", [str(good), "--only", "minimal_ratio", "--set",
                            "dense_max_params=10"], "dense limit"


def test_every_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, write_spec,
                                                                 capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    seen = []
    for name, argv, fragment in _cases(tmp_path, write_spec):
        code = main(["diagnose", *argv, "--preset", "smoke", "--runs-dir", str(runs)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, (name, err)
        assert len(err) == 1 and fragment.lower() in err[0].lower(), (name, err)
        assert not runs.exists() or not any(runs.rglob("*")), (name, list(runs.rglob("*")))
        seen.append(name)
    assert len(seen) == 20
