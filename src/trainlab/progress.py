"""Progress bars that show where someone watches: a terminal or a Jupyter notebook.

`tqdm.auto` with ``disable=None`` is not enough: in a Jupyter kernel ``sys.stderr`` is
not a TTY, so the plain bar disables itself, and without ipywidgets `tqdm.auto` falls
back to that plain bar (with a warning). Here a notebook gets the widget bar when
ipywidgets is installed and a text bar otherwise (Jupyter redraws ``\\r`` lines); a
terminal gets the plain bar; logs, pipes, CI and a terminal of 0 columns get a plain
line now and then (`LineProgress`), where a bar would print nothing or garbage.
Nothing of trainlab is imported, and IPython only when the process has already
loaded it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["LineProgress", "default_enabled", "in_notebook", "progress_bar"]


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (an IPython shell with an IPKernelApp)."""
    ipython = sys.modules.get("IPython")  # a kernel has imported it; never import it here
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:  # an odd or partial IPython: no notebook
        return False


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _zero_columns(stream: Any) -> bool:
    """A terminal whose size is known to be 0 columns (`script` without `stty cols`)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns == 0
    except (AttributeError, OSError, ValueError):  # no real descriptor: assume a size
        return False


class LineProgress:
    """A progress bar for logs: one line to `file` now and then, never a redraw.

    A line is written when the count passes a multiple of `every` of the total (10 %),
    at most one per `min_interval` seconds, and the last count once more on `close`
    (so that every fit ends with one line: `polyfit:lr=0.1 20/20 (100%) loss=0.01
    3.2 s`). Same calls as the tqdm bar that `train.fit` uses: `update`, `set_postfix`,
    `close`, and the attributes `n` and `disable`.
    """

    def __init__(self, total: int, desc: str = "", file: TextIO | None = None,
                 initial: int = 0, every: float = 0.1, min_interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.desc, self.n, self.disable = total, desc, initial, False
        self.file = file if file is not None else sys.stderr
        self.postfix = ""
        self.min_interval, self._clock = min_interval, clock
        self._step = max(1, math.ceil(total * every))
        self._start = self._last_time = clock()
        self._last_n = initial
        self._closed = False

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        """Values shown at the end of the next line (`loss=0.1234`)."""
        self.postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def update(self, n: int = 1) -> None:
        before, self.n = self.n, self.n + n
        now = self._clock()
        if (self.n // self._step > before // self._step and self.n < self.total
                and now - self._last_time >= self.min_interval):
            self._write(now)

    def close(self) -> None:
        if not self._closed and self.n > self._last_n:
            self._write(self._clock())
        self._closed = True

    def _write(self, now: float) -> None:
        percent = 100 * self.n / self.total if self.total else 100.0
        parts = [self.desc, f"{self.n}/{self.total} ({percent:.0f}%)", self.postfix,
                 f"{now - self._start:.1f} s"]
        print("  ".join(p for p in parts if p), file=self.file, flush=True)
        self._last_time, self._last_n = now, self.n


def default_enabled(stream: TextIO | None = None) -> bool:
    """Whether a bar shows by default: in a notebook or on a terminal, not in logs or CI."""
    return in_notebook() or _isatty(sys.stderr if stream is None else stream)


def _widget_bar() -> type[tqdm] | None:
    """tqdm's notebook (ipywidgets) bar class, or None when ipywidgets is missing."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:
        return None
    return notebook_tqdm


def progress_bar(total: int, desc: str = "", enabled: bool = True,
                 **kwargs: Any) -> tqdm | LineProgress:
    """A bar of `total` steps: a widget or text bar in Jupyter, a plain bar on a TTY.

    When stderr (``file=``) is not a terminal outside Jupyter, or a terminal of 0
    columns, a `LineProgress` writes a line now and then instead. With
    ``enabled=False`` the bar is disabled: `update`, `set_postfix` and `close` still
    work and print nothing. Other keyword arguments go to tqdm (``initial=``,
    ``leave=`` …); ``leave`` defaults to False, so a finished bar disappears.
    """
    kwargs.setdefault("leave", False)
    if enabled and in_notebook():
        widget = _widget_bar()
        if widget is not None:
            kwargs.pop("file", None)  # the widget is shown in the cell's output area
            return widget(total=total, desc=desc, disable=False, **kwargs)
        kwargs.setdefault("file", sys.stderr)
        return tqdm(total=total, desc=desc, disable=False, **kwargs)
    stream = kwargs.pop("file", None) or sys.stderr
    if enabled and (not _isatty(stream) or _zero_columns(stream)):
        return LineProgress(total, desc, stream, initial=kwargs.get("initial", 0))
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(total=total, desc=desc, file=stream, disable=not enabled, **kwargs)
