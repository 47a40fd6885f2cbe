"""The run lock: `run.lock` holds `PID HOST` of the one process running in a run folder (layer 4).

Split out of `run_folder` (which re-exports `RunLock`): a live owner is refused, a dead
one (kill -9, a crash, a reboot) is taken over.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from trainlab.errors import BadInput

__all__ = ["RunLock"]


class RunLock:
    """`run.lock` in a run folder: `PID HOST` of the one process that runs in it.

    `acquire` refuses (BadInput) while that process is alive, and takes over the lock of
    a process that died (kill -9, a crash, a reboot). The file appears complete, through
    a hard link, so no reader ever sees it empty.
    """

    NAME = "run.lock"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / self.NAME
        self.mine = f"{os.getpid()} {socket.gethostname()}"

    def _owner(self, path: Path) -> tuple[int, str] | None:
        try:
            pid, host = path.read_text(encoding="utf-8").split()
            return int(pid), host
        except (OSError, ValueError):
            return None

    def _refuse(self, owner: tuple[int, str]) -> BadInput:
        return BadInput(f"{self.folder}: trainlab process {owner[0]} on {owner[1]} is running "
                        f"in this folder (wait for it, or stop it; if it is gone, delete "
                        f"{self.path})")

    def _alive(self, owner: tuple[int, str] | None) -> bool:
        if owner is None:  # unreadable: no writer leaves it so (it appears whole)
            return False
        pid, host = owner
        if host != socket.gethostname():
            return True  # cannot tell from here: assume it runs
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie (killed, not yet reaped by its parent) is dead too
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True

    def held(self) -> bool:
        """True while a live process holds the lock (False: no lock, or its owner is gone)."""
        return self.path.exists() and self._alive(self._owner(self.path))

    def check(self) -> None:
        """BadInput when a live process holds the lock (reads only; `acquire` takes it)."""
        owner = self._owner(self.path)
        if self.path.exists() and self._alive(owner):
            raise self._refuse(owner)

    def acquire(self) -> RunLock:
        """Take the lock, or raise BadInput naming the live owner."""
        tmp = self.folder / f".{self.NAME}.{os.getpid()}.{secrets.token_hex(3)}"
        try:
            tmp.write_text(self.mine + "\n", encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"{self.folder}: cannot write in the run folder: "
                           f"{(exc.strerror or str(exc)).lower()}") from None
        try:
            for _ in range(5):
                try:
                    os.link(tmp, self.path)  # atomic; fails when a lock exists
                    return self
                except FileExistsError:
                    self._take_over()
            raise BadInput(f"{self.folder}: could not take {self.path}")
        finally:
            tmp.unlink(missing_ok=True)

    def _take_over(self) -> None:
        owner = self._owner(self.path)
        if self._alive(owner):
            raise self._refuse(owner)
        # Move the stale lock aside under a name of our own, then check what was moved:
        # another process may have taken over in between, and its lock goes back.
        stale = self.folder / f".{self.NAME}.stale.{os.getpid()}"
        try:
            os.replace(self.path, stale)
        except FileNotFoundError:
            return
        moved = self._owner(stale)
        if self._alive(moved):
            try:
                os.link(stale, self.path)
            except FileExistsError:
                pass
            stale.unlink(missing_ok=True)
            raise self._refuse(moved)
        stale.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        if self._owner(self.path) == (os.getpid(), socket.gethostname()):
            self.path.unlink(missing_ok=True)
