"""Fixtures of the fault tests: small tmpfs mounts (helpers: tests/fault_helpers.py).

A full or read-only disk is a tmpfs the test mounts itself (as root). Where the kernel
or the container forbids mounting, those tests are skipped with the reason; the other
fault tests need nothing special.
"""

import subprocess
from pathlib import Path

import pytest


def mount_tmpfs(where: Path, size: str, read_only: bool = False) -> None:
    """Mount a tmpfs of `size` at `where`; skip the test when mounting is not allowed."""
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    try:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)],
                             capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no mount command: cannot make a full or read-only file system")
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()}): needs root and "
                    "a kernel that allows it")


@pytest.fixture
def tmpfs(tmp_path):
    """`tmpfs(name, size, read_only=False)` -> a mounted folder, unmounted afterwards."""
    mounted: list[Path] = []

    def make(name: str, size: str, read_only: bool = False) -> Path:
        where = tmp_path / name
        mount_tmpfs(where, size, read_only)
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)
