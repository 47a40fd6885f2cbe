"""The pytorch/examples MNIST CNN, one epoch on the 5k MNIST subset: DataLoader vs engine.

Baseline: `nn.Sequential` CNN, `DataLoader(batch_size=64, shuffle=True)`, Adadelta lr 1.0
(the pytorch/examples recipe), float32. trainlab: the same architecture as an `Ensemble`
with E=1 trained by `fit`, once in float32 and once with `precision="bf16"` (bfloat16
autocast, channels-last convolutions; weights and optimizer stay float32). All report
test accuracy after the epoch, images/s, and achieved FLOP/s as a fraction of this
machine's float32 matmul peak (measured here). The three alternate, best of
`--repeats` each, so a slow spell of a shared machine does not land on one side only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser  # noqa: E402

from trainlab.data import load_dataset  # noqa: E402
from trainlab.models import Ensemble, pytorch_examples_cnn_spec  # noqa: E402
from trainlab.optim import OptimSpec  # noqa: E402
from trainlab.train import Split, evaluate, fit  # noqa: E402

# multiply-adds x 2 per image, forward: conv1, conv2, fc1, fc2
FORWARD_FLOP = 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 32 * 9 + 9216 * 128 + 128 * 10)
TRAIN_FLOP = 3 * FORWARD_FLOP  # forward + backward (grad of inputs and weights)


def matmul_peak(device: str) -> float:
    """Measured float32 matmul FLOP/s (2048² x 2048²)."""
    a = torch.randn(2048, 2048, device=device)
    b = torch.randn(2048, 2048, device=device)
    a @ b
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * 2048 ** 3 / best


def plain_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128),
                         nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def baseline(ds, device: str, n: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = plain_cnn().to(device)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    loader = DataLoader(TensorDataset(ds.x_train[:n], ds.y_train[:n]), batch_size=64,
                        shuffle=True)
    t0 = time.perf_counter()
    model.train()
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = (model(ds.x_test.to(device)).argmax(1) == ds.y_test.to(device)).float().mean()
    return seconds, float(acc)


def engine(ds, device: str, n: int, precision: str = "fp32") -> tuple[float, float]:
    model = Ensemble(pytorch_examples_cnn_spec(), (1, 28, 28), seeds=[0]).to(device)
    train = Split(ds.x_train[:n].to(device), ds.y_train[:n].to(device))
    res = fit(model, train, epochs=1, batch_size=64, loss="cross_entropy",
              optim=OptimSpec("adadelta", 1.0), progress=False, precision=precision)
    test = Split(ds.x_test.to(device), ds.y_test.to(device))
    return res.seconds, float(evaluate(model, test, "cross_entropy")["accuracy"][0])


def main() -> None:
    args = parser(__doc__.splitlines()[0], repeats=3, cuda=True).parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset("mnist", seed=0)
    n = 640 if args.quick else len(ds.x_train)
    peak = matmul_peak(args.device)
    sides = {"baseline": lambda: baseline(ds, args.device, n),
             "fp32": lambda: engine(ds, args.device, n),
             "bf16": lambda: engine(ds, args.device, n, "bf16")}
    engine(ds, args.device, 128)  # warm-up
    engine(ds, args.device, 128, "bf16")
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeats):
        for name, run in sides.items():
            seconds, acc = run()
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, acc)
    base_s, base_acc = best["baseline"]
    cases = []
    for precision in ("fp32", "bf16"):
        ours_s, ours_acc = best[precision]
        cases.append({"size": {"N": n, "precision": precision}, "baseline_s": round(base_s, 3),
                      "trainlab_s": round(ours_s, 3),
                      "baseline_images_per_s": round(n / base_s, 1),
                      "trainlab_images_per_s": round(n / ours_s, 1),
                      "baseline_accuracy": round(base_acc, 4),
                      "trainlab_accuracy": round(ours_acc, 4),
                      "trainlab_fraction_of_fp32_peak": round(TRAIN_FLOP * n / ours_s / peak, 3),
                      "baseline_fraction_of_fp32_peak": round(TRAIN_FLOP * n / base_s / peak,
                                                              3)})
    emit("cnn", cases, {"model": "pytorch-examples-cnn", "batch": 64, "optimizer": "adadelta",
                        "epochs": 1, "device": args.device, "repeats": args.repeats,
                        "matmul_peak_gflops": round(peak / 1e9, 1)}, args.json)


if __name__ == "__main__":
    main()
