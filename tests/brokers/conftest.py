"""The real Redis on this machine (127.0.0.1:6379), one stream key per test.

redis-py's asyncio client runs on asyncio alone: these tests run on asyncio and
uvloop; on trio redis_stream() raises UnsupportedBackendError (tested on its own).
"""

from __future__ import annotations

import importlib.util
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from redis_support import redis_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

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
