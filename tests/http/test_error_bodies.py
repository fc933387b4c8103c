"""An error answer ends or retries paginate() by its status, whatever its body does.

The body of a 404 or a 503 is complete, stalls after its first chunk with the
connection kept open, is cut after it, or trickles in for seconds; each is
tried with paginate()'s own client, and with httpx and aiohttp clients
without and with a short read timeout, side by side. Its start is read for the error message only
as far as it comes at once: it must neither hold the error back nor be taken
for a network error.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING
from uuid import uuid4

import anyio
import pytest

from clients import open_client
from faults import BODIES, BODY_WAIT, FIRST, READ_TIMEOUT
from sluiceway._transport import _base
from sluiceway.errors import HTTPError, HTTPStatusError, RetriesExhaustedError
from sluiceway.http import LinkHeader, Retry, paginate

if TYPE_CHECKING:
    from collections.abc import Callable

    from faults import FaultServer

#: The clients tried: paginate()'s own (aiohttp on asyncio, httpx on trio),
#: and of each kind one without a read timeout and one whose read timeout is
#: shorter than the time the body start is waited for.
CLIENTS = (
    "own",
    "httpx",
    "httpx-read_timeout",
    "aiohttp",
    "aiohttp-read_timeout",
)
#: Longer than any answer may take, far under a stalled body's minute: a hang fails here.
HANG = 10.0
#: One retry, without a wait worth the name.
ONE_RETRY = Retry(attempts=1, backoff_initial=0.01, backoff_max=0.02)


@pytest.fixture(autouse=True)
def short_body_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start of an error body is waited for BODY_WAIT, not the library's half second."""
    monkeypatch.setattr(_base, "BODY_START_WAIT", BODY_WAIT)


async def failed(server: FaultServer, kind: str, body: str, client: str) -> tuple[HTTPError, int]:
    """Page through an error answer: the error, the requests made."""
    run = uuid4().hex
    async with AsyncExitStack() as stack:
        http = None
        if client != "own":
            library, _, timeout = client.partition("-")
            http = await stack.enter_async_context(
                open_client(library, read_timeout=READ_TIMEOUT if timeout else None)
            )
        stream = paginate(
            http, f"{server.url}/{run}/{kind}/{body}", strategy=LinkHeader(), retry=ONE_RETRY
        )
        with anyio.fail_after(HANG), pytest.raises(HTTPError) as caught:
            await stream.to_list()
    return caught.value, server.requests(run)


async def with_each_client(
    server: FaultServer, kind: str, body: str, check: Callable[[HTTPError, int], None]
) -> None:
    """``check(error, requests)`` for the answer with each client, the two side by side."""
    failures: dict[str, BaseException] = {}

    async def one(client: str) -> None:
        try:
            check(*await failed(server, kind, body, client))
        except Exception as exc:
            failures[client] = exc

    async with anyio.create_task_group() as tg:
        for client in CLIENTS:
            if client.startswith("aiohttp") and not _base.on_asyncio():
                continue  # aiohttp runs on asyncio only
            tg.start_soon(one, client)
    assert failures == {}


class TestErrorBodies:
    @pytest.mark.parametrize("body", BODIES)
    async def test_a_status_not_retried_fails_at_once(
        self, refusals: FaultServer, body: str
    ) -> None:
        """404: HTTPStatusError at once after one request, with the body's start."""

        def check(error: HTTPError, requests: int) -> None:
            assert isinstance(error, HTTPStatusError)
            assert error.status == 404
            assert requests == 1
            assert error.body.startswith(FIRST.decode())
            if body == "complete":
                assert error.body == FIRST.decode() + "and the rest of it\n"

        await with_each_client(refusals, "not_found", body, check)

    @pytest.mark.parametrize("body", BODIES)
    async def test_a_retried_status_is_retried_as_a_status(
        self, refusals: FaultServer, body: str
    ) -> None:
        """503: retried for its status (not as a network error), then given up with it."""

        def check(error: HTTPError, requests: int) -> None:
            assert isinstance(error, RetriesExhaustedError)
            assert error.status == 503
            assert error.__cause__ is None  # no network error behind it
            assert requests == 2  # the first try and one retry
            assert error.body.startswith(FIRST.decode())

        await with_each_client(refusals, "unavailable", body, check)
