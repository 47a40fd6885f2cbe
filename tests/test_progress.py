"""Progress bars: shown in a Jupyter kernel and on a terminal, silent in logs and CI."""

import io
import sys
import types

import nbformat
from nbclient import NotebookClient
from tqdm import tqdm

from trainlab import progress
from trainlab.progress import LineProgress, default_enabled, in_notebook, progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fake_kernel(monkeypatch, apps=("IPKernelApp",)):
    shell = types.SimpleNamespace(config={app: {} for app in apps})
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


def test_lines_when_not_a_terminal(monkeypatch):
    """Logs, pipes and CI get a plain line (no bar: not a terminal), the last state on close."""
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    assert not in_notebook() and not default_enabled()
    bar = progress_bar(5, "fit", True)
    assert isinstance(bar, LineProgress) and not bar.disable
    bar.set_postfix(loss="0.1", refresh=False)
    bar.update(5)
    bar.close()
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and "\r" not in log.getvalue()
    assert lines[0].startswith("fit  5/5 (100%)  loss=0.1  ") and lines[0].endswith(" s")
    quiet = io.StringIO()
    off = progress_bar(5, "fit", False, file=quiet)
    off.update(5)
    off.close()
    assert off.disable and quiet.getvalue() == ""


def test_lines_every_tenth_at_most_one_per_interval():
    """20 steps of 1 s each, a line per 10 % but at most one per 5 s: at 6, 12, 18, and
    the end on close, each with the postfix set before its update."""
    now = [0.0]
    log = io.StringIO()
    bar = LineProgress(20, "exp:fit", log, min_interval=5.0, clock=lambda: now[0])
    for step in range(1, 21):
        now[0] = float(step)
        bar.set_postfix(loss=step)
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    assert lines == [f"exp:fit  {n}/20 ({5 * n}%)  loss={n}  {n:.1f} s" for n in (6, 12, 18, 20)]


def test_a_zero_column_terminal_gets_lines(monkeypatch):
    term = FakeTerminal()
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(progress, "_zero_columns", lambda stream: stream is term)
    assert isinstance(progress_bar(3, "fit", True, file=term), LineProgress)
    assert type(progress_bar(3, "fit", True, file=FakeTerminal())) is tqdm


def test_fit_shows_the_loss_of_the_epoch_just_trained(monkeypatch):
    """The postfix is set before the bar draws the new count (it lagged one epoch)."""
    import torch

    from trainlab import train
    from trainlab.models import mlp
    from trainlab.optim import OptimSpec

    shown = []

    class Recorder:
        def __init__(self, total, desc, enabled, **kwargs):
            self.n, self.postfix = kwargs.get("initial", 0), None

        def set_postfix(self, refresh=True, **values):
            self.postfix = values["loss"]

        def update(self, n=1):
            self.n += n
            shown.append((self.n, self.postfix))

        def close(self):
            pass

    monkeypatch.setattr(train, "progress_bar", Recorder)
    x = torch.linspace(-1, 1, 32).unsqueeze(1)
    result = train.fit(mlp([4], 1, 1, seeds=[0]), train.Split(x, x ** 2), loss="mse",
                       epochs=3, batch_size=8, optim=OptimSpec("sgd", 0.1), progress=True)
    losses = result.history.series("train", "loss")[:, 0]
    assert result.history.epochs == [1, 2, 3]
    assert shown == [(e, f"{loss:.4g}") for e, loss in zip((1, 2, 3), losses, strict=True)]


def test_disabled_on_request_even_on_a_terminal(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert default_enabled()
    bar = progress_bar(5, "fit", False)
    bar.update(5)
    bar.close()
    assert bar.disable and term.getvalue() == ""


def test_plain_bar_on_a_terminal(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    bar = progress_bar(4, "polyfit:lr", True, initial=1)
    assert type(bar) is tqdm and not bar.disable and not bar.leave and bar.n == 1
    bar.update(3)
    bar.close()
    assert "polyfit:lr" in term.getvalue()


def test_text_bar_in_a_kernel_without_ipywidgets(monkeypatch):
    _fake_kernel(monkeypatch)
    monkeypatch.setattr(progress, "_widget_bar", lambda: None)
    out = io.StringIO()  # a kernel's stderr is not a TTY: the bar shows all the same
    monkeypatch.setattr(sys, "stderr", out)
    assert in_notebook() and default_enabled()
    bar = progress_bar(3, "mnist:fit", True)
    assert type(bar) is tqdm and not bar.disable
    bar.update(3)
    bar.close()
    assert "mnist:fit" in out.getvalue()
    assert progress_bar(3, "quiet", False).disable


def test_widget_bar_in_a_kernel_with_ipywidgets(monkeypatch):
    class Widget(tqdm):
        pass

    _fake_kernel(monkeypatch)
    monkeypatch.setattr(progress, "_widget_bar", lambda: Widget)
    bar = progress_bar(3, "fit", True, file=io.StringIO())
    assert type(bar) is Widget and not bar.disable
    bar.close()


def test_ipython_without_a_kernel_is_not_a_notebook(monkeypatch):
    _fake_kernel(monkeypatch, apps=("TerminalIPythonApp",))
    assert not in_notebook()
    monkeypatch.setattr(sys.modules["IPython"], "get_ipython", lambda: None)
    assert not in_notebook()


def test_real_kernel_detects_the_notebook():
    code = ("import sys\n"
            "from trainlab.progress import in_notebook, progress_bar\n"
            "bar = progress_bar(2, 'kernel-check', True)\n"
            "shown = not bar.disable\n"
            "bar.update(2)\n"
            "bar.close()\n"
            "print(in_notebook(), shown, sys.stderr.isatty())")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    outputs = nb.cells[0].outputs
    stdout = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert stdout.split() == ["True", "True", "False"], outputs
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    widget = any(o.output_type == "display_data" for o in outputs)  # with ipywidgets
    assert widget or "kernel-check" in stderr, outputs
