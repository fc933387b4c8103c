"""The real Redis (127.0.0.1:6379) and NATS (127.0.0.1:4222, JetStream) on this machine.

One stream key (Redis) or subject and stream (JetStream) per test. redis-py's
asyncio client and nats-py run on asyncio alone: these tests run on asyncio and
uvloop; on trio redis_stream() and jetstream() raise UnsupportedBackendError
(tested on their own).
"""

from __future__ import annotations

import contextlib
import importlib.util
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from nats_support import nats_url
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


@pytest.fixture
async def js() -> AsyncIterator[Any]:
    """A nats-py JetStream context on the test server, its connection closed after the test."""
    import nats

    nc = await nats.connect(nats_url(), allow_reconnect=False)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@pytest.fixture
async def subject(js: Any) -> AsyncIterator[str]:
    """A subject of this test's own, held by a stream of its own; both streams deleted after.

    The stream is named after the subject (dots made underscores); the dead
    letter's stream, if jetstream() made one, goes too.
    """
    import nats.js.errors

    token = uuid.uuid4().hex
    name = f"sluiceway-test.{token}"
    await js.add_stream(name=f"SLUICEWAY_TEST_{token}", subjects=[name])
    yield name
    for stream in (f"SLUICEWAY_TEST_{token}", f"DEAD_sluiceway-test_{token}_dead"):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream)
