"""`trainlab watch`: the runs folder over HTTP, only its files, only GET/HEAD.

The server runs on a free port in a thread (and once as the real command, stopped with
SIGINT); every probe is an exact request line sent with http.client, which does not
rewrite the path, so what the handler sees is exactly what an attacker would send.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from trainlab.cli import main
from trainlab.watch import make_server

SECRET = "the contents of a file outside the runs folder"


def _request(port: int, path: str, method: str = "GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _run_folder(runs: Path, name: str, state: str, sub: str = "polyfit") -> Path:
    run = runs / sub / name
    (run / "figures").mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": state, "reason": None}))
    (run / "config.json").write_text(json.dumps({"experiment": "polyfit", "config": {}}))
    (run / "report.html").write_text(f"<html>{name} first</html>")
    if state == "running":  # alive: its lock names a live process (this one)
        (run / "run.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    return run


@pytest.fixture
def served(tmp_path):
    runs = tmp_path / "runs"
    run = _run_folder(runs, "20260101-000000-aaaaaa", "running")
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(SECRET)
    os.symlink(tmp_path / "secret.txt", runs / "link.txt")
    os.symlink(tmp_path / "outside", runs / "linkdir")
    server = make_server(runs, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield server.server_address[1], runs, run, tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_serves_the_index_fresh_and_reports_as_they_are_rewritten(served):
    port, runs, run, _ = served
    status, headers, body = _request(port, "/")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    page = body.decode()
    assert run.name in page and "running" in page
    assert "http-equiv='refresh'" in page  # a run is running: the index reloads itself
    assert _request(port, "/index.html")[2] == body
    rel = f"/polyfit/{run.name}/report.html"
    assert _request(port, rel)[2] == (run / "report.html").read_bytes()
    (run / "report.html").write_text("<html>rewritten by the run</html>")
    assert _request(port, rel)[2] == b"<html>rewritten by the run</html>"
    status, headers, body = _request(port, rel, "HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(
        len(b"<html>rewritten by the run</html>"))
    # a run that starts later, and the first one finished: the next request shows both
    (run / "status.json").write_text(json.dumps({"state": "completed"}))
    second = _run_folder(runs, "20260101-000100-bbbbbb", "running")
    page = _request(port, "/")[2].decode()
    assert second.name in page and run.name in page


def test_a_running_sweep_is_served_with_its_trials(served):
    port, runs, _, _ = served
    study = runs / "sweeps" / "polyfit-tpe"
    trial = _run_folder(study / "trials", "0", "completed", sub="")  # run folders too
    (study / "best.json").write_text(json.dumps({"value": 0.5, "params": {"lr": 0.1}}))
    (study / "report.html").write_text("<html>sweep so far</html>")
    running = _run_folder(runs / "sweeps" / "mnist-grid" / "trials", "0", "running", sub="")
    page = _request(port, "/")[2].decode()
    # a sweep still on its first trials has no report yet: its card links its trials'
    assert "sweeps/mnist-grid/trials/0/report.html" in page
    assert _request(port, "/sweeps/mnist-grid/trials/0/report.html")[2] == (
        running / "report.html").read_bytes()
    assert "sweeps/polyfit-tpe/report.html" in page
    assert _request(port, "/sweeps/polyfit-tpe/report.html")[2] == b"<html>sweep so far</html>"
    rel = "/sweeps/polyfit-tpe/trials/0/report.html"
    assert _request(port, rel)[2] == (trial / "report.html").read_bytes()


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt", "/%252e%252e/secret.txt", "/%252e%252e%252fsecret.txt",
    "/polyfit/../../secret.txt", "/polyfit/%2e%2e/%2e%2e/secret.txt", "/..\\secret.txt",
    "/%2e%2e%5csecret.txt", "/.%2e/secret.txt", "/%c0%ae%c0%ae/secret.txt",
    "/link.txt", "/linkdir/secret.txt", "/linkdir/", "/polyfit/", "/polyfit",
    "/nothing-here.html",
])
def test_traversal_symlinks_and_listings_are_not_found(served, path):
    port, *_ = served
    status, _, body = _request(port, path)
    assert status == 404, (path, status)
    assert SECRET.encode() not in body


def test_absolute_paths_stay_inside(served):
    port, _, _, tmp = served
    for path in (f"/{tmp / 'secret.txt'}", f"//{tmp / 'secret.txt'}",
                 f"http://127.0.0.1:{port}/../secret.txt", "/etc/passwd"):
        status, _, body = _request(port, path)
        assert status == 404 and SECRET.encode() not in body, path


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_only_get_and_head(served, method):
    port, _, run, _ = served
    before = (run / "report.html").read_bytes()
    status, headers, _ = _request(port, f"/polyfit/{run.name}/report.html", method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert (run / "report.html").read_bytes() == before


def test_port_in_use_and_missing_folder_are_bad_input(served, capsys):
    port, runs, _, tmp = served
    assert main(["watch", str(runs), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--port {port}" in err[0] and "in use" in err[0]
    assert main(["watch", str(tmp / "no-such-runs")]) == 2
    assert "no-such-runs" in capsys.readouterr().err


def test_another_host_warns_and_ctrl_c_exits_0(tmp_path, capsys, monkeypatch):
    from http.server import ThreadingHTTPServer

    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt  # what Ctrl-C raises in serve_forever
    monkeypatch.setattr(ThreadingHTTPServer, "serve_forever", interrupted)
    (tmp_path / "runs").mkdir()
    assert main(["watch", str(tmp_path / "runs"), "--host", "0.0.0.0", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"http://0\.0\.0\.0:\d+/", out)
    assert "warning: --host 0.0.0.0" in err and "stopped" in err
    assert main(["watch", str(tmp_path / "runs"), "--host", "127.0.0.2", "--port", "0"]) == 0
    assert "warning" not in capsys.readouterr().err  # all of 127/8 is this machine
    assert main(["watch", str(tmp_path / "runs"), "--host", "::1", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert "http://[::1]:" in out and "warning" not in err


def test_the_command_prints_its_address_and_stops_on_ctrl_c(tmp_path):
    runs = tmp_path / "runs"
    _run_folder(runs, "20260101-000000-aaaaaa", "completed")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "trainlab", "watch", str(runs), "--port",
                             "0", "--host", "localhost"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"http://localhost:(\d+)/", line).group(1))
        assert _request(port, "/")[0] == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0  # Ctrl-C is how a server stops: exit code 0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert "Traceback" not in err and "stopped" in err
