"""A throwaway PostgreSQL cluster of our own, for what the shared server must not be put through.

Invalidating a replication slot needs ``max_slot_wal_keep_size``, a setting
of the whole server: set on the shared test server, it would invalidate
other tests' slots. So the tests that need it start a cluster of their own
from the same PostgreSQL binaries (wal2json included): initdb into a
temporary directory, 1 MB WAL segments so that a few of them are cheap to
write, no fsync, loopback only, and everything removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Settings of every scratch cluster, besides the ones a test asks for.
BASE_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "wal_level": "logical",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_wal_size": "4MB",
    "min_wal_size": "2MB",
    "max_replication_slots": "4",
}


def _bindir() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    found = Path(out.stdout.strip())
    return found if (found / "initdb").exists() else None


def _as_user() -> list[str]:
    """The command prefix that runs the server as a user it accepts (never root)."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        runuser = None
    if runuser is None:
        pytest.skip("running as root without a postgres user to start a scratch cluster as")
    return [runuser, "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def scratch_cluster(**settings: str) -> Iterator[str]:
    """Start a private PostgreSQL with ``settings``; its DSN (database ``postgres``)."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (initdb) to start a scratch cluster with")
    prefix = _as_user()
    root = Path(tempfile.mkdtemp(prefix="sw-scratch-pg-"))
    data = root / "data"
    started = False
    try:
        if prefix:
            shutil.chown(root, user="postgres")
        subprocess.run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--wal-segsize=1",
                "--no-sync",
            ],
            capture_output=True,
            check=True,
        )
        port = _free_port()
        lines = [f"{k} = {v}" for k, v in {**BASE_SETTINGS, "port": str(port), **settings}.items()]
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(lines) + "\n")
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            check=True,
        )
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def allow_wal2json(dsn: str) -> None:
    """On a server with an output-plugin allow-list (``output_plugin_libraries``), add wal2json."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute("SHOW output_plugin_libraries")
        except psycopg.errors.UndefinedObject:
            return  # PostgreSQL as released: every installed plugin may be used
        conn.execute("ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', 'wal2json'")
        conn.execute("SELECT pg_reload_conf()")
    for _ in range(50):  # the reload is a signal: wait until a new session sees it
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SHOW output_plugin_libraries").fetchone()
        if row is not None and "wal2json" in row[0]:
            return
        time.sleep(0.1)
    raise AssertionError("the scratch cluster did not take output_plugin_libraries")


def burn_wal(dsn: str, table: str, segments: int = 4) -> None:
    """Write and switch away from a few WAL segments, then checkpoint (which removes old WAL)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(segments):
            conn.execute(
                f"INSERT INTO {table} SELECT -g, repeat('x', 500) FROM generate_series(1, 300) g"
            )
            conn.execute(f"DELETE FROM {table} WHERE id < 0")
            conn.execute("SELECT pg_switch_wal()")
        conn.execute("CHECKPOINT")
