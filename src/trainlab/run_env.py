"""Where a run happens: the device it asks for, what `env.json` records, the seeds.

Helpers of `runner` (which re-exports `resolve_device` and `environment`).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from trainlab import __version__
from trainlab.errors import BadInput

__all__ = ["environment", "resolve_device", "seed_everything"]


def resolve_device(name: str) -> torch.device:
    """`auto` -> cuda when available else cpu; `cuda` without a GPU is bad input."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda: no CUDA device is available (use auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise BadInput(f"--device {name}: expected auto, cpu or cuda")
    return torch.device(name)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict:
    """Versions, device, threads, git commit and command line, for env.json."""
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "trainlab": __version__, "platform": platform.platform(),
            "device": str(device),
            "cuda_device": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
            "threads": torch.get_num_threads(), "git_commit": _git_commit(),
            "command": sys.argv, "pid": os.getpid()}


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
