"""An error answer ends or retries paginate() by its status, whatever its body does.

The body of a 404 or a 503 is complete, stalls after its first chunk with the
connection kept open, is cut after it, or trickles in for seconds; each is
tried with paginate()'s own client and with one that has a short read
timeout. Its start is read for the error message only as far as it comes at
once: it must neither hold the error back nor be taken for a network error.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING
from uuid import uuid4

import anyio
import httpx
import pytest

from faults import BODIES, FIRST
from sluiceway.errors import HTTPError, HTTPStatusError, RetriesExhaustedError
from sluiceway.http import LinkHeader, Retry, paginate

if TYPE_CHECKING:
    from faults import FaultServer

#: The clients tried: paginate()'s own, and one whose read timeout is shorter
#: than the time the body start is waited for.
CLIENTS = ("default", "read_timeout")
#: Seconds an answer may take at most: generous, far under a stalled body's minute.
QUICK = 3.0
#: One retry, without a wait worth the name.
ONE_RETRY = Retry(attempts=1, backoff_initial=0.01, backoff_max=0.02)


async def failed(
    server: FaultServer, kind: str, body: str, client: str
) -> tuple[HTTPError, int, float]:
    """Page through an error answer: the error, the requests made, the seconds taken."""
    run = uuid4().hex
    async with AsyncExitStack() as stack:
        http = None
        if client == "read_timeout":
            timeout = httpx.Timeout(5.0, read=0.2)
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
        stream = paginate(
            http, f"{server.url}/{run}/{kind}/{body}", strategy=LinkHeader(), retry=ONE_RETRY
        )
        started = anyio.current_time()
        with anyio.fail_after(10), pytest.raises(HTTPError) as caught:
            await stream.to_list()
        took = anyio.current_time() - started
    return caught.value, server.requests(run), took


class TestErrorBodies:
    @pytest.mark.parametrize("client", CLIENTS)
    @pytest.mark.parametrize("body", BODIES)
    async def test_a_status_not_retried_fails_at_once(
        self, refusals: FaultServer, body: str, client: str
    ) -> None:
        """404: HTTPStatusError at once after one request, with the body's start."""
        error, requests, took = await failed(refusals, "not_found", body, client)
        assert isinstance(error, HTTPStatusError)
        assert error.status == 404
        assert requests == 1
        assert took < QUICK
        assert error.body.startswith(FIRST.decode())
        if body == "complete":
            assert error.body == FIRST.decode() + "and the rest of it\n"

    @pytest.mark.parametrize("client", CLIENTS)
    @pytest.mark.parametrize("body", BODIES)
    async def test_a_retried_status_is_retried_as_a_status(
        self, refusals: FaultServer, body: str, client: str
    ) -> None:
        """503: retried for its status (not as a network error), then given up with it."""
        error, requests, took = await failed(refusals, "unavailable", body, client)
        assert isinstance(error, RetriesExhaustedError)
        assert error.status == 503
        assert error.__cause__ is None  # no network error behind it
        assert requests == 2  # the first try and one retry
        assert took < QUICK
        assert error.body.startswith(FIRST.decode())
