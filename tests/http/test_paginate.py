"""paginate() against a real paginated API on loopback, each style, with faults injected."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

import sluiceway as sw
from clients import open_client
from sluiceway.errors import (
    BadPageError,
    ConnectError,
    CrossOriginError,
    EmptyPagesError,
    HTTPStatusError,
    PageTooLargeError,
    ReadError,
    ReadTimeoutError,
    RepeatedPageError,
    RetriesExhaustedError,
)
from sluiceway.http import (
    BodyCursor,
    Custom,
    LastItemCursor,
    LinkHeader,
    NextUrl,
    Offset,
    Page,
    PageNumber,
    Reply,
    Request,
    Retry,
    RetryNotice,
    Strategy,
    pages,
    paginate,
    parse_link_header,
)

if TYPE_CHECKING:
    from .conftest import Server

#: What every route of the test API serves (conftest.ITEMS).
TOTAL = 23
ITEMS: list[dict[str, Any]] = [{"id": f"it{n:03d}", "n": n} for n in range(TOTAL)]

#: Retries that do not make a test wait.
FAST = Retry(attempts=3, backoff_initial=0.01, backoff_max=0.02)

#: (route, strategy, extra params) for every built-in style; each serves ITEMS.
STYLES: dict[str, tuple[str, Strategy, dict[str, Any]]] = {
    "body_cursor": (
        "/cursor",
        BodyCursor(items="members", cursor="response_metadata.next_cursor"),
        {},
    ),
    "last_item_cursor": ("/stripe", LastItemCursor(), {}),
    "link_header": ("/github", LinkHeader(), {"per_page": 5}),
    "next_url": ("/drf", NextUrl(), {}),
    "page_number": ("/numbered", PageNumber(items="data"), {}),
    "offset": ("/offset", Offset(items="items", limit=5), {}),
}


def next_link(reply: Reply) -> str | None:
    """The target of the reply's Link header with rel="next", if any."""
    for target, params in parse_link_header(reply.headers.get("link", "")):
        if params.get("rel") == "next":
            return target
    return None


def open_(http: Any, api: Server, style: str, key: str, **options: Any) -> sw.Stream[Any]:
    """The items of ``style``'s route, sent with the client ``http``."""
    route, strategy, params = STYLES[style]
    extra = options.pop("params", {})
    return paginate(
        http,
        api.url + route,
        strategy=strategy,
        params={"key": key, **params, **extra},
        **options,
    )


#: Seconds to wait for a request that must not come: a loopback request takes a few ms.
QUIET = 0.15


async def until_requested(api: Server, key: str, count: int) -> None:
    """Wait until the server has seen ``count`` requests of ``key`` (a hang fails in 10 s)."""
    # Polled: the requests are counted in the server's thread, nothing here can signal it.
    with anyio.fail_after(10):
        while len(api.requests(key)) < count:  # noqa: ASYNC110
            await anyio.sleep(0.005)


async def collect(stream: sw.Stream[Any]) -> tuple[list[Any], BaseException | None]:
    """The items a stream gave before it ended, and the error it ended with (if any)."""
    got: list[Any] = []
    try:
        async with stream:
            async for item in stream:
                got.append(item)
    except Exception as exc:
        return got, exc
    return got, None


