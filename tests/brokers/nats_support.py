"""Where the JetStream tests find NATS, and the check that it answers."""

from __future__ import annotations

import importlib.util
import os

import services

#: Where the NATS tests connect (a server with JetStream); override with SLUICEWAY_TEST_NATS.
NATS_URL = os.environ.get("SLUICEWAY_TEST_NATS", "nats://127.0.0.1:4222")


def nats_url() -> str:
    """The test NATS server's URL, once it answers; else a skip (a failure in CI)."""
    why = services.reachable(NATS_URL, default_port=4222)
    if why is not None:
        services.unavailable(f"NATS not available: {why}")
    if importlib.util.find_spec("nats") is None:
        services.unavailable("JetStream tests need nats-py (pip install 'sluiceway[nats]')")
    return NATS_URL
