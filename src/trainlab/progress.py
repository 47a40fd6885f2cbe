"""Progress bars that show where someone watches: a terminal or a Jupyter notebook.

`tqdm.auto` with ``disable=None`` is not enough: in a Jupyter kernel ``sys.stderr`` is
not a TTY, so the plain bar disables itself, and without ipywidgets `tqdm.auto` falls
back to that plain bar (with a warning). Here a notebook gets the widget bar when
ipywidgets is installed and a text bar otherwise (Jupyter redraws ``\\r`` lines); a
terminal gets the plain bar; logs, pipes and CI get none. Nothing of trainlab is
imported, and IPython only when the process has already loaded it.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["default_enabled", "in_notebook", "progress_bar"]


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


def progress_bar(total: int, desc: str = "", enabled: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar of `total` steps: a widget or text bar in Jupyter, a plain bar on a TTY.

    With ``enabled=False``, or when stderr (``file=``) is not a terminal outside Jupyter,
    the bar is disabled: `update`, `set_postfix` and `close` still work and print nothing.
    Other keyword arguments go to tqdm (``initial=``, ``leave=`` …); ``leave`` defaults
    to False, so a finished bar disappears.
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
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(total=total, desc=desc, file=stream, disable=not (enabled and _isatty(stream)),
                **kwargs)
