"""optuna-dashboard opens the studies trainlab writes (sqlite, journal and PostgreSQL).

A sweep of the test-only experiment (one trial fails on purpose) is written to each
storage; optuna-dashboard is started on 127.0.0.1 at a free port against that storage,
and its HTTP API must show the study, every trial with its state, parameters and value
(checked against trials.csv, which trainlab wrote from its own side), and trainlab's
user attributes (the study's settings, each trial's run folder). The server is stopped
at the end. optuna-dashboard is a test dependency (the `dev` extra): missing, the test
skips on a workstation and fails under CI.
"""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import trainlab
from optional_deps import require
from trainlab.errors import RunFailed

require("optuna")
require("optuna_dashboard")

# the grid (x = -1 or 1) × (a or b): the same four trials on every storage, two of them
# failing (x = 1 > fail_above), whatever seed a shared storage gives each process
SPACE = {"x": {"type": "float", "low": -1.0, "high": 1.0, "n": 2},
         "opt": {"type": "categorical", "choices": ["a", "b"]}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dashboard_command(storage: str, port: int) -> list[str]:
    script = Path(sys.executable).with_name("optuna-dashboard")
    head = [str(script)] if script.is_file() else [
        sys.executable, "-c", "from optuna_dashboard._cli import main; main()"]
    return head + [storage, "--host", "127.0.0.1", "--port", str(port), "--quiet"]


def _get(port: int, path: str, timeout: float = 60.0) -> dict:
    """GET http://127.0.0.1:PORT/PATH as JSON, waiting for the server to come up."""
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                assert r.status == 200
                return json.loads(r.read())
        except (urllib.error.URLError, ConnectionError):
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def _storages(kind: str, tmp_path: Path, request) -> tuple[str, str]:
    """(trainlab's --storage, optuna-dashboard's storage argument)."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'sweeps.db'}"
        return url, url
    if kind == "journal":
        path = tmp_path / "study.journal"
        return f"journal:{path}", str(path)
    url = request.getfixturevalue("postgres_url")
    return url, url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgres"])
def test_dashboard_shows_trainlab_studies(kind, fake_exp, tmp_path, request):
    storage, dashboard_storage = _storages(kind, tmp_path, request)
    study = f"dash-{kind}"
    out = tmp_path / "sweep"
    # two of the grid's four trials fail, so the sweep ends short of its target (exit 3)
    with pytest.raises(RunFailed, match="2 of 4 trials finished"):
        trainlab.sweep(fake_exp, sampler="grid", trials=4, space=SPACE, storage=storage,
                       study=study, preset="smoke", seed=3, out=out,
                       sets={"fail_above": 0.5}, report=False, echo=False)
    with (out / "trials.csv").open() as fh:
        rows = {int(r["number"]): r for r in csv.DictReader(fh)}
    assert any(r["state"] == "FAIL" for r in rows.values())  # the states differ

    port = free_port()
    server = None
    try:
        server = subprocess.Popen(_dashboard_command(dashboard_storage, port),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        studies = _get(port, "/api/studies")["study_summaries"]
        mine = [s for s in studies if s["study_name"] == study]
        assert len(mine) == 1 and mine[0]["directions"] == ["minimize"]
        detail = _get(port, f"/api/studies/{mine[0]['study_id']}")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert server.returncode is not None  # the server we started is gone

    study_attrs = {a["key"]: a["value"] for a in detail["user_attrs"]}
    meta = json.loads(study_attrs["trainlab"])
    assert meta["experiment"] == fake_exp and meta["objective"] == "value"
    assert set(meta["space"]) == {"x", "opt"} and meta["fixed"]["preset"] == "smoke"
    trials = {t["number"]: t for t in detail["trials"]}
    assert set(trials) == set(rows)
    for number, row in rows.items():
        t = trials[number]
        assert t["state"].upper() == row["state"]
        params = {p["name"]: p["param_external_value"] for p in t["params"]}
        assert float(params["x"]) == pytest.approx(float(row["x"]), rel=1e-12)
        assert params["opt"] == row["opt"]
        if row["state"] == "COMPLETE":
            assert t["values"] == [pytest.approx(float(row["value"]), rel=1e-12)]
        else:
            assert "values" not in t or not t["values"]
        attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
        assert Path(attrs["run_dir"]) == (out / row["run_dir"]).resolve()
        if row["state"] == "FAIL":
            assert "fail_above" in attrs["fail_reason"]
