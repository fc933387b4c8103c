"""sse.connect() against a real server on loopback, with faults injected."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

import sluiceway as sw
from clients import open_client
from sluiceway.errors import (
    ConnectError,
    ReadError,
    ReadTimeoutError,
    SSELimitError,
    SSEResponseError,
)
from sluiceway.sse import Event, RetryNotice, connect

if TYPE_CHECKING:
    from .conftest import Connect, Server


def numbers(events: list[Event]) -> list[int]:
    return [event.json()["n"] for event in events]


class TestHappyPath:
    async def test_events_arrive_in_order(self, sse: Connect, sse_server: Server) -> None:
        """A GET stream delivers every event with its type, data and id."""
        stream = sse(f"{sse_server.url}/events?count=5")
        events = await stream.take(5).to_list()
        assert numbers(events) == [1, 2, 3, 4, 5]
        assert {e.event for e in events} == {"tick"}
        assert [e.id for e in events] == ["1", "2", "3", "4", "5"]

    async def test_last_event_id_is_the_last_delivered(
        self, sse: Connect, sse_server: Server
    ) -> None:
        """last_event_id names the last event the consumer got, not one read ahead."""
        stream = sse(f"{sse_server.url}/events?count=50")
        async with stream:
            async for event in stream:
                if event.id == "7":
                    break
        assert stream.last_event_id == "7"

    @pytest.mark.parametrize(("count", "stop"), [(40, 7), (6000, 4321)])
    async def test_last_event_id_inside_a_chunk(
        self, sse: Connect, sse_server: Server, count: int, stop: int
    ) -> None:
        """Events decoded from one chunk but not yet given out do not count as delivered.

        6,000 small events in one write come in chunks of up to 64 KiB, which
        the client feeds to its decoder in slices.
        """
        url = f"{sse_server.url}/burst?count={count}"
        stream = sse(url, reconnect=False)
        assert stream.last_event_id == ""
        async with stream:
            async for event in stream:
                assert stream.last_event_id == event.id
                if event.id == str(stop):
                    break
        assert stream.last_event_id == str(stop)
        rest = await sse(url, reconnect=False, last_event_id=stream.last_event_id).to_list()
        assert numbers(rest) == list(range(stop + 1, count + 1))
        whole = sse(url, reconnect=False)
        assert numbers(await whole.to_list()) == list(range(1, count + 1))
        assert whole.last_event_id == str(count)

    async def test_resume_from_a_saved_id(self, sse: Connect, sse_server: Server) -> None:
        """last_event_id= sends Last-Event-ID, and the server resumes after it."""
        events = await sse(f"{sse_server.url}/events?count=9", last_event_id="6").take(3).to_list()
        assert numbers(events) == [7, 8, 9]

    async def test_callers_client_is_used_and_left_open(
        self, client_kind: str, sse_server: Server
    ) -> None:
        """A client passed in is used with its headers and is not closed."""
        async with open_client(client_kind, headers={"X-Who": "test"}) as client:
            stream = connect(f"{sse_server.url}/who", client=client, reconnect=False)
            assert [e.data for e in await stream.to_list()] == ["test"]
            assert not (client.is_closed if client_kind == "httpx" else client.closed)

    async def test_redirects_are_followed(self, sse: Connect, sse_server: Server) -> None:
        """A 307 to the event stream is followed."""
        events = await sse(f"{sse_server.url}/moved").take(3).to_list()
        assert numbers(events) == [1, 2, 3]

    async def test_post_stream_ends_with_its_body(self, sse: Connect, sse_server: Server) -> None:
        """A POST stream (LLM style) ends at the end of its body, without reconnecting."""
        stream = sse(f"{sse_server.url}/post", method="POST", json={"prompt": "a b c"})
        events = await stream.to_list()
        assert [e.data for e in events][-1] == "[DONE]"
        assert [e.json()["token"] for e in events[:-1]] == ["a", "b", "c"]

    async def test_a_compressed_body_is_decompressed(
        self, sse: Connect, sse_server: Server
    ) -> None:
        """A gzip Content-Encoding is undone before decoding (the body is not read raw)."""
        events = await sse(f"{sse_server.url}/gzip?count=20", reconnect=False).to_list()
        assert numbers(events) == list(range(1, 21))


class TestReconnect:
    async def test_dropped_connections_lose_and_repeat_nothing(
        self, sse: Connect, sse_server: Server
    ) -> None:
        """Dropped mid-event three times: every event once, in order, half events never seen."""
        notices: list[RetryNotice] = []
        url = f"{sse_server.url}/drop?count=12&every=3"
        stream = sse(url, on_reconnect=notices.append)
        events = await stream.take(12).to_list()
        assert numbers(events) == list(range(1, 13))
        assert "999" not in [e.id for e in events]
        assert [n.last_event_id for n in notices[:3]] == ["3", "6", "9"]
        assert all(n.error is not None for n in notices[:3])
        assert {(n.url, n.status, n.attempt) for n in notices[:3]} == {(url, None, 1)}
        assert "Last-Event-ID '3'" in str(notices[0])
        assert stream.reconnection_time == 20

    async def test_the_servers_retry_time_is_waited(self, sse: Connect, sse_server: Server) -> None:
        """After a drop the client waits the server's retry time (20 ms), not its backoff."""
        notices: list[RetryNotice] = []
        stream = sse(
            f"{sse_server.url}/drop?count=4&every=2",
            on_reconnect=notices.append,
            backoff_initial=5,
        )
        with anyio.fail_after(20):
            assert numbers(await stream.take(4).to_list()) == [1, 2, 3, 4]
        assert [n.delay for n in notices] == [pytest.approx(0.02)]

    async def test_a_clean_end_of_a_get_stream_reconnects(
        self, sse: Connect, sse_server: Server
    ) -> None:
        """A GET body that ends is reopened with Last-Event-ID, as EventSource does."""
        notices: list[RetryNotice] = []
        stream = sse(
            f"{sse_server.url}/events?count=4",
            on_reconnect=notices.append,
            backoff_initial=0.01,
            max_reconnects=2,
        )
        assert numbers(await stream.to_list()) == [1, 2, 3, 4]
        assert notices
        assert notices[0].error is None
        assert notices[0].last_event_id == "4"

    async def test_server_restart(self, sse: Connect, fresh_server: Server) -> None:
        """The server goes away mid-stream and comes back: the stream resumes exactly."""
        got: list[int] = []
        stream = sse(
            f"{fresh_server.url}/events?count=30&delay=0.01", backoff_initial=0.05, backoff_max=0.2
        )
        async with stream:
            async for event in stream:
                got.append(event.json()["n"])
                if len(got) == 10:
                    await anyio.to_thread.run_sync(fresh_server.stop)
                    await anyio.to_thread.run_sync(fresh_server.start)
                if len(got) == 30:
                    break
        assert got == list(range(1, 31))

    async def test_max_reconnects_gives_up_with_the_network_error(self, sse: Connect) -> None:
        """Nothing listening: after max_reconnects tries the connection error is raised."""
        with socket_nobody_listens() as url:
            stream = sse(url, max_reconnects=2, backoff_initial=0.01)
            with pytest.raises(ConnectError) as caught:
                await stream.to_list()
        assert caught.value.url == url
        assert caught.value.__cause__ is not None  # the client's own error
        assert url in str(caught.value)

    async def test_a_broken_body_raises_with_its_url(
        self, sse: Connect, sse_server: Server
    ) -> None:
        """A connection dropped mid-body ends the stream with a ReadError naming the URL."""
        got: list[int] = []
        url = f"{sse_server.url}/drop?count=9&every=3"
        stream = sse(url, max_reconnects=0)
        with pytest.raises(ReadError) as info:
            async with stream:
                async for event in stream:
                    got.append(event.json()["n"])
        assert got == [1, 2, 3]
        assert stream.last_event_id == "3"
        assert info.value.url == url
        assert not isinstance(info.value, TimeoutError)
        assert info.value.__cause__ is not None

    async def test_a_stream_that_stalls_after_its_headers(
        self, client_kind: str, sse_server: Server
    ) -> None:
        """A client's read timeout ends a stalled stream with ReadTimeoutError, on either client."""
        got: list[str] = []
        url = f"{sse_server.url}/idle?silence=30"
        async with open_client(client_kind, read_timeout=1.0) as client:
            stream = connect(url, client=client, max_reconnects=0)
            with anyio.fail_after(10), pytest.raises(ReadTimeoutError) as caught:
                async with stream:
                    async for event in stream:
                        got.append(event.id)
        assert got == ["1"]
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.url == url

    async def test_idle_timeout_reconnects_unless_comments_arrive(
        self, sse: Connect, sse_server: Server
    ) -> None:
        """Silence longer than idle_timeout reopens the stream; comments count as activity.

        On a real socket, briefly (the exact times are in test_client_waits.py, on a
        virtual clock): 0.75 s of comments 20 ms apart outlast an idle
        timeout of 0.3 s without a reconnect.
        """
        notices: list[RetryNotice] = []
        quiet = sse(
            f"{sse_server.url}/idle?silence=60",
            idle_timeout=0.3,
            backoff_initial=0.01,
            on_reconnect=notices.append,
        )
        with anyio.fail_after(20):
            events = await quiet.take(2).to_list()
        assert [e.id for e in events] == ["1", "2"]  # the second from a new connection
        assert isinstance(notices[0].error, TimeoutError)
        chatty: list[RetryNotice] = []
        with anyio.fail_after(20):
            events = (
                await sse(
                    f"{sse_server.url}/idle?comments=1&silence=0.75",
                    idle_timeout=0.3,
                    on_reconnect=chatty.append,
                )
                .take(2)
                .to_list()
            )
        assert [e.id for e in events] == ["1", "2"]
        assert chatty == []


