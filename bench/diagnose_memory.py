"""Peak memory of `trainlab diagnose --only hessian` on an ~11M-parameter CNN (CPU).

A ResNet-18 laid out for 32 x 32 images (BatchNorm, eight residual blocks, 11.2M
parameters) and a batch of 64 seeded random images; the top Hessian eigenvalue through
`trainlab.diagnose` itself (run folder in a temporary directory), with the Lanczos basis
capped at its default ``basis_mib`` and the products taken over micro-batches of
``--chunk`` images (``hvp_chunk``; 0, the default, lets diagnose pick it from its
``hvp_mib`` budget; one graph of all 64 peaked at 6.7 GiB, chunks of 16 at 2.5 GiB).
``--iters`` caps the Lanczos steps for a shorter measurement (the basis then holds
fewer vectors: the JSON gives the full basis' size to add).
Prints one JSON line: peak resident set size of the whole process (``ru_maxrss``),
parameters, Lanczos steps, the eigenvalue and its residual bound, seconds. Run by
bench/diagnose.py in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

import torch
from torch import nn
from torch.nn import functional as F

import trainlab


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                       nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.short(x))


def resnet18(classes: int = 10) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
                               nn.ReLU()]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--chunk", type=int, default=0, help="hvp_chunk (0: automatic)")
    p.add_argument("--iters", type=int, default=100, help="most Lanczos steps")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = resnet18()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (args.batch,), generator=g)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = trainlab.diagnose(model, (x, y), only=["hessian"], top_k=1, n_train=0,
                                n_eval=0, hvp_chunk=args.chunk, device="cpu",
                                lanczos_iters=args.iters,
                                out=f"{tmp}/run")
        s = run.summary
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"params": s["params"], "batch": args.batch, "hvp_chunk": s["hvp_chunk"],
                      "peak_rss_mib": round(peak, 1), "lanczos_steps": s["lanczos_steps"],
                      "top_eigenvalue": s["hessian_top"][0],
                      "residual_bound": s["hessian_top_residual"][0],
                      "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