class TestStyles:
    @pytest.mark.parametrize("style", list(STYLES))
    async def test_every_style_gives_the_exact_items(
        self, http: Any, api: Server, key: str, style: str
    ) -> None:
        """Each style pages through the server to exactly the items, in order, once each."""
        assert await open_(http, api, style, key).to_list() == ITEMS
        requests = api.requests(key)
        assert all("key=" in url for url in requests)  # parameters persist across pages

    @pytest.mark.parametrize("prefetch", [0, 1, 3])
    async def test_prefetch_does_not_change_the_items(
        self, http: Any, api: Server, key: str, prefetch: int
    ) -> None:
        """Sequential or read ahead, the same items in the same order."""
        assert await open_(http, api, "body_cursor", key, prefetch=prefetch).to_list() == ITEMS

    async def test_next_url_keeps_the_callers_parameters(
        self, http: Any, api: Server, key: str
    ) -> None:
        """A relative next URL that lacks the caller's parameters gets them back."""
        await open_(http, api, "next_url", key, params={"extra": "1"}).to_list()
        requests = api.requests(key)
        assert len(requests) == 5
        assert all("extra=1" in url for url in requests)
        assert "page=5" in requests[-1]

    async def test_the_urls_own_query_persists(self, http: Any, api: Server, key: str) -> None:
        """Parameters written in the first URL persist like params= ones."""
        first = httpx.URL(f"{api.url}/drf", params={"key": key, "extra": "2"})
        assert await paginate(http, first, strategy=NextUrl()).to_list() == ITEMS
        assert all("extra=2" in url for url in api.requests(key))

    async def test_page_number_stops_at_an_empty_page(
        self, http: Any, api: Server, key: str
    ) -> None:
        """Without a total, page numbers go on until an empty page."""
        await open_(http, api, "page_number", key).to_list()
        assert len(api.requests(key)) == 6

    @pytest.mark.parametrize(
        "strategy",
        [
            PageNumber(items="data", total="meta.total"),
            PageNumber(items="data", total_pages="meta.pages"),
        ],
    )
    async def test_page_number_with_a_total_saves_a_request(
        self, http: Any, api: Server, key: str, strategy: PageNumber
    ) -> None:
        """With the total (items or pages) known, no request is made for the empty page."""
        stream = paginate(http, f"{api.url}/numbered", strategy=strategy, params={"key": key})
        assert await stream.to_list() == ITEMS
        assert len(api.requests(key)) == 5

    async def test_offset_follows_a_server_that_caps_the_limit(
        self, http: Any, api: Server, key: str
    ) -> None:
        """Asked for 10 a page, the server gives 7: offsets advance by what came."""
        stream = paginate(
            http,
            f"{api.url}/offset",
            strategy=Offset(items="items", limit=10, total="total"),
            params={"key": key},
        )
        assert await stream.to_list() == ITEMS
        requests = api.requests(key)
        assert [httpx.URL(url).params["offset"] for url in requests] == ["0", "7", "14", "21"]
        assert all(httpx.URL(url).params["limit"] == "10" for url in requests)

    async def test_page_number_can_start_at_zero(self, http: Any, api: Server, key: str) -> None:
        """start= sets the first page's number."""
        stream = paginate(
            http,
            f"{api.url}/numbered",
            strategy=PageNumber(items="data", start=2, total_pages="meta.pages"),
            params={"key": key},
        )
        assert await stream.to_list() == ITEMS[5:]

    async def test_a_callable_strategy(self, http: Any, api: Server, key: str) -> None:
        """A bare callable maps the last response to the next request; the body is the list."""

        def follow(reply: Reply) -> str | None:
            return next_link(reply)

        stream = paginate(
            http, f"{api.url}/github", strategy=follow, params={"key": key, "per_page": 5}
        )
        assert await stream.to_list() == ITEMS

    async def test_custom_with_an_items_path(self, http: Any, api: Server, key: str) -> None:
        """Custom(next=..., items=...) reads the items from a path of the body."""

        def follow(reply: Reply) -> Request | None:
            cursor = reply.json()["response_metadata"]["next_cursor"]
            if not cursor:
                return None
            return Request(reply.url.copy_set_param("cursor", cursor))

        stream = paginate(
            http,
            f"{api.url}/cursor",
            strategy=Custom(next=follow, items="members"),
            params={"key": key},
        )
        assert await stream.to_list() == ITEMS

    async def test_a_custom_post_strategy_resumes_with_its_body(
        self, http: Any, api: Server, key: str
    ) -> None:
        """A custom strategy may POST; the position keeps the next request's body."""

        def follow(reply: Reply) -> Request | None:
            nxt = reply.body["next"]
            if nxt is None:
                return None
            return Request(reply.url, "POST", json={"after": nxt})

        def search(**options: Any) -> sw.Stream[Any]:
            return paginate(
                http,
                f"{api.url}/search",
                strategy=Custom(next=follow, items="hits"),
                params={"key": key},
                **options,
            )

        head = search(method="POST", json={"after": 0}, max_pages=2)
        assert await head.to_list() == ITEMS[:10]
        saved = head.position
        assert (saved["method"], json.loads(saved["content"])) == ("POST", {"after": 10})
        assert await search(resume=json.loads(json.dumps(saved))).to_list() == ITEMS[10:]

    async def test_the_callers_client_is_used_and_left_open(
        self, client_kind: str, api: Server, key: str
    ) -> None:
        """A client passed in sends every request (base_url, headers) and stays open."""
        async with open_client(client_kind, base_url=api.url) as client:
            stream = paginate(client, "/stripe", strategy=LastItemCursor(), params={"key": key})
            assert await stream.to_list() == ITEMS
            assert not (client.is_closed if client_kind == "httpx" else client.closed)

    async def test_an_httpx_request_from_a_custom_strategy_still_works(
        self, api: Server, key: str
    ) -> None:
        """next() returning an httpx.Request (the old API) is sent, with a DeprecationWarning."""

        def follow(reply: Reply) -> httpx.Request | None:
            nxt = next_link(reply)
            return None if nxt is None else httpx.Request("GET", nxt, headers={"X-Old": "1"})

        async with httpx.AsyncClient() as client:
            stream = paginate(
                client, f"{api.url}/github", strategy=follow, params={"key": key, "per_page": 5}
            )
            with pytest.warns(DeprecationWarning, match="sluiceway.http.Request"):
                assert await stream.to_list() == ITEMS

    async def test_pages_give_responses_and_positions(
        self, http: Any, api: Server, key: str
    ) -> None:
        """pages() gives Page objects: items, the read response, the body and a position."""
        got = await pages(
            http, f"{api.url}/github", strategy=LinkHeader(), params={"key": key, "per_page": 5}
        ).to_list()
        assert [page.number for page in got] == [1, 2, 3, 4, 5]
        assert [item for page in got for item in page.items] == ITEMS
        assert all(isinstance(page, Page) for page in got)
        assert got[0].response.status == 200
        assert got[0].response.url.params["key"] == key
        assert got[0].response.json() == ITEMS[:5]
        assert 'rel="last"' in got[0].response.headers["link"]
        assert got[0].body == ITEMS[:5]
        assert got[-1].position["url"] is None  # the end
        assert got[1].position["items"] == 10

    async def test_pages_method_matches_the_function(
        self, http: Any, api: Server, key: str
    ) -> None:
        """paginate(...).pages() is pages(...)."""
        got = await open_(http, api, "offset", key).pages().to_list()
        assert [len(page.items) for page in got] == [5, 5, 5, 5, 3, 0]

    async def test_operators_apply_to_the_items(self, http: Any, api: Server, key: str) -> None:
        """The result is a Stream: operators run over the items, batch by batch."""
        stream = open_(http, api, "last_item_cursor", key)
        total = (
            await stream.map(lambda item: item["n"])
            .filter(lambda n: n % 2 == 0)
            .reduce(lambda a, b: a + b, 0)
        )
        assert total == sum(n for n in range(TOTAL) if n % 2 == 0)


