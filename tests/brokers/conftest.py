"""The real Redis on this machine (127.0.0.1:6379), one stream key per test.

redis-py's asyncio client runs on asyncio alone: these tests run on asyncio and
uvloop; on trio redis_stream() raises UnsupportedBackendError (tested on its own).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from typing import TYPE_CHECKING, Any

import pytest

import services

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: Where the Redis tests connect; override with SLUICEWAY_TEST_REDIS.
REDIS_URL = os.environ.get("SLUICEWAY_TEST_REDIS", "redis://127.0.0.1:6379/0")

ASYNCIO_BACKENDS: list[Any] = [
    pytest.param("asyncio", id="asyncio"),
    pytest.param(
        ("asyncio", {"use_uvloop": True}),
        id="uvloop",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
        ),
    ),
]


@pytest.fixture(params=ASYNCIO_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


def redis_url() -> str:
    """The test Redis's URL, once it is known to answer; else a skip (a failure in CI)."""
    why = services.reachable(REDIS_URL, default_port=6379)
    if why is not None:
        services.unavailable(f"Redis not available: {why}")
    if importlib.util.find_spec("redis") is None:
        services.unavailable("Redis tests need redis-py (pip install 'sluiceway[redis]')")
    return REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    """A redis.asyncio client (str replies), closed after the test."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url(), decode_responses=True)
    try:
        yield client
    finally:
        closing = getattr(client, "aclose", None) or client.close  # aclose from redis-py 5.0.1
        await closing()


@pytest.fixture
async def key(redis: Any) -> AsyncIterator[str]:
    """A stream key of this test's own; it and its dead letter are deleted after."""
    name = f"sluiceway-test:{uuid.uuid4().hex}"
    yield name
    await redis.delete(name, f"{name}:dead", f"{name}:dead:errors")
