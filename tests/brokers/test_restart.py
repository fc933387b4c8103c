"""The broker is restarted mid-stream: the consumer reconnects, and nothing is lost.

Each test runs a server of its own (see ``private_server``), killed with
SIGKILL while the consumer is reading and acknowledging, and started again on
the same port a moment later with the same data directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest
from private_server import PrivateServer

from sluiceway.brokers import Delivery, jetstream, redis_stream

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from pathlib import Path

    from sluiceway import Stream

pytestmark = pytest.mark.parametrize("anyio_backend", ["asyncio"])

TOTAL = 300
#: Handled before the kill.
BEFORE = 100
#: Seconds the server stays down.
DOWN = 1.0


async def consume_through_a_restart(
    server: PrivateServer,
    deliveries: Stream[Delivery],
    number: Callable[[Delivery], int],
    settled: Callable[[], Awaitable[bool]],
    *,
    kill: bool = True,
) -> list[int]:
    """Handle and acknowledge every delivery; stop the server after BEFORE, restart it.

    ``kill``: SIGKILL (a crash), else SIGTERM (a restart by its operator).
    """
    handled: list[int] = []
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                async with deliveries:
                    async for delivery in deliveries:
                        handled.append(number(delivery))
                        await delivery.ack()
                        await anyio.sleep(0.001)

            tg.start_soon(consume)
            while len(handled) < BEFORE:  # noqa: ASYNC110  # filled by the consumer
                await anyio.sleep(0.005)
            server.kill() if kill else server.stop()
            await anyio.sleep(DOWN)
            await anyio.to_thread.run_sync(server.start)
            while set(handled) != set(range(TOTAL)) or not await settled():  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the consumer's list and the server's state
            tg.cancel_scope.cancel()
    return handled


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateServer]:
    server = PrivateServer(
        "redis-server",
        ["--port", "{port}", "--bind", "127.0.0.1", "--dir", "{dir}", "--save", "",
         "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"],
        tmp_path,
    )  # fmt: skip
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[PrivateServer]:
    server = PrivateServer(
        "nats-server", ["-a", "127.0.0.1", "-p", "{port}", "-js", "-sd", "{dir}"], tmp_path
    )
    server.start()
    yield server
    server.stop()


async def test_redis_restarted_mid_stream(anyio_backend: str, redis_server: PrivateServer) -> None:
    """SIGKILL; Redis keeps every write (appendfsync always), so only in-flight ones come twice."""
    import redis.asyncio

    client = redis.asyncio.Redis(port=redis_server.port, decode_responses=True)
    try:
        for n in range(TOTAL):
            await client.xadd("orders", {"n": str(n)})
        deliveries = redis_stream(
            client, "orders", group="g", consumer="c", block=0.1, max_in_flight=20
        )

        async def settled() -> bool:
            return bool((await client.xpending("orders", "g"))["pending"] == 0)

        handled = await consume_through_a_restart(
            redis_server, deliveries, lambda d: int(d.value["n"]), settled
        )
    finally:
        await (getattr(client, "aclose", None) or client.close)()
    assert set(handled) == set(range(TOTAL))
    # At least once: only what was in flight at the kill may come twice.
    assert len(handled) - TOTAL <= 20


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
async def test_jetstream_restarted_mid_stream(
    anyio_backend: str, nats_server: PrivateServer, kill: bool
) -> None:
    import nats

    url = f"nats://127.0.0.1:{nats_server.port}"
    nc = await nats.connect(url, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream()
        await js.add_stream(name="ORDERS", subjects=["orders"])
        for n in range(TOTAL):
            await js.publish("orders", str(n).encode())
        deliveries = jetstream(
            js, "orders", durable="d", ack_wait=1.0, fetch_timeout=0.2, max_in_flight=20
        )

        async def settled() -> bool:
            state = await js.consumer_info("ORDERS", "d")
            return bool(state.num_ack_pending == 0 and state.num_pending == 0)

        handled = await consume_through_a_restart(
            nats_server, deliveries, lambda d: int(d.value), settled, kill=kill
        )
    finally:
        await nc.close()
    assert set(handled) == set(range(TOTAL))
    if not kill:
        assert len(handled) - TOTAL <= 20
    # After a SIGKILL the server restarts from the consumer state it last wrote
    # to disk (its file store syncs on an interval), so acknowledgements it had
    # confirmed just before may be gone and those messages come again: still at
    # least once, and nothing lost, but more duplicates than were in flight.