class TestPipelining:
    @pytest.mark.parametrize(("prefetch", "requested"), [(0, 1), (1, 2), (2, 3)])
    async def test_pages_are_fetched_while_the_consumer_works(
        self, http: Any, api: Server, key: str, prefetch: int, requested: int
    ) -> None:
        """While the consumer sits on page 1, `prefetch` more pages are fetched, no more."""
        stream = open_(http, api, "body_cursor", key, prefetch=prefetch)
        async with stream:
            first = await anext(stream)
            await until_requested(api, key, requested)
            await anyio.sleep(QUIET)  # time for a request too many to arrive
            assert len(api.requests(key)) == requested
        assert first == ITEMS[0]

    async def test_a_sequential_stream_needs_no_scope(
        self, http: Any, api: Server, key: str
    ) -> None:
        """prefetch=0 runs no background task: a bare async for works."""
        got = [item async for item in open_(http, api, "next_url", key, prefetch=0)]
        assert got == ITEMS

    async def test_a_bare_async_for_fetches_in_turn(self, http: Any, api: Server, key: str) -> None:
        """Without async with there is no scope for read-ahead: pages come one after another."""
        stream = open_(http, api, "next_url", key)
        got = [await anext(stream)]
        await anyio.sleep(QUIET)
        assert len(api.requests(key)) == 1
        got += [item async for item in stream]
        assert got == ITEMS
        assert stream.position["items"] == TOTAL

    async def test_operators_after_it_fetch_in_turn_too(
        self, http: Any, api: Server, key: str
    ) -> None:
        """With operators after it and no async with, pages still come one after another."""
        stream = open_(http, api, "next_url", key).map(lambda item: item)
        got = [await anext(stream)]
        await anyio.sleep(QUIET)
        assert len(api.requests(key)) == 1
        got += [item async for item in stream]
        assert got == ITEMS

    async def test_operators_after_it_read_ahead_inside_async_with(
        self, http: Any, api: Server, key: str
    ) -> None:
        """Inside async with, the paginator under an operator reads the next page ahead."""
        async with open_(http, api, "next_url", key).map(lambda item: item) as stream:
            got = [await anext(stream)]
            await until_requested(api, key, 2)  # the next page is asked for without a pull
            got += [item async for item in stream]
        assert got == ITEMS


