"""`trainlab watch [RUNS_DIR]`: the runs folder over HTTP while runs train (layer 1).

The standard library's `ThreadingHTTPServer` with a `SimpleHTTPRequestHandler`
subclass that serves only what a browser needs to watch runs:

- GET and HEAD only; any other method gets 405;
- files under RUNS_DIR only: the request path is decoded once (as the base class does),
  normalised, resolved through symlinks, and anything whose real path leaves the real
  RUNS_DIR is 404 — `../`, `%2e%2e`, double encodings (`%252e` is then a literal
  name that does not exist), absolute paths and symlinks out of the folder alike;
  folders are never listed (404 unless they hold an index.html);
- `/` and `/index.html` are the index built fresh from the run folders on every
  request, so it shows running runs and sweeps as they are; reports are files that
  the runs rewrite as they train (`trainlab.live`), sent with `Cache-Control:
  no-store` so that each reload sees the newest.

It listens on 127.0.0.1 (`--host` changes that, with a warning: the runs, their
configs and environments become readable by whoever can reach the port); `--port 0`
takes a free port. The address is printed; Ctrl-C stops it cleanly with exit code 0
(stopping is how a server ends, not a failure).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import posixpath
import socket
import sys
import urllib.parse
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from trainlab.errors import BadInput
from trainlab.report.site import index_html

DEFAULT_PORT = 8765


class RunsHandler(SimpleHTTPRequestHandler):
    """GET/HEAD of the files under `directory` (see the module docstring)."""

    server_version = "trainlab-watch"

    def __init__(self, *args, directory: str, **kwargs):
        self.root = os.path.realpath(directory)
        super().__init__(*args, directory=self.root, **kwargs)

    def _inside(self) -> str | None:
        """The real path of the requested file when it lies under the root, else None."""
        path = urllib.parse.urlsplit(self.path).path
        try:
            path = urllib.parse.unquote(path, errors="strict")
        except UnicodeDecodeError:
            return None
        parts = [p for p in posixpath.normpath(path).split("/") if p not in ("", ".", "..")]
        real = os.path.realpath(os.path.join(self.root, *parts))
        return real if real == self.root or real.startswith(self.root + os.sep) else None

    def send_head(self):
        """Headers (and the open file) of a GET/HEAD; 404 for anything outside the root."""
        real = self._inside()
        if real is None:
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return None
        if real == self.root or real == os.path.join(self.root, "index.html"):
            return self._send_index()
        if os.path.isdir(real) and not os.path.isfile(os.path.join(real, "index.html")):
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return None
        return super().send_head()

    def _send_index(self):
        import io

        data = index_html(self.root).encode("utf-8")
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return io.BytesIO(data)

    def translate_path(self, path: str) -> str:
        # the base class's mapping, after send_head has checked the real path
        return self._inside() or os.path.join(self.root, "\0missing")

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND, "not found")
        return None

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _refuse(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: a reloading page would print a line every few seconds


class _Server6(ThreadingHTTPServer):
    """The same server on an IPv6 address (`--host ::1`)."""

    address_family = socket.AF_INET6


def _loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def make_server(runs_dir: str | Path, host: str = "127.0.0.1",
                port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A server of `runs_dir` bound to host:port (0: a free port); BadInput when the
    folder is missing or the port is taken."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise BadInput(f"{runs_dir}: no such runs folder")
    handler = partial(RunsHandler, directory=str(root))
    try:
        server = (_Server6 if ":" in host else ThreadingHTTPServer)((host, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise BadInput(f"--port {port}: already in use (choose another, or 0 for any "
                           "free port)") from None
        raise BadInput(f"--host {host} --port {port}: cannot listen ({exc.strerror})") from None
    server.daemon_threads = True
    return server


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `trainlab watch`."""
    p.add_argument("runs_dir", nargs="?", default="runs", metavar="RUNS_DIR",
                   help="the runs folder to serve (default: runs)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on (default {DEFAULT_PORT}; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only)")
    p.set_defaults(func=main)


def main(args) -> int:
    """Serve until Ctrl-C; returns 0 (see the module docstring)."""
    if not 0 <= args.port <= 65535:
        raise BadInput(f"--port {args.port}: expected 0 to 65535")
    server = make_server(args.runs_dir, args.host, args.port)
    if not _loopback(args.host):
        print(f"trainlab: warning: --host {args.host}: the runs are readable by anyone who "
              "can reach this address", file=sys.stderr)
    port = server.server_address[1]  # the free one taken when --port 0
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving {args.runs_dir} at http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        print("trainlab watch: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
