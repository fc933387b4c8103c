"""Where the broker tests find Redis, and the check that it answers."""

from __future__ import annotations

import importlib.util
import os

import services

#: Where the Redis tests connect; override with SLUICEWAY_TEST_REDIS.
REDIS_URL = os.environ.get("SLUICEWAY_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_url() -> str:
    """The test Redis's URL, once it is known to answer; else a skip (a failure in CI)."""
    why = services.reachable(REDIS_URL, default_port=6379)
    if why is not None:
        services.unavailable(f"Redis not available: {why}")
    if importlib.util.find_spec("redis") is None:
        services.unavailable("Redis tests need redis-py (pip install 'sluiceway[redis]')")
    return REDIS_URL