class TestFanOut:
    @pytest.mark.parametrize(
        "strategy",
        [
            PageNumber(items="data", total_pages="meta.pages"),
            PageNumber(items="data", total="meta.total"),
        ],
    )
    async def test_page_numbers_in_parallel(
        self, http: Any, api: Server, key: str, strategy: PageNumber
    ) -> None:
        """With the total known, the pages after the first are fetched at once, items in order."""
        stream = paginate(
            http,
            f"{api.url}/numbered",
            strategy=strategy,
            params={"key": key, "delay": 0.1},
            concurrency=4,
        )
        assert await stream.to_list() == ITEMS
        assert len(api.requests(key)) == 5
        assert 2 <= api.most_inflight(key) <= 4

    async def test_the_width_bounds_the_requests(self, http: Any, api: Server, key: str) -> None:
        """concurrency=2: never more than two page requests at once."""
        stream = paginate(
            http,
            f"{api.url}/offset",
            strategy=Offset(items="items", limit=5, total="total"),
            params={"key": key, "delay": 0.1},
            concurrency=2,
        )
        assert await stream.to_list() == ITEMS
        assert api.most_inflight(key) == 2

    async def test_offsets_follow_a_capped_limit(self, http: Any, api: Server, key: str) -> None:
        """Asked for 10, given 7: the parallel offsets step by 7."""
        stream = paginate(
            http,
            f"{api.url}/offset",
            strategy=Offset(items="items", limit=10, total="total"),
            params={"key": key},
            concurrency=3,
        )
        assert await stream.to_list() == ITEMS
        offsets = sorted(int(httpx.URL(url).params["offset"]) for url in api.requests(key))
        assert offsets == [0, 7, 14, 21]

    async def test_an_unexpected_page_ends_the_parallel_fetching(
        self, http: Any, api: Server, key: str
    ) -> None:
        """A short page in the middle: paging goes on one at a time from where it really is."""
        stream = paginate(
            http,
            f"{api.url}/offset",
            strategy=Offset(items="items", limit=5, total="total"),
            params={"key": key, "short": 10},
            concurrency=3,
        )
        assert await stream.to_list() == ITEMS
        offsets = [int(httpx.URL(url).params["offset"]) for url in api.requests(key)]
        # 15 and 20 were asked for in parallel; after the short page at 10 (4 items)
        # the paging goes on in turn from where it really is.
        assert offsets[-2:] == [14, 19]
        assert 15 in offsets

    async def test_a_failure_comes_in_its_turn(self, http: Any, api: Server, key: str) -> None:
        """A bad page fetched in parallel raises after the items of the pages before it."""
        got, error = await collect(
            paginate(
                http,
                f"{api.url}/numbered",
                strategy=PageNumber(items="data", total_pages="meta.pages"),
                params={"key": key, "fail": "html@3"},
                concurrency=4,
            )
        )
        assert isinstance(error, BadPageError)
        assert got == ITEMS[:15]

    async def test_a_status_error_comes_in_its_turn(self, http: Any, api: Server, key: str) -> None:
        """A page that fails to arrive (a 500, retries off) raises after the pages before."""
        got, error = await collect(
            paginate(
                http,
                f"{api.url}/numbered",
                strategy=PageNumber(items="data", total_pages="meta.pages"),
                params={"key": key, "fail": "500@2"},
                concurrency=4,
                retry=None,
            )
        )
        assert isinstance(error, HTTPStatusError)
        assert error.status == 500
        assert got == ITEMS[:10]

    async def test_max_items_with_fan_out(self, http: Any, api: Server, key: str) -> None:
        """max_items=12 asks for no page past the third."""
        stream = paginate(
            http,
            f"{api.url}/numbered",
            strategy=PageNumber(items="data", total="meta.total"),
            params={"key": key},
            concurrency=4,
            max_items=12,
        )
        assert await stream.to_list() == ITEMS[:12]
        assert len(api.requests(key)) == 3

    async def test_resume_and_limits_with_fan_out(self, http: Any, api: Server, key: str) -> None:
        """max_pages and resume work the same in parallel."""
        options: dict[str, Any] = {
            "strategy": PageNumber(items="data", total="meta.total"),
            "params": {"key": key},
            "concurrency": 3,
        }
        first = paginate(http, f"{api.url}/numbered", max_pages=3, **options)
        assert await first.to_list() == ITEMS[:15]
        assert len(api.requests(key)) == 3
        rest = paginate(http, f"{api.url}/numbered", resume=first.position, **options)
        assert await rest.to_list() == ITEMS[15:]

    async def test_only_with_a_known_total(self) -> None:
        """concurrency > 1 without a total (or with a cursor) is a ValueError at the call."""
        for strategy in (PageNumber(), Offset(), BodyCursor(), LinkHeader()):
            with pytest.raises(ValueError, match="known total"):
                paginate(None, "http://127.0.0.1/", strategy=strategy, concurrency=2)

    async def test_fan_out_needs_async_with(self, http: Any, api: Server, key: str) -> None:
        """Its tasks need the stream's scope: a bare async for is refused before any request."""
        stream = paginate(
            http,
            f"{api.url}/numbered",
            strategy=PageNumber(items="data", total="meta.total"),
            params={"key": key},
            concurrency=2,
        )
        with pytest.raises(sw.StreamNotEnteredError):
            await anext(stream)
        await stream.aclose()
        assert api.requests(key) == []


