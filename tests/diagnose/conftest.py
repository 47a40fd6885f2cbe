"""Models trainlab did not build, written as users write them, and SPEC.py files for them."""

import textwrap

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from trainlab.diagnostics import flatten_params
from user_specs import MLP_SPEC


@pytest.fixture(autouse=True)
def _single_thread():
    """One intra-op thread: the tiny models here only lose time to OpenMP spinning."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Residual(nn.Module):
    """conv-BN-ReLU-conv-BN plus the identity, then ReLU."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(h)))


class SmallResNet(nn.Module):
    """A CNN with BatchNorm and one residual block on 1 x 6 x 6 images, 3 classes."""

    def __init__(self, ch: int = 3):
        super().__init__()
        self.stem = nn.Conv2d(1, ch, 3, padding=1)
        self.bn = nn.BatchNorm2d(ch)
        self.block = Residual(ch)
        self.head = nn.Linear(ch, 3)

    def forward(self, x):
        h = self.block(F.relu(self.bn(self.stem(x))))
        return self.head(h.mean((2, 3)))


def resnet(seed: int = 0) -> nn.Module:
    """`SmallResNet` with non-trivial BatchNorm statistics (a few training-mode passes)."""
    torch.manual_seed(seed)
    net = SmallResNet()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, 1, 6, 6) * 2 + 0.5)
    return net


def dropout_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Dropout(0.5), nn.Linear(12, 3))


def images(n: int = 40, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 6, 6, generator=g)
    return x, (x.mean((1, 2, 3)) > 0).long() + (x[:, 0, 0, 0] > 0).long()


def vectors(n: int = 60, d: int = 5, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def huber_mean(out, y):
    """A custom loss: Huber distance of the softmax to the one-hot target."""
    target = F.one_hot(y, out.shape[1]).to(out.dtype)
    return F.huber_loss(torch.softmax(out, 1), target, delta=0.1)


@pytest.fixture
def write_spec(tmp_path):
    """Write a SPEC.py (body dedented) and return its path."""

    def write(body: str, name: str = "spec.py"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(body))
        return path

    return write


@pytest.fixture
def trajectory(tmp_path):
    """Save ``dropout_mlp(i)``'s state dict as ``names[i]`` in a fresh folder; return the
    folder and the saved flat parameters, one float64 row (P,) per checkpoint."""

    def write(names: list[str]):
        folder = tmp_path / "traj"
        folder.mkdir()
        rows = []
        for step, name in enumerate(names):
            net = dropout_mlp(step)
            torch.save(net.state_dict(), folder / name)
            rows.append(flatten_params(net).double().numpy())
        return folder, np.stack(rows)

    return write


@pytest.fixture
def zoo():
    """The factories above, for tests (conftest modules are not importable by name)."""
    return {"resnet": resnet, "dropout_mlp": dropout_mlp, "images": images,
            "vectors": vectors, "huber_mean": huber_mean, "mlp_spec": MLP_SPEC}
