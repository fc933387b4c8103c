"""connect()'s waits on a virtual clock: idle timeouts, the server's retry, backoff.

A scripted server (``httpx.MockTransport``) plays one body per connection:
bytes to send, seconds to wait, an error to raise. The clock is virtual
(``virtual_time``), so a test asserts the exact second each request came
and each event arrived, and a minute of backoff takes no real time.
"""

from __future__ import annotations

import itertools
from typing import TypeAlias

import anyio
import httpx
import pytest

import virtual_time
from sluiceway.errors import ConnectError, ReadTimeoutError
from sluiceway.sse import Event, RetryNotice, connect

anyio_backend = virtual_time.anyio_backend

#: One step of a body: bytes sent, seconds waited, or an error raised (the connection breaks).
Step: TypeAlias = bytes | float | BaseException


def event(n: int) -> bytes:
    return f"id: {n}\ndata: {n}\n\n".encode()


class _Body(httpx.AsyncByteStream):
    """A body that plays its steps.

    An iterator, not an async generator: nothing is left for the garbage
    collector when the client stops reading it halfway.
    """

    def __init__(self, steps: list[Step]) -> None:
        self._steps = iter(steps)

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        for step in self._steps:
            if isinstance(step, bytes):
                return step
            if isinstance(step, BaseException):
                raise step
            await anyio.sleep(step)
        raise StopAsyncIteration


class Script:
    """A fake event-stream server: connection k plays ``bodies[k]`` (the last one repeats).

    A body that is an exception fails the connection itself (nothing answers).
    """

    def __init__(self, *bodies: list[Step] | BaseException) -> None:
        self.bodies = bodies
        self.requests: list[tuple[float, str | None]] = []  # (when, Last-Event-ID)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((anyio.current_time(), request.headers.get("last-event-id")))
        body = self.bodies[min(len(self.requests), len(self.bodies)) - 1]
        if isinstance(body, BaseException):
            raise body
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=_Body(body))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def times(self, since: float) -> list[float]:
        """When each request came, in seconds from ``since``."""
        return [when - since for when, _ in self.requests]


def data(events: list[Event]) -> list[str]:
    return [e.data for e in events]


class TestIdleTimeout:
    async def test_silence_reconnects_after_exactly_the_idle_timeout(self) -> None:
        """10 s without a byte: the connection is dropped then and reopened after the wait."""
        script = Script([event(1), 1000.0], [event(2), 1000.0])
        notices: list[RetryNotice] = []
        start = anyio.current_time()
        async with script.client() as client:
            stream = connect(
                "http://sse.test/", client=client, idle_timeout=10, on_reconnect=notices.append
            )
            assert data(await stream.take(2).to_list()) == ["1", "2"]
        assert len(notices) == 1
        assert isinstance(notices[0].error, TimeoutError)
        assert notices[0].last_event_id == "1"
        assert script.times(start) == pytest.approx([0, 10 + notices[0].delay])
        assert [last for _, last in script.requests] == [None, "1"]

    async def test_comments_keep_a_quiet_stream_open(self) -> None:
        """A comment every 9 s for three minutes is activity: no reconnect with idle_timeout=10."""
        script = Script([event(1), *[9.0, b": still here\n"] * 20, event(2)])
        notices: list[RetryNotice] = []
        arrived: list[float] = []
        start = anyio.current_time()
        async with script.client() as client:
            stream = connect(
                "http://sse.test/", client=client, idle_timeout=10, on_reconnect=notices.append
            )
            async with stream.take(2) as events:
                async for _ in events:
                    arrived.append(anyio.current_time() - start)
        assert notices == []
        assert arrived == pytest.approx([0, 180])
        assert len(script.requests) == 1

    async def test_the_consumers_own_time_is_not_idle_time(self) -> None:
        """A consumer busy for a minute with one event does not make the connection idle."""
        script = Script([event(1), 1.0, event(2), 1.0, event(3), 1000.0])
        notices: list[RetryNotice] = []
        async with script.client() as client:
            stream = connect(
                "http://sse.test/", client=client, idle_timeout=10, on_reconnect=notices.append
            )
            got: list[str] = []
            async with stream.take(3) as events:
                async for item in events:
                    got.append(item.data)
                    await anyio.sleep(60)
        assert got == ["1", "2", "3"]
        assert notices == []
        assert len(script.requests) == 1

    async def test_a_gap_just_over_the_timeout_reconnects(self) -> None:
        """Comments 9 s apart keep it open; one gap of 10.5 s does not."""
        script = Script([event(1), 9.0, b":\n", 9.0, b":\n", 10.5, event(2)], [event(2)])
        notices: list[RetryNotice] = []
        start = anyio.current_time()
        async with script.client() as client:
            stream = connect(
                "http://sse.test/", client=client, idle_timeout=10, on_reconnect=notices.append
            )
            assert data(await stream.take(2).to_list()) == ["1", "2"]
        assert [type(n.error) for n in notices] == [ReadTimeoutError]
        assert script.times(start) == pytest.approx([0, 28 + notices[0].delay])


