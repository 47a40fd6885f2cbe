"""Model selection by k-fold cross-validation with every candidate × fold in one ensemble.

A candidate is one (width, learning rate, L2 λ) triple. Member ``c·k + f`` of the
ensemble trains candidate ``c`` on all folds but ``f`` and validates on fold ``f``.
Widths differ between candidates although an ensemble has one architecture: every
member has the widest hidden layer and `WidthMask` keeps the units a narrower candidate
does not have at zero (their gradients are masked before each step: input weights, biases
and output weights), so
the member computes exactly the narrower network. `BestEpoch` is early stopping per
member: it keeps each member's parameters at its lowest validation loss, and ends the
training once no member has improved for ``patience`` epochs.

Also the data side of a selection: `equal_folds` (folds of one length, for per-member
tensors), `standardised` (the z-scored splits, `CVData`) and `score_candidates` (each
candidate's cross-validated statistics and the choice).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from trainlab.data import kfold_indices
from trainlab.errors import BadInput
from trainlab.train import Split


def candidate_grid(widths: Sequence[int], lrs: Sequence[float],
                   l2s: Sequence[float]) -> list[dict]:
    """Every (width, lr, l2) combination, widths slowest: a list of dicts."""
    return [{"width": int(w), "lr": float(lr), "l2": float(l2)}
            for w, lr, l2 in itertools.product(widths, lrs, l2s)]


class WidthMask:
    """Keeps hidden units ``j >= width[e]`` of member ``e`` at zero (one hidden layer).

    ``model`` is a 1-hidden-layer MLP ensemble whose parameters are, in order, the
    hidden weight ``(E, W, D)``, hidden bias ``(E, W)``, output weight ``(E, O, W)`` and
    output bias ``(E, O)``. ``widths``: ``(E,)`` ints, each ``<= W``.
    """

    def __init__(self, model: torch.nn.Module, widths: Sequence[int]):
        params = list(model.parameters())
        hidden_w = params[0]
        E, W = hidden_w.shape[0], hidden_w.shape[1]
        keep = torch.arange(W, device=hidden_w.device).unsqueeze(0) < torch.as_tensor(
            list(widths), device=hidden_w.device).unsqueeze(1)
        keep = keep.to(hidden_w.dtype)  # (E, W)
        self._pairs = [(params[0], keep.reshape(E, W, 1)), (params[1], keep),
                       (params[2], keep.reshape(E, 1, W))]
        self.apply()

    def apply(self) -> None:
        """Zero the masked units now."""
        with torch.no_grad():
            for p, m in self._pairs:
                p.mul_(m)

    def on_step(self, step: int, model, losses) -> None:
        # Called between backward and the optimizer step: with zero gradients the masked
        # entries stay exactly zero under SGD, momentum and Adam (whose moments stay 0),
        # and an L2 term adds no gradient at zero.
        with torch.no_grad():
            for p, m in self._pairs:
                if p.grad is not None:
                    p.grad.mul_(m)


class BestEpoch:
    """Early stopping per member on a per-member validation loss.

    Reads ``history.values["val/loss"]`` after each evaluation; keeps every member's
    parameters at its lowest validation loss so far (`restore` puts them back) and asks
    the loop to stop once no member improved for ``patience`` epochs.
    """

    def __init__(self, model: torch.nn.Module, patience: int, split: str = "val"):
        self.params = list(model.parameters())
        self.patience, self.key = int(patience), f"{split}/loss"
        E = self.params[0].shape[0]
        self.best = torch.full((E,), float("inf"), dtype=torch.float64)
        self.best_epoch = torch.zeros(E, dtype=torch.long)
        self.saved = [p.detach().clone() for p in self.params]
        self.last_improved = 0

    def on_epoch_end(self, epoch: int, model, history) -> bool:
        if not history.epochs or history.epochs[-1] != epoch or self.key not in history.values:
            return False
        val = torch.as_tensor(history.values[self.key][-1], dtype=torch.float64)
        better = torch.isfinite(val) & (val < self.best)
        if bool(better.any()):
            self.best = torch.where(better, val, self.best)
            self.best_epoch[better] = epoch
            self.last_improved = epoch
            dev = self.params[0].device
            mask = better.to(dev)
            with torch.no_grad():
                for s, p in zip(self.saved, self.params, strict=True):
                    s[mask] = p.detach()[mask]
        return epoch - self.last_improved >= self.patience

    def restore(self) -> None:
        """Put every member's best parameters back into the model."""
        with torch.no_grad():
            for s, p in zip(self.saved, self.params, strict=True):
                p.copy_(s)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "saved": self.saved,
                "last_improved": self.last_improved}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.last_improved = int(state["last_improved"])
        with torch.no_grad():
            for s, v in zip(self.saved, state["saved"], strict=True):
                s.copy_(v)


