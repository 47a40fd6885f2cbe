"""SPEC.py bodies as a user writes them, shared by the tests that need one (`trainlab
diagnose --spec`, the README's commands): a small MLP on a three-class table."""

# model(): a 4-8-3 tanh MLP; data(): 60 training and 30 test rows, class = how many of the
# first two inputs are positive
MLP_SPEC = """\
import torch
from torch import nn


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(90, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return {"train": (x[:60], y[:60]), "test": (x[60:], y[60:])}
"""