class TestReconnectWaits:
    async def test_the_servers_retry_replaces_the_backoff(self) -> None:
        """After a drop the next request comes the server's retry (20 ms) later, not ~5 s."""
        drop = httpx.ReadError("dropped")
        script = Script([b"retry: 20\n\n", event(1), drop], [event(2), drop])
        notices: list[RetryNotice] = []
        start = anyio.current_time()
        async with script.client() as client:
            stream = connect(
                "http://sse.test/",
                client=client,
                backoff_initial=5,
                on_reconnect=notices.append,
            )
            assert data(await stream.take(2).to_list()) == ["1", "2"]
            assert stream.reconnection_time == 20
        assert [n.delay for n in notices] == [0.02]
        assert script.times(start) == pytest.approx([0, 0.02])

    async def test_backoff_doubles_up_to_its_ceiling_with_jitter(self) -> None:
        """Nothing answers: waits of half to all of 1, 2, 4, 8, 8, 8 s, then the error."""
        refused = httpx.ConnectError("nobody there")
        script = Script(refused)
        notices: list[RetryNotice] = []
        start = anyio.current_time()
        async with script.client() as client:
            stream = connect(
                "http://sse.test/",
                client=client,
                max_reconnects=6,
                backoff_initial=1,
                backoff_max=8,
                on_reconnect=notices.append,
            )
            with pytest.raises(ConnectError):
                await stream.to_list()
        ceilings = [1, 2, 4, 8, 8, 8]
        assert [n.attempt for n in notices] == [1, 2, 3, 4, 5, 6]
        for notice, ceiling in zip(notices, ceilings, strict=True):
            assert ceiling / 2 <= notice.delay <= ceiling
            assert isinstance(notice.error, ConnectError)
            assert notice.error.__cause__ is refused  # the client's own, mapped once
        times = script.times(start)
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert gaps == pytest.approx([n.delay for n in notices])

    async def test_an_event_starts_the_backoff_over(self) -> None:
        """A connection that delivered an event starts the attempts over: short waits again."""
        refused = httpx.ConnectError("nobody there")
        drop = httpx.ReadError("dropped")
        script = Script(refused, refused, [event(1), drop], refused, [event(2)])
        notices: list[RetryNotice] = []
        async with script.client() as client:
            stream = connect(
                "http://sse.test/",
                client=client,
                backoff_initial=1,
                backoff_max=100,
                on_reconnect=notices.append,
            )
            assert data(await stream.take(2).to_list()) == ["1", "2"]
        assert [n.attempt for n in notices] == [1, 2, 1, 2]
        assert [n.last_event_id for n in notices] == ["", "", "1", "1"]
        assert all(0.5 <= n.delay <= 2 for n in notices)

    async def test_a_clean_end_of_a_get_body_waits_before_reopening(self) -> None:
        """The body ends: the next request comes after the backoff, with Last-Event-ID."""
        script = Script([event(1)], [event(2)])
        notices: list[RetryNotice] = []
        start = anyio.current_time()
        async with script.client() as client:
            stream = connect(
                "http://sse.test/", client=client, backoff_initial=3, on_reconnect=notices.append
            )
            assert data(await stream.take(2).to_list()) == ["1", "2"]
        assert [(n.attempt, n.error) for n in notices] == [(1, None)]
        assert 1.5 <= notices[0].delay <= 3
        assert script.times(start) == pytest.approx([0, notices[0].delay])
        assert [last for _, last in script.requests] == [None, "1"]
