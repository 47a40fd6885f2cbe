"""Progress bars: shown in a Jupyter kernel and on a terminal, silent in logs and CI."""

import io
import sys
import types

import nbformat
from nbclient import NotebookClient
from tqdm import tqdm

from trainlab import progress
from trainlab.progress import default_enabled, in_notebook, progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fake_kernel(monkeypatch, apps=("IPKernelApp",)):
    shell = types.SimpleNamespace(config={app: {} for app in apps})
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


def test_silent_when_not_a_terminal(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    assert not in_notebook() and not default_enabled()
    bar = progress_bar(5, "fit", True)
    bar.update(5)
    bar.set_postfix(loss="0.1")
    bar.close()
    assert bar.disable and log.getvalue() == ""


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