class TestResilience:
    async def test_retry_after_is_waited(self, http: Any, api: Server, key: str) -> None:
        """A 429 with Retry-After waits that long, then goes on: no item lost or twice.

        A fifth of a second here; whole seconds, exactly, on a virtual clock in
        test_paginate_waits.py.
        """
        notices: list[RetryNotice] = []
        stream = open_(
            http,
            api,
            "body_cursor",
            key,
            params={"fail": "429@2", "ra": "0.2"},
            on_retry=notices.append,
        )
        got = await stream.to_list()
        assert got == ITEMS
        assert [(n.status, n.delay, n.attempt) for n in notices] == [(429, 0.2, 1)]
        assert stream.retries == 1
        assert "HTTP 429" in repr(notices[0])
        assert notices[0].url.startswith(api.url)
        assert notices[0].error is None
        assert notices[0].last_event_id is None
        times = api.times(key)
        assert len(times) == 6
        assert times[3] - times[2] >= 0.19  # the retry of page 3 came after the wait

    async def test_server_errors_are_retried(self, http: Any, api: Server, key: str) -> None:
        """Two 500s in a row on a page, then success: every item once."""
        stream = open_(http, api, "last_item_cursor", key, params={"fail": "500x2@1"}, retry=FAST)
        assert await stream.to_list() == ITEMS
        assert len(api.requests(key)) == 7

    async def test_a_dropped_connection_is_retried(self, http: Any, api: Server, key: str) -> None:
        """The connection cut mid-body: the page is fetched again, nothing lost or repeated."""
        notices: list[RetryNotice] = []
        stream = open_(
            http,
            api,
            "link_header",
            key,
            params={"fail": "drop@3"},
            retry=FAST,
            on_retry=notices.append,
        )
        assert await stream.to_list() == ITEMS
        assert len(notices) == 1
        assert notices[0].status is None
        assert isinstance(notices[0].error, ReadError)  # the same class on either client

    async def test_retries_exhausted(self, http: Any, api: Server) -> None:
        """Always 503: after the last retry, a typed error with URL, status and body start."""
        stream = paginate(http, f"{api.url}/status/503", strategy=LinkHeader(), retry=FAST)
        with pytest.raises(RetriesExhaustedError) as caught:
            await stream.to_list()
        error = caught.value
        assert error.status == 503
        assert error.attempts == 4
        assert error.url == f"{api.url}/status/503"
        assert error.body.startswith("the server says 503")
        assert "503" in str(error)

    async def test_a_wait_longer_than_allowed(self, http: Any, api: Server, key: str) -> None:
        """Retry-After: 1000 is more than max_wait: RetriesExhaustedError at once, no sleep."""
        notices: list[RetryNotice] = []
        stream = open_(
            http,
            api,
            "body_cursor",
            key,
            params={"fail": "429@1", "ra": "1000"},
            retry=Retry(max_wait=60),
            on_retry=notices.append,
        )
        with anyio.fail_after(30):  # it does not sleep 1000 s (nor 60)
            got, error = await collect(stream)
        assert isinstance(error, RetriesExhaustedError)
        assert "max_wait" in str(error)
        assert error.status == 429
        assert got == ITEMS[:5]
        assert notices == []  # given up before any wait

    async def test_other_statuses_are_not_retried(self, http: Any, api: Server) -> None:
        """A 404 is an HTTPStatusError at once."""
        stream = paginate(http, f"{api.url}/status/404", strategy=LinkHeader(), retry=FAST)
        with pytest.raises(HTTPStatusError) as caught:
            await stream.to_list()
        assert caught.value.status == 404
        assert caught.value.body == "the server says 404"

    async def test_retries_off(self, http: Any, api: Server) -> None:
        """retry=None: a 503 ends the paging at the first try."""
        stream = paginate(http, f"{api.url}/status/503", strategy=LinkHeader(), retry=None)
        with pytest.raises(HTTPStatusError):
            await stream.to_list()

    async def test_a_page_that_stalls_is_retried_then_given_up(
        self, client_kind: str, api: Server, key: str
    ) -> None:
        """No answer within the client's read timeout: retried, then ReadTimeoutError behind it."""
        async with open_client(client_kind, read_timeout=0.2) as client:
            stream = paginate(
                client,
                f"{api.url}/github",
                strategy=LinkHeader(),
                params={"key": key, "delay": 5},
                retry=FAST,
            )
            with anyio.fail_after(10), pytest.raises(RetriesExhaustedError) as caught:
                await stream.to_list()
        assert caught.value.status is None
        assert isinstance(caught.value.__cause__, ReadTimeoutError)
        assert len(api.requests(key)) == FAST.attempts + 1

    async def test_connection_refused(self, http: Any) -> None:
        """Nobody listening: retried, then RetriesExhaustedError from the network error."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        stream = paginate(http, f"http://127.0.0.1:{port}/x", strategy=LinkHeader(), retry=FAST)
        with pytest.raises(RetriesExhaustedError) as caught:
            await stream.to_list()
        assert caught.value.status is None
        assert isinstance(caught.value.__cause__, ConnectError)
        assert caught.value.__cause__.url == f"http://127.0.0.1:{port}/x"
        assert caught.value.__cause__.__cause__ is not None  # the client's own error

    async def test_a_spent_rate_limit_waits_for_the_reset(
        self, http: Any, api: Server, key: str
    ) -> None:
        """X-RateLimit-Remaining: 0 with a reset in 0.2 s holds the next request that long."""
        stream = open_(http, api, "offset", key, params={"fail": "ratelimit@1", "ra": "0.2"})
        assert await stream.to_list() == ITEMS
        times = api.times(key)
        assert times[2] - times[1] >= 0.19

    async def test_the_rate_limit_spaces_requests(self, http: Any, api: Server, key: str) -> None:
        """rate=20: requests start at least 1/20 s apart.

        Timed by the server from the second request on: the first one's arrival
        is late by the connection's setup, which the limiter does not see.
        Without the limit the last three intervals take a few ms in all."""
        stream = open_(http, api, "next_url", key, rate=20)
        assert await stream.to_list() == ITEMS
        times = api.times(key)
        assert len(times) == 5
        assert times[-1] - times[1] >= 3 / 20 - 0.02


class TestSafety:
    async def test_a_repeating_cursor_is_an_error(self, http: Any, api: Server, key: str) -> None:
        """A page whose cursor leads back to itself raises, after its own items."""
        got, error = await collect(open_(http, api, "body_cursor", key, params={"loop": "1"}))
        assert isinstance(error, RepeatedPageError)
        assert got == ITEMS[:15]
        assert error.cursor == "cursor 'c10'"
        assert "cursor=c10" in error.url

    async def test_a_page_that_is_not_json(self, http: Any, api: Server, key: str) -> None:
        """An HTML page raises BadPageError naming the URL; the pages before are delivered."""
        got, error = await collect(open_(http, api, "next_url", key, params={"fail": "html@2"}))
        assert isinstance(error, BadPageError)
        assert got == ITEMS[:10]
        assert error.path is None
        assert "/drf" in error.url
        assert "page=3" in error.url
        assert error.body == "<html>oops</html>"

    async def test_a_missing_path(self, http: Any, api: Server, key: str) -> None:
        """An items path not in the body raises BadPageError naming the path."""
        stream = paginate(
            http, f"{api.url}/cursor", strategy=BodyCursor(items="data.list"), params={"key": key}
        )
        with pytest.raises(BadPageError) as caught:
            await stream.to_list()
        assert caught.value.path == "data.list"
        assert "data.list" in str(caught.value)
        assert "/cursor" in str(caught.value)

    async def test_a_next_url_on_another_origin_is_refused(
        self, http: Any, api: Server, key: str
    ) -> None:
        """A Link to another host (localhost is not 127.0.0.1) raises CrossOriginError."""
        got, error = await collect(
            open_(http, api, "link_header", key, params={"next_host": "localhost"})
        )
        assert isinstance(error, CrossOriginError)
        assert got == ITEMS[:5]
        assert error.url.startswith(f"http://localhost:{api.port}/github")
        assert error.origin == f"http://127.0.0.1:{api.port}"
        assert len(api.requests(key)) == 1  # nothing was sent there

    async def test_a_custom_request_to_another_origin(
        self, http: Any, api: Server, key: str
    ) -> None:
        """A callable strategy's next request is checked the same way."""

        def elsewhere(reply: Reply) -> Request | None:
            return Request(f"http://localhost:{api.port}/github?page=2")

        stream = paginate(
            http, f"{api.url}/github", strategy=elsewhere, params={"key": key, "per_page": 5}
        )
        got, error = await collect(stream)
        assert isinstance(error, CrossOriginError)
        assert got == ITEMS[:5]

    async def test_named_hosts_may_be_followed(self, http: Any, api: Server, key: str) -> None:
        """allow_hosts=["localhost"] lets the paginator follow it."""
        stream = open_(
            http,
            api,
            "link_header",
            key,
            params={"next_host": "localhost"},
            allow_hosts=["localhost"],
        )
        assert await stream.to_list() == ITEMS

    @pytest.mark.parametrize("length", [False, True])
    async def test_an_oversized_page(
        self, http: Any, client_kind: str, api: Server, length: bool
    ) -> None:
        """A 2 MiB page over a 1 MiB limit raises while it arrives (or from Content-Length)."""
        limit = 1024 * 1024
        url = f"{api.url}/big?mb=2" + ("&length=1" if length else "")
        stream = paginate(http, url, strategy=LinkHeader(items="data"), max_page_size=limit)
        with pytest.raises(PageTooLargeError) as caught:
            await stream.to_list()
        assert caught.value.maximum == limit
        assert caught.value.size > limit
        if length:
            assert caught.value.size == 2 * limit + len(b'{"data": []}')
        else:
            # Stopped at the chunk over the limit: httpx reads 64 KiB at a time,
            # aiohttp gives at once what its buffer holds.
            chunk = 65536 if client_kind == "httpx" else 512 * 1024
            assert caught.value.size <= limit + chunk + 64

    async def test_empty_pages_that_claim_more_are_followed(
        self, http: Any, api: Server, key: str
    ) -> None:
        """Three empty pages with a cursor, then data: followed (the limit is 5)."""
        stream = paginate(
            http, f"{api.url}/empties", strategy=BodyCursor(), params={"key": key, "empty": 3}
        )
        assert await stream.to_list() == ITEMS

    async def test_too_many_empty_pages(self, http: Any, api: Server, key: str) -> None:
        """More than max_empty_pages empty pages in a row that claim more raise."""
        stream = paginate(
            http,
            f"{api.url}/empties",
            strategy=BodyCursor(),
            params={"key": key, "empty": 3},
            max_empty_pages=2,
        )
        with pytest.raises(EmptyPagesError) as caught:
            await stream.to_list()
        assert caught.value.count == 3

    async def test_the_empty_page_limit_can_be_lifted(
        self, http: Any, api: Server, key: str
    ) -> None:
        """max_empty_pages=None follows any number of them."""
        stream = paginate(
            http,
            f"{api.url}/empties",
            strategy=BodyCursor(),
            params={"key": key, "empty": 8},
            max_empty_pages=None,
        )
        assert await stream.to_list() == ITEMS

    async def test_has_more_on_an_empty_page(self, http: Any, api: Server, key: str) -> None:
        """has_more with no item to continue from raises EmptyPagesError."""
        stream = paginate(
            http,
            f"{api.url}/stripe",
            strategy=LastItemCursor(),
            params={"key": key, "empty_more": 1},
        )
        with pytest.raises(EmptyPagesError, match="no item to continue from"):
            await stream.to_list()

    async def test_max_pages(self, http: Any, api: Server, key: str) -> None:
        """max_pages=2: two pages fetched, then the end."""
        assert await open_(http, api, "link_header", key, max_pages=2).to_list() == ITEMS[:10]
        assert len(api.requests(key)) == 2

    async def test_max_items(self, http: Any, api: Server, key: str) -> None:
        """max_items=7: seven items, from two pages."""
        assert await open_(http, api, "body_cursor", key, max_items=7).to_list() == ITEMS[:7]
        assert len(api.requests(key)) == 2