class TestRefusals:
    @pytest.mark.parametrize("code", [204, 404, 500, 503])
    async def test_a_status_other_than_200_stops_with_a_typed_error(
        self, sse: Connect, sse_server: Server, code: int
    ) -> None:
        """204 and any non-200 status raise SSEResponseError and are not retried."""
        notices: list[RetryNotice] = []
        stream = sse(f"{sse_server.url}/status/{code}", on_reconnect=notices.append)
        with pytest.raises(SSEResponseError) as caught:
            await stream.to_list()
        assert caught.value.status == code
        assert notices == []
        if code != 204:
            assert "unhappy" in caught.value.body
            assert caught.value.headers["content-type"].startswith("text/plain")

    @pytest.mark.parametrize("client_kind", ["aiohttp"])
    async def test_a_session_that_raises_for_status(
        self, client_kind: str, sse_server: Server
    ) -> None:
        """aiohttp's raise_for_status=True does not turn a refusal into a ClientResponseError."""
        import aiohttp

        async with aiohttp.ClientSession(raise_for_status=True) as session:
            stream = connect(f"{sse_server.url}/status/503", client=session)
            with pytest.raises(SSEResponseError) as caught:
                await stream.to_list()
        assert caught.value.status == 503
        assert caught.value.body == "the server is unhappy"

    @pytest.mark.parametrize("client_kind", ["aiohttp"])
    async def test_a_sessions_total_timeout_does_not_cut_a_stream(
        self, client_kind: str, sse_server: Server
    ) -> None:
        """An event stream outlives aiohttp's total timeout (5 min by default), not its reads."""
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=0.3)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            url = f"{sse_server.url}/events?count=8&delay=0.1"
            events = await connect(url, client=session, reconnect=False).to_list()
        assert numbers(events) == list(range(1, 9))

    async def test_a_wrong_content_type_stops(self, sse: Connect, sse_server: Server) -> None:
        """A 200 that is not text/event-stream raises SSEResponseError with the body start."""
        with pytest.raises(SSEResponseError, match="Content-Type") as caught:
            await sse(f"{sse_server.url}/html").to_list()
        assert caught.value.status == 200
        assert "<html>" in caught.value.body

    def test_bad_arguments(self) -> None:
        """Bad arguments fail at the call."""
        with pytest.raises(TypeError):
            connect(42)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="client"):
            connect("http://x", client=object())
        with pytest.raises(ValueError, match="idle_timeout"):
            connect("http://x", idle_timeout=0)
        with pytest.raises(ValueError, match="max_reconnects"):
            connect("http://x", max_reconnects=-1)


