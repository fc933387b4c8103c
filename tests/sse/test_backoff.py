"""SSE's reconnect waits come from the library's one backoff policy (http/_policy.py).

The random source is injected, so every delay is known in advance: each
notice's delay must be exactly what ``backoff_delay`` gives for that attempt
and that random draw. A MockTransport plays the server: each connection
either fails (a network error) or sends a body that ends.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from itertools import cycle

import httpx
import pytest

from sluiceway._transport._backoff import backoff_delay
from sluiceway.errors import ConnectError
from sluiceway.sse import DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_LINE_SIZE, RetryNotice, connect
from sluiceway.sse._client import EventStream, _ConnectionLoop, _ConnectOptions

URL = "http://sse.test/events"
INITIAL, MAXIMUM = 0.001, 0.004
#: The random draws, in turn: the jitter's extremes and a middle.
DRAWS = (0.0, 0.999, 0.5, 0.25)


def draws() -> Callable[[], float]:
    """A random source that gives DRAWS over and over (each call the next)."""
    it: Iterator[float] = cycle(DRAWS)
    return lambda: next(it)


def expected(attempts: list[int]) -> list[float]:
    """The delays the policy gives for these attempts, drawing as the client does."""
    rand = draws()
    return [backoff_delay(n, INITIAL, MAXIMUM, rand) for n in attempts]


#: What one connection does: fail, or send this body (which then ends).
Action = bytes | None


def serving(actions: list[Action]) -> httpx.AsyncClient:
    """A client whose n-th connection does actions[n] (a network error once they run out)."""
    todo = iter(actions)

    def handle(request: httpx.Request) -> httpx.Response:
        body = next(todo, None)
        if body is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def stream(
    client: httpx.AsyncClient, rand: Callable[[], float], **options: object
) -> tuple[EventStream, list[RetryNotice]]:
    """An event stream like connect()'s, with the backoff's random source injected."""
    notices: list[RetryNotice] = []
    base = _ConnectOptions(
        url=URL,
        method="GET",
        headers={},
        json=None,
        last_event_id=None,
        reconnect=True,
        max_reconnects=None,
        idle_timeout=None,
        backoff_initial=INITIAL,
        backoff_max=MAXIMUM,
        max_line_size=DEFAULT_MAX_LINE_SIZE,
        max_event_size=DEFAULT_MAX_EVENT_SIZE,
        on_reconnect=notices.append,
    )
    chosen = dataclasses.replace(base, **options)  # type: ignore[arg-type]
    return EventStream(_ConnectionLoop(client, chosen, rand=rand)), notices


def never() -> float:
    raise AssertionError("the backoff drew a random number: the server's retry should win")


class TestBackoff:
    async def test_each_delay_is_the_policys(self) -> None:
        """A server down for good: the n-th reconnect waits backoff_delay(n), then the error."""
        async with serving([]) as client:
            events, notices = stream(client, draws(), max_reconnects=6)
            with pytest.raises(ConnectError):
                await events.to_list()
        assert [n.attempt for n in notices] == [1, 2, 3, 4, 5, 6]
        assert [n.delay for n in notices] == expected([1, 2, 3, 4, 5, 6])
        assert max(n.delay for n in notices) <= MAXIMUM
        assert {(n.url, n.status, n.last_event_id) for n in notices} == {(URL, None, "")}
        assert all(isinstance(n.error, ConnectError) for n in notices)
        assert all(isinstance(n.error.__cause__, httpx.ConnectError) for n in notices)

    async def test_a_good_connection_starts_the_backoff_over(self) -> None:
        """After a connection that delivered events, the next wait is attempt 1's again."""
        actions: list[Action] = [b"id: 1\ndata: a\n\n", None, None, b"id: 2\ndata: b\n\n", None]
        actions.append(b"id: 3\ndata: c\n\n")
        async with serving(actions) as client:
            events, notices = stream(client, draws())
            got = await events.take(3).to_list()
        assert [e.data for e in got] == ["a", "b", "c"]
        assert [n.attempt for n in notices] == [1, 2, 3, 1, 2]
        assert [n.delay for n in notices] == expected([1, 2, 3, 1, 2])
        assert [n.last_event_id for n in notices] == ["1", "1", "1", "2", "2"]
        assert [n.error is None for n in notices] == [True, False, False, True, False]

    async def test_the_servers_retry_wins_over_the_policy(self) -> None:
        """Once the server sent retry: 3, every wait is 3 ms and no random number is drawn."""
        actions: list[Action] = [b"retry: 3\nid: 1\ndata: a\n\n", None, b"id: 2\ndata: b\n\n"]
        async with serving(actions) as client:
            events, notices = stream(client, never)
            got = await events.take(2).to_list()
        assert [e.data for e in got] == ["a", "b"]
        assert [(n.attempt, n.delay) for n in notices] == [(1, 0.003), (2, 0.003)]
        assert events.reconnection_time == 3

    async def test_a_long_outage_stays_at_the_cap(self) -> None:
        """Over 1,024 failed reconnects in a row still wait backoff_max (no OverflowError)."""
        async with serving([]) as client:
            events, notices = stream(
                client, lambda: 0.5, max_reconnects=1030, backoff_initial=1e-6, backoff_max=1e-6
            )
            with pytest.raises(ConnectError):
                await events.to_list()
        assert len(notices) == 1030
        assert {n.delay for n in notices} == {0.75e-6}


class _Stop(Exception):
    """Raised by a notice callback: the stream ends before it sleeps."""


class TestDefaults:
    def test_connect_keeps_its_documented_backoff(self) -> None:
        """connect() backs off from 1 s to at most 30 s, as documented."""
        parameters = inspect.signature(connect).parameters
        assert parameters["backoff_initial"].default == 1.0
        assert parameters["backoff_max"].default == 30.0

    async def test_connects_first_wait_is_the_policys_first(self) -> None:
        """connect() as users call it: the first reconnect waits half to all of 1 s."""
        notices: list[RetryNotice] = []

        def stop(notice: RetryNotice) -> None:
            notices.append(notice)
            raise _Stop

        async with serving([]) as client:
            with pytest.raises(_Stop):
                await connect(URL, client=client, on_reconnect=stop).to_list()
        assert len(notices) == 1
        assert 0.5 <= notices[0].delay <= 1.0