class TestResume:
    @pytest.mark.parametrize("style", list(STYLES))
    async def test_resume_gives_exactly_the_rest(
        self, http: Any, api: Server, key: str, style: str
    ) -> None:
        """Stopped after two pages, a saved position resumes with exactly the remaining items."""
        first = open_(http, api, style, key, max_pages=2)
        assert await first.to_list() == ITEMS[:10]
        saved = json.dumps(first.position)
        assert await open_(http, api, style, key, resume=json.loads(saved)).to_list() == ITEMS[10:]

    async def test_resume_from_a_json_string(self, http: Any, api: Server, key: str) -> None:
        """resume= also takes the position's JSON text."""
        first = open_(http, api, "next_url", key, max_pages=3)
        await first.to_list()
        rest = await open_(http, api, "next_url", key, resume=json.dumps(first.position)).to_list()
        assert rest == ITEMS[15:]

    async def test_position_never_runs_ahead_of_the_consumer(
        self, http: Any, api: Server, key: str
    ) -> None:
        """With pages read ahead, the position covers only pages whose items were all received."""
        stream = open_(http, api, "last_item_cursor", key, prefetch=2)
        seen: list[int] = []
        async with stream:
            async for item in stream:
                seen.append(item["n"])
                # The last item of a page moves it: whole pages received, no more.
                assert stream.position["items"] == len(seen) // 5 * 5
                if len(seen) == 12:
                    break
        position = stream.position
        assert position["items"] == 10
        rest = await open_(http, api, "last_item_cursor", key, resume=position).to_list()
        assert rest == ITEMS[10:]

    async def test_resume_after_max_items_inside_a_page(
        self, http: Any, api: Server, key: str
    ) -> None:
        """max_items=7 stops inside page 2; the resume skips into that page exactly."""
        first = open_(http, api, "page_number", key, max_items=7)
        assert await first.to_list() == ITEMS[:7]
        assert first.position["skip"] == 2
        assert (
            await open_(http, api, "page_number", key, resume=first.position).to_list() == ITEMS[7:]
        )

    async def test_resume_from_the_end(self, http: Any, api: Server, key: str) -> None:
        """A position saved at the end resumes to nothing, without a request."""
        first = open_(http, api, "offset", key)
        await first.to_list()
        assert first.position["url"] is None
        before = len(api.requests(key))
        assert await open_(http, api, "offset", key, resume=first.position).to_list() == []
        assert len(api.requests(key)) == before

    async def test_page_positions_resume_after_their_page(
        self, http: Any, api: Server, key: str
    ) -> None:
        """Each Page's position resumes right after that page."""
        got = await open_(http, api, "link_header", key).pages().to_list()
        rest = await open_(http, api, "link_header", key, resume=got[2].position).to_list()
        assert rest == ITEMS[15:]

    async def test_a_resume_on_another_origin_is_refused(
        self, http: Any, api: Server, key: str
    ) -> None:
        """A position whose URL is on another origin is refused at the call."""
        first = open_(http, api, "link_header", key, max_pages=1)
        await first.to_list()
        tampered = {**first.position, "url": "http://example.com/steal"}
        with pytest.raises(CrossOriginError):
            open_(http, api, "link_header", key, resume=tampered)

    @pytest.mark.parametrize("saved", [{"url": "x"}, "{not json", {"v": 99}])
    async def test_resume_checks_its_input(
        self, http: Any, api: Server, key: str, saved: Any
    ) -> None:
        """Something that is not a position is a ValueError at the call."""
        with pytest.raises(ValueError, match="not a saved position"):
            open_(http, api, "link_header", key, resume=saved)

    async def test_a_paginator_closed_unstarted_sends_nothing(
        self, http: Any, api: Server, key: str
    ) -> None:
        """Entered and left, or closed, without iterating: no request, nothing left open."""
        stream = open_(http, api, "link_header", key)
        async with stream:
            pass
        await open_(http, api, "link_header", key).aclose()
        assert api.requests(key) == []


