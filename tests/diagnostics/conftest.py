"""Tiny networks and data shared by the diagnostics oracle tests (float64 for exactness)."""

import pytest
import torch
from torch import nn


def tiny_mlp(widths=(4, 16, 12, 1), act=nn.Tanh, seed=0, dtype=torch.float64) -> nn.Sequential:
    """An MLP with the given widths; (4, 16, 12, 1) has 297 parameters."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers).to(dtype)


@pytest.fixture(autouse=True)
def _single_thread():
    """Run each test on one intra-op thread: on a 2-core machine shared with other jobs,
    OpenMP's spinning threads make the tiny matmuls here 10-100x slower, not faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mlp():
    return tiny_mlp()


@pytest.fixture
def make_mlp():
    """The `tiny_mlp` factory, for tests that need other widths or dtypes."""
    return tiny_mlp


@pytest.fixture
def regression_data():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(64, 1, generator=gen, dtype=torch.float64)
    return x, y


@pytest.fixture
def classifier():
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 5)).double().eval()