class FoldReport:
    """Reports each fold of the one-ensemble cross-validation as it finishes.

    All candidates × folds train at once, so a fold has no moment of its own; it is
    finished when no member of it (its C candidates, members ``c·k + f``) improved its
    validation loss for ``patience`` epochs, or at the last epoch — the per-fold form of
    `BestEpoch`'s stopping rule, so when the whole ensemble stops every unfinished fold
    finishes too. ``report(row)`` gets one row per finished fold, in the order they
    finish (folds finishing together: by fold number), with ``step`` = folds finished so
    far and the running CV score ``val_loss_mean``: the lowest mean over the candidates
    of their best validation losses on the finished folds (× ``scale``: original
    units). A finished fold's members still train with the others and may still improve,
    so an earlier row is the score the folds had when they would have stopped alone; the
    last row's is the run's final CV score. A sweep's pruner watching
    ``cv/val_loss_mean`` may end the run at any row; the training of a plain run is
    unchanged (the report reads, never writes, the model).
    Must come after ``best`` in the callbacks (it reads the epoch's update).
    """

    def __init__(self, best: BestEpoch, candidates: int, folds: int, epochs: int,
                 scale: float, report):
        self.best, self.C, self.k = best, int(candidates), int(folds)
        self.epochs, self.scale, self.report = int(epochs), float(scale), report
        self.done: list[int] = []

    def _score(self) -> float:
        """Running CV score over the finished folds (inf when every candidate diverged)."""
        best = self.best.best.reshape(self.C, self.k)[:, self.done].double()
        means = best.mean(1) * self.scale  # (C,) inf where a member never had a finite loss
        return float(means.min())

    def finish(self, folds: list[int], epoch: int) -> None:
        """Mark `folds` finished at `epoch` and report them one by one."""
        for f in folds:
            if f in self.done:
                continue
            self.done.append(f)
            self.report({"fit": "cv", "step": len(self.done), "split": "cv",
                         "model": f"fold{f}", "fold": f, "finished_epoch": int(epoch),
                         "val_loss_mean": self._score()})

    def on_epoch_end(self, epoch: int, model, history) -> bool:
        if epoch < self.epochs and history.epochs[-1:] != [epoch]:
            return False  # `best` only learns at evaluations: so does a fold's end
        last = self.best.best_epoch.reshape(self.C, self.k).max(0).values  # (k,)
        over = epoch >= self.epochs or epoch - self.best.last_improved >= self.best.patience
        ready = [f for f in range(self.k)
                 if over or epoch - int(last[f]) >= self.best.patience]
        self.finish(ready, epoch)
        return False


def equal_folds(n: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Train (k, n − ⌈n/k⌉) and validation (k, ⌊n/k⌋) indices of k shuffled folds."""
    folds = kfold_indices(n, k, seed)
    n_val, n_train = n // k, n - -(-n // k)
    return (torch.stack([tr[:n_train] for tr, _ in folds]),
            torch.stack([va[:n_val] for _, va in folds]))


@dataclass
class CVData:
    """The standardised tensors of a run and the scales that undo the standardisation."""

    train: Split
    val: Split
    test: Split
    gap: Split | None
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_mean: float
    x_std: float
    y_mean: float
    y_std: float


def standardised(train_t, test_t, gap, tr_idx, va_idx, copies: int, dev) -> CVData:
    """z-scores with the training file's mean and std; fold rows repeated per candidate."""
    xm, xs = float(train_t.x[:, 0].mean()), float(train_t.x[:, 0].std())
    ym, ys = float(train_t.y.mean()), float(train_t.y.std()) or 1.0

    def z(values: np.ndarray, mean: float, std: float) -> torch.Tensor:
        return torch.tensor((values - mean) / std, dtype=torch.float32).reshape(-1, 1)

    x_all, y_all = z(train_t.x[:, 0], xm, xs), z(train_t.y, ym, ys)
    x_test, y_test = z(test_t.x[:, 0], xm, xs).to(dev), z(test_t.y, ym, ys).to(dev)
    tr, va = tr_idx.repeat(copies, 1), va_idx.repeat(copies, 1)
    in_gap = (test_t.x[:, 0] >= gap[0]) & (test_t.x[:, 0] <= gap[1])
    gap_split = None
    if in_gap.any():
        sel = torch.as_tensor(in_gap, device=dev)
        gap_split = Split(x_test[sel], y_test[sel])
    return CVData(Split(x_all[tr].to(dev), y_all[tr].to(dev), per_member=True),
                 Split(x_all[va].to(dev), y_all[va].to(dev), per_member=True),
                 Split(x_test, y_test), gap_split, x_test, y_test, xm, xs, ym, ys)


def score_candidates(cands: list[dict], k: int, val: np.ndarray, epochs: np.ndarray,
           diverged: np.ndarray) -> int:
    """Fill each candidate's CV statistics (original units); return the chosen index."""
    for c, cand in enumerate(cands):
        v, bad = val[c * k:(c + 1) * k], diverged[c * k:(c + 1) * k]
        cand.update({"cv_val_loss_mean": float(v.mean()) if not bad.any() else float("inf"),
                     "cv_val_loss_std": float(v.std()) if not bad.any() else float("nan"),
                     "best_epoch_mean": float(epochs[c * k:(c + 1) * k].mean()),
                     "diverged_folds": int(bad.sum())})
    scores = [c["cv_val_loss_mean"] for c in cands]
    if not np.isfinite(min(scores)):
        raise BadInput("every candidate diverged on some fold: give smaller learning rates "
                       "(config key 'lrs')")
    return int(np.argmin(scores))
