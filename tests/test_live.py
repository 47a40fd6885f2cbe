"""The live report: present and "running" while a real run trains, rewritten at most
every interval, replaced by a static final report (completed, failed or interrupted)."""

import math
import re
from pathlib import Path

import numpy as np
from scipy import stats as sps

from trainlab.live import LiveCurves, LiveReport
from trainlab.runner import execute

REFRESH = re.compile(r"<meta http-equiv='refresh' content='(\d+)'>")


def _peeker(folder_of):
    seen = []

    def peek(rows):  # runs after the live report (observers run in order)
        report = Path(folder_of()) / "report.html"
        index = Path(folder_of()).parents[1] / "index.html"
        seen.append({"epochs": sorted({r["epoch"] for r in rows}),
                     "html": report.read_text() if report.exists() else None,
                     "index": index.read_text() if index.exists() else None})
    return seen, peek


def test_a_real_run_has_a_live_report_then_a_static_one(tmp_path):
    runs = tmp_path / "runs"
    holder = {}

    def folder():
        if "dir" not in holder:
            holder["dir"] = next((runs / "polyfit").iterdir())
        return holder["dir"]
    seen, peek = _peeker(folder)
    out = execute("polyfit", preset="smoke", runs_dir=runs, progress=False, quiet=True,
                  observers=[peek])
    assert out.state == "completed"
    first = seen[0]
    assert first["epochs"] == [0]  # eval_at_start: the first evaluation already shows
    page = first["html"]
    assert page is not None and REFRESH.search(page).group(1) == "3"
    assert "badge running" in page and "sgd: epoch 0 of 20" in page
    assert page.count("<svg class='chart'") >= 2  # the loss curves and the learned curve
    assert "The learned polynomials so far" in page
    # the index lists the run while it runs, and reloads itself
    assert out.path.name in first["index"] and "running" in first["index"]
    assert REFRESH.search(first["index"])
    final = (out.path / "report.html").read_text()
    assert not REFRESH.search(final) and "badge completed" in final
    assert not REFRESH.search((runs / "index.html").read_text())


def test_an_interrupted_run_says_so_keeps_its_curves_and_stops_refreshing(tmp_path):
    def stop(rows):
        if any(r["epoch"] >= 5 for r in rows):
            raise KeyboardInterrupt
    out = execute("polyfit", preset="smoke", out=tmp_path / "r", progress=False, quiet=True,
                  observers=[stop])
    assert out.state == "interrupted" and out.exit_code == 130
    final = (out.path / "report.html").read_text()
    assert "badge interrupted" in final and not REFRESH.search(final)
    assert "Loss curves recorded before the run stopped" in final


def test_an_interrupted_run_of_separate_replicates_keeps_their_curves(tmp_path):
    # mnist runs its replicates one after another, each in its own folder: the run's
    # metrics.jsonl is filled only at the end, so the live report's rows are kept
    def stop(rows):
        if any(r["seed"] == 1 and r["epoch"] >= 2 for r in rows):
            raise KeyboardInterrupt
    out = execute("mnist", preset="smoke", seed=0, seeds=2, out=tmp_path / "r",
                  progress=False, quiet=True, observers=[SeedTap(stop)])
    assert out.state == "interrupted"
    final = (out.path / "report.html").read_text()
    assert "badge interrupted" in final and not REFRESH.search(final)
    assert "Curves recorded before the run stopped" in final
    assert "(2 replicates)" in final and final.count("<svg class='chart'") == 2