class TestArguments:
    def test_bad_strategy(self) -> None:
        """A strategy that is neither a Strategy nor callable is a TypeError."""
        with pytest.raises(TypeError, match="strategy"):
            paginate(None, "http://127.0.0.1/", strategy=42)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "options",
        [
            {"prefetch": -1},
            {"max_pages": -1},
            {"max_items": -2},
            {"max_page_size": 0},
            {"rate": 0},
            {"max_empty_pages": -1},
        ],
    )
    def test_out_of_range(self, options: dict[str, Any]) -> None:
        """Numbers out of range are ValueErrors at the call."""
        with pytest.raises(ValueError, match=r"paginate\(\) expects"):
            paginate(None, "http://127.0.0.1/", strategy=LinkHeader(), **options)

    def test_relative_url_without_base(self) -> None:
        """A relative URL needs a client with a base_url."""
        with pytest.raises(ValueError, match="absolute URL"):
            paginate(None, "/items", strategy=LinkHeader())

    def test_bad_client(self) -> None:
        """client must be an httpx.AsyncClient or an aiohttp.ClientSession (or None)."""
        with pytest.raises(TypeError, match=r"AsyncClient or an aiohttp\.ClientSession"):
            paginate(httpx.Client(), "http://127.0.0.1/", strategy=LinkHeader())  # type: ignore[arg-type]
