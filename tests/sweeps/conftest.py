"""A throw-away PostgreSQL cluster, the test-only experiment and the sweep CLI helpers.

The cluster runs from Debian's `postgresql` binaries (`/usr/lib/postgresql/*/bin`) on
127.0.0.1 with a free port, as the `postgres` user when the tests run as root. When it
cannot start, the tests that need it fail: they are never skipped silently (set
TRAINLAB_TESTS_NO_POSTGRES=1 to skip them on a machine without PostgreSQL).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import sweep_fake  # noqa: E402

PG_PASSWORD = "trainlab-s3cret"


def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()])
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """postgresql://trainlab:PASSWORD@127.0.0.1:PORT/trainlab of a fresh cluster."""
    if os.environ.get("TRAINLAB_TESTS_NO_POSTGRES") == "1":
        pytest.skip("TRAINLAB_TESTS_NO_POSTGRES=1")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed (initdb/pg_ctl not found under "
                    "/usr/lib/postgresql/*/bin): apt-get install postgresql")
    base = Path(tempfile.mkdtemp(prefix="trainlab-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root but there is no 'postgres' user to run the server")
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    pwfile = base / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    if prefix:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    data, log = base / "data", base / "server.log"
    port = free_port()

    def run(*cmd: str) -> None:
        out = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            pytest.fail(f"{' '.join(cmd[:2])} failed: {out.stderr.strip()} {server_log[-2000:]}")

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
        "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync")
    opts = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", opts,
        "start")
    try:
        psql = [str(bindir / "psql"), "-h", str(base), "-p", str(port), "-U", "postgres",
                "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c"]
        run(*psql, f"CREATE ROLE trainlab LOGIN PASSWORD '{PG_PASSWORD}'")
        run(*psql, "CREATE DATABASE trainlab OWNER trainlab")
        yield f"postgresql://trainlab:{PG_PASSWORD}@127.0.0.1:{port}/trainlab"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fake_exp():
    """The test-only experiment, registered in this process for the test's duration."""
    sweep_fake.register()
    yield sweep_fake.EXP_ID
    sweep_fake.unregister()