class TestLimits:
    """A line over the limit, sent in small chunks with no line end, is refused however it ends."""

    async def test_a_line_over_the_limit_at_the_end_of_the_body(
        self, sse: Connect, sse_server: Server
    ) -> None:
        got: list[Event] = []
        stream = sse(f"{sse_server.url}/long-line?size=150", max_line_size=100, reconnect=False)
        with pytest.raises(SSELimitError, match="max_line_size"):
            async with stream as events:
                async for event in events:
                    got.append(event)
        assert [e.data for e in got] == ["first"]

    async def test_a_line_over_the_limit_then_a_dropped_connection(
        self, sse: Connect, sse_server: Server
    ) -> None:
        stream = sse(
            f"{sse_server.url}/long-line?size=150&drop=1", max_line_size=100, max_reconnects=0
        )
        with pytest.raises(SSELimitError, match="max_line_size"):
            await stream.to_list()

    async def test_a_line_within_the_limit_is_dropped_with_the_body(
        self, sse: Connect, sse_server: Server
    ) -> None:
        stream = sse(f"{sse_server.url}/long-line?size=100", max_line_size=100, reconnect=False)
        assert [e.data for e in await stream.to_list()] == ["first"]


class TestAsAStream:
    async def test_operators_apply(self, sse: Connect, sse_server: Server) -> None:
        """An EventStream is a Stream: operators and batches work on it."""
        stream = sse(f"{sse_server.url}/events?count=6")
        got = stream.map(Event.json).map(lambda d: d["n"]).filter(lambda n: n % 2).take(3)
        assert await got.to_list() == [1, 3, 5]
        assert isinstance(stream, sw.Stream)


class socket_nobody_listens:
    """A loopback URL on a port where nothing listens."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}/events"

    def __exit__(self, *exc: object) -> None:
        pass
