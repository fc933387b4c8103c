"""paginate()'s waits on a virtual clock: Retry-After, rate limits, backoff, request spacing.

A scripted API (``httpx.MockTransport``) answers each request with the next
of its answers; the clock is virtual (``virtual_time``), so a test asserts
the exact second each request was sent, and a minute of waiting takes no
real time. The loopback tests in test_paginate.py check the same paths
against a real server, with short waits.
"""

from __future__ import annotations

import itertools
import time
from email.utils import formatdate
from typing import Any

import anyio
import httpx
import pytest

import virtual_time
from sluiceway.errors import RetriesExhaustedError
from sluiceway.http import NextUrl, RateLimiter, Retry, RetryNotice, paginate

anyio_backend = virtual_time.anyio_backend

#: Five pages of two items each.
PAGES = 5
ITEMS = list(range(2 * PAGES))

#: A scripted answer: a status with its headers; the page asked for with these
#: extra headers; or None, the page as it is.
Answer = tuple[int, dict[str, str]] | dict[str, str] | None


class Api:
    """A paged API whose first answers are scripted, then the pages as they are."""

    def __init__(self, *answers: Answer) -> None:
        self.script = list(answers)
        self.sent: list[float] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(anyio.current_time())
        answer = self.script.pop(0) if self.script else None
        if isinstance(answer, tuple):
            status, headers = answer
            return httpx.Response(status, headers=headers, text="not now")
        page = int(request.url.params.get("page", "1"))
        nxt = f"/items?page={page + 1}" if page < PAGES else None
        body: dict[str, Any] = {"results": ITEMS[2 * (page - 1) : 2 * page], "next": nxt}
        return httpx.Response(200, headers=answer, json=body)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def gaps(self) -> list[float]:
        """Seconds between one request and the next."""
        return [later - earlier for earlier, later in itertools.pairwise(self.sent)]


async def page_through(api: Api, **options: Any) -> tuple[list[Any], list[RetryNotice]]:
    """Every item, and the retry notices on the way."""
    notices: list[RetryNotice] = []
    async with api.client() as client:
        stream = paginate(
            client, "http://api.test/items", strategy=NextUrl(), on_retry=notices.append, **options
        )
        items = await stream.to_list()
    return items, notices


class TestServerWaits:
    async def test_retry_after_seconds_is_waited_exactly(self) -> None:
        """A 429 with Retry-After: 30: the retry goes 30 s later, then the pages at once."""
        api = Api(None, (429, {"Retry-After": "30"}))
        items, notices = await page_through(api)
        assert items == ITEMS
        assert [(n.status, n.delay, n.attempt) for n in notices] == [(429, 30.0, 1)]
        assert api.gaps() == pytest.approx([0, 30, 0, 0, 0])

    async def test_retry_after_as_an_http_date(self) -> None:
        """Retry-After as a date a minute ahead: the retry goes about a minute later."""
        api = Api((503, {"Retry-After": formatdate(time.time() + 60, usegmt=True)}))
        items, notices = await page_through(api)
        assert items == ITEMS
        assert 58 < notices[0].delay <= 60  # the date has whole seconds
        assert api.gaps()[0] == pytest.approx(notices[0].delay)

    async def test_a_spent_rate_limit_holds_the_next_request_until_the_reset(self) -> None:
        """A page with X-RateLimit-Remaining: 0 and a reset in 20 s: the next request waits 20 s."""
        api = Api(None, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"})
        items, notices = await page_through(api)
        assert items == ITEMS
        assert notices == []
        assert api.gaps() == pytest.approx([0, 20, 0, 0])

    async def test_a_wait_over_max_wait_is_refused_at_once(self) -> None:
        """Retry-After: 1000 with max_wait=60: RetriesExhaustedError without any wait."""
        api = Api((429, {"Retry-After": "1000"}))
        start = anyio.current_time()
        with pytest.raises(RetriesExhaustedError, match="max_wait") as caught:
            await page_through(api, retry=Retry(max_wait=60))
        assert caught.value.status == 429
        assert anyio.current_time() == start  # not even virtual time passed
        assert len(api.sent) == 1


class TestBackoff:
    async def test_backoff_doubles_up_to_its_ceiling_with_jitter(self) -> None:
        """503s without Retry-After: waits of half to all of 1, 2, 4, 4 s, then success."""
        api = Api(*[(503, {})] * 4)
        retry = Retry(attempts=4, backoff_initial=1, backoff_max=4)
        items, notices = await page_through(api, retry=retry)
        assert items == ITEMS
        assert [n.attempt for n in notices] == [1, 2, 3, 4]
        for notice, ceiling in zip(notices, [1, 2, 4, 4], strict=True):
            assert ceiling / 2 <= notice.delay <= ceiling
        assert api.gaps()[:4] == pytest.approx([n.delay for n in notices])

    async def test_the_last_retry_gives_up_with_the_status(self) -> None:
        """Always 503: after attempts retries, RetriesExhaustedError with the status."""
        api = Api(*[(503, {})] * 10)
        with pytest.raises(RetriesExhaustedError) as caught:
            await page_through(api, retry=Retry(attempts=3, backoff_initial=10, backoff_max=10))
        assert caught.value.status == 503
        assert caught.value.attempts == 4
        assert len(api.sent) == 4
        assert all(5 <= gap <= 10 for gap in api.gaps())


class TestRate:
    async def test_rate_spaces_every_request(self) -> None:
        """rate=2: the five pages are requested exactly half a second apart."""
        api = Api()
        items, _ = await page_through(api, rate=2)
        assert items == ITEMS
        assert api.gaps() == pytest.approx([0.5] * 4)

    async def test_a_retry_keeps_the_spacing(self) -> None:
        """rate=2 and a Retry-After: 3: the retry after 3 s, the spacing around it kept."""
        api = Api(None, (429, {"Retry-After": "3"}))
        items, _ = await page_through(api, rate=2)
        assert items == ITEMS
        assert api.gaps() == pytest.approx([0.5, 3, 0.5, 0.5, 0.5])

    async def test_hold_pauses_every_request(self) -> None:
        """RateLimiter.hold(s) keeps acquire() waiting exactly s seconds."""
        limiter = RateLimiter()
        limiter.hold(12.5)
        start = anyio.current_time()
        await limiter.acquire()
        assert anyio.current_time() - start == pytest.approx(12.5)
        await limiter.acquire()
        assert anyio.current_time() - start == pytest.approx(12.5)
