"""A real PostgreSQL server for the shared-study tests: initdb into a temporary folder, started on a free
loopback port, stopped after the session. Skips with the reason where the server binaries or psycopg are absent."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.processes import free_port


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_url():
    """``postgresql+psycopg://genlab@127.0.0.1:PORT/genlab_test`` of a private server (trust auth, loopback)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (the postgres extra)")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries not found (Debian package `postgresql`; `make setup` installs it)")
    # not under pytest's own temporary folder: that one is private to this user, and the server may run as another
    root = Path(tempfile.mkdtemp(prefix="genlab-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the package's postgres user
        runuser = shutil.which("runuser")
        if not runuser:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        try:
            shutil.chown(root, "postgres")
            shutil.chown(sockets, "postgres")
        except (LookupError, PermissionError) as e:
            pytest.skip(f"no postgres user to run the server as ({e})")
        prefix = [runuser, "-u", "postgres", "--"]
    port = free_port()
    log = root / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)

    made = run(initdb, "-D", str(data), "-U", "genlab", "--auth=trust", "-E", "UTF8")
    if made.returncode:
        pytest.skip(f"initdb failed: {made.stderr.strip()[:300]}")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    started = run(pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    if started.returncode:
        pytest.skip(f"PostgreSQL did not start: {started.stderr.strip()[:300]}")
    try:
        import psycopg

        for _ in range(50):
            try:
                with psycopg.connect(f"host=127.0.0.1 port={port} user=genlab dbname=postgres", autocommit=True) as c:
                    c.execute("CREATE DATABASE genlab_test")
                break
            except psycopg.OperationalError:
                time.sleep(0.2)
        yield f"postgresql+psycopg://genlab@127.0.0.1:{port}/genlab_test"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
