"""The real services some tests talk to: reachable, or a one-line skip.

On a laptop a missing service skips its tests with a one-line reason; with
`SLUICEWAY_REQUIRE_SERVICES=1` (set by `.ci/run`) it fails them instead, so CI
can never pass by skipping.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

REQUIRED = os.environ.get("SLUICEWAY_REQUIRE_SERVICES") == "1"

#: Where the PostgreSQL tests connect; override with SLUICEWAY_TEST_POSTGRES.
POSTGRES_DSN = os.environ.get("SLUICEWAY_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


def unavailable(reason: str) -> NoReturn:
    """Skip the test with `reason`, or fail it when the services are required."""
    if REQUIRED:
        pytest.fail(f"{reason} (SLUICEWAY_REQUIRE_SERVICES=1: required here)", pytrace=False)
    pytest.skip(reason)


def reachable(url: str, *, default_port: int, timeout: float = 2.0) -> str | None:
    """None when a TCP connection to the URL's host and port opens, else why not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"nothing answers on {host}:{port} ({exc.strerror or exc})"


def postgres_dsn() -> str:
    """The test PostgreSQL's DSN after checking that it answers a query."""
    why = reachable(POSTGRES_DSN, default_port=5432)
    if why is not None:
        unavailable(f"PostgreSQL not available: {why}")
    try:
        import psycopg
    except ImportError:
        unavailable("PostgreSQL tests need psycopg (pip install 'sluiceway[postgres]')")
    try:
        with psycopg.connect(POSTGRES_DSN, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL at {POSTGRES_DSN} refused the tests: {exc}".splitlines()[0])
    return POSTGRES_DSN