class SeedTap:
    """An observer that the replicates pass on (it has begin_fit), like the live report."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, rows):
        self.fn(rows)

    def begin_fit(self, *args):
        pass


class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _rows(epoch, loss=1.0, model="model", **extra):
    return [{"fit": "f", "epoch": epoch, "split": "train", "model": model, "loss": loss,
             **extra}]


def _page():
    return {"exp_id": "x", "title": "x", "question": "", "what_to_look_at": "",
            "config": {}, "status": {"state": "running"}}


def test_rewritten_at_most_every_interval_with_an_exact_eta(tmp_path):
    clock = _Clock()
    live = LiveReport(tmp_path, _page(), interval=2.0, clock=clock)
    live.begin_fit(None, "f", 10, None)
    writes = []
    for t, epoch in [(0.0, 1), (0.5, 2), (1.9, 3), (2.0, 4), (3.9, 5), (4.1, 6)]:
        clock.t = 100.0 + t
        live(_rows(epoch))
        writes.append(live.writes)
    assert writes == [1, 1, 1, 2, 2, 3]
    clock.t += 0.1
    live(_rows(10))  # the fit's last epoch is written at once
    assert live.writes == 4
    # 6 epochs in 4.1 s since the fit began: 4 epochs left take 4.1 / 6 * 4 s
    status = live.status_block(100.0 + 4.1)
    assert status.epoch == 10 and status.left == 0.0
    live.epoch = 6
    status = live.status_block(100.0 + 4.1)
    assert math.isclose(status.left, 4.1 / 6 * 4)
    assert "f: epoch 10 of 10" in (tmp_path / "report.html").read_text()


def test_replicates_are_a_mean_and_a_95_percent_band():
    curves = LiveCurves()
    a, b, c = [1.0, 0.5, 0.25], [3.0, 1.5, 0.75], [2.0, 1.0]  # the third is still running
    for e in range(3):
        curves.add(_rows(e, a[e], seed=0) + _rows(e, b[e], seed=1)
                   + (_rows(e, c[e], seed=2) if e < 2 else []))
    (chart,) = curves.charts()
    (curve,) = chart.curves
    assert curve.x == [0, 1, 2] and curve.label == "train/model (3 replicates)"
    for e in range(3):
        values = np.array([a[e], b[e]] + ([c[e]] if e < 2 else []))
        half = sps.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
        assert math.isclose(curve.y[e], values.mean())
        assert math.isclose(curve.lo[e], values.mean() - half)
        assert math.isclose(curve.hi[e], values.mean() + half)
    # members named '<name>/seedS' (ensemble replicates) group the same way
    named = LiveCurves()
    named.add(_rows(0, 1.0, model="true/seed0") + _rows(0, 3.0, model="true/seed1"))
    (line,) = named.charts()[0].curves
    assert line.label == "train/true (2 replicates)" and line.y == [2.0]


class _FakeHandle:
    def __init__(self):
        self.shown = []

    def update(self, obj):
        self.shown.append(obj.data)


def test_the_notebook_view_draws_every_logged_row(tmp_path):
    from trainlab.live import NotebookLive
    from trainlab.run_folder import read_metrics

    handle = _FakeHandle()
    view = NotebookLive(interval=0.0, display=lambda obj, display_id: handle)
    out = execute("polyfit", preset="smoke", out=tmp_path / "r", progress=False, quiet=True,
                  observers=[view])
    view.close()
    assert out.state == "completed" and len(handle.shown) >= 21  # epochs 0..20, then close
    assert "<svg class='chart'" in handle.shown[-1]
    assert "The learned polynomials so far" in handle.shown[-1]
    expected = {}
    for r in read_metrics(out.path / "metrics.jsonl"):
        xs, ys = expected.setdefault(f"{r['split']}/{r['model']}", ([], []))
        xs.append(r["epoch"])
        ys.append(r["loss"])
    drawn = {line: reps[None] for line, reps in view.curves.series[("sgd", "loss")].items()}
    assert drawn == {k: (xs, [float(y) for y in ys]) for k, (xs, ys) in expected.items()}


def test_live_true_in_a_jupyter_kernel_updates_the_cell(tmp_path, monkeypatch):
    nbformat = __import__("optional_deps").require("nbformat")
    from nbclient import NotebookClient

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TRAINLAB_THREADS", "1")
    out = tmp_path / "run"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import trainlab\n"
        f"r = trainlab.run('polyfit', preset='smoke', out={str(out)!r}, progress=False, "
        "live=True)\nprint('state', r.status['state'])")])
    NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=False).execute()
    outputs = nb.cells[0].outputs
    html = [o["data"]["text/html"] for o in outputs if o.get("output_type") == "display_data"]
    assert len(html) == 1  # one display, updated in place
    assert "<svg class='chart'" in html[0] and "The learned polynomials so far" in html[0]
    assert any("state completed" in o.get("text", "") for o in outputs)


def _ensemble_rows(epoch: int, members: int) -> list[dict]:
    """One evaluation of an ensemble whose members are 3 learning rates x replicates."""
    return [{"fit": "f", "epoch": epoch, "split": "train", "model": f"lr={k % 3}/seed{k // 3}",
             "loss": 1.0 / (epoch + 1) + k} for k in range(members)]


def _count_work(monkeypatch, members: int, epochs: int, step_s: float):
    """Feed a many-member run to a LiveReport on a fake clock (step_s per epoch); count the
    page rewrites, the values pushed into the running moments and those the charts read."""
    import trainlab.live as live_mod

    pushed, read = [0], [0]
    push, summarise = live_mod._Moments.push, live_mod._summarise

    def counted_push(self, y):
        pushed[0] += 1
        push(self, y)

    def counted_summarise(moments):
        read[0] += len(moments)
        return summarise(moments)

    monkeypatch.setattr(live_mod._Moments, "push", counted_push)
    monkeypatch.setattr(live_mod, "_summarise", counted_summarise)
    monkeypatch.setattr(live_mod, "save_report", lambda *a, **k: None)
    clock = _Clock()
    live = LiveReport("unused", _page(), interval=2.0, clock=clock)
    live.begin_fit(None, "f", epochs, None)
    for epoch in range(epochs + 1):
        clock.t = epoch * step_s
        live(_ensemble_rows(epoch, members))
    return live.writes, pushed[0], read[0]


def test_rewrites_and_live_work_stay_bounded_for_many_members(monkeypatch):
    epochs, step_s = 300, 0.05  # 15 s of fake training
    writes30, pushed30, read30 = _count_work(monkeypatch, 30, epochs, step_s)
    writes120, pushed120, read120 = _count_work(monkeypatch, 120, epochs, step_s)
    # the 2 s throttle holds on wall (clock) time: elapsed / 2 s, + the first write and
    # the fit's last epoch
    for writes in (writes30, writes120):
        assert writes <= epochs * step_s / 2.0 + 2
    # every value is pushed once (linear in members) ...
    assert pushed30 == 30 * (epochs + 1) and pushed120 == 120 * (epochs + 1)
    # ... and a rewrite reads one running moment per drawn epoch and line, whatever the
    # number of replicates behind it (3 lines, at most charts.MAX_POINTS epochs each)
    from trainlab.report.charts import MAX_POINTS

    assert read30 == read120 <= writes30 * 3 * (MAX_POINTS + 1)
