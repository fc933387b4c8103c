"""Answers that are not an event stream end connect() at once, whatever their body does.

Each refusal (a wrong Content-Type, a typo in it, 404, 503, 204) comes with a
body that is complete, stalls after its first chunk with the connection kept
open, is cut after it, or trickles in for seconds; each is tried with the
default client and with one that has a short read timeout. The start of the
body is read for the error message only as far as it comes at once: it must
neither hold the error back nor be taken for a network error (a reconnect).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING
from uuid import uuid4

import anyio
import httpx
import pytest

from faults import BODIES, FIRST, KINDS
from sluiceway.errors import SSEResponseError
from sluiceway.sse import RetryNotice, connect

if TYPE_CHECKING:
    from faults import FaultServer

#: The clients tried: connect()'s own (no read timeout), and one whose read
#: timeout is shorter than the time the body start is waited for.
CLIENTS = ("default", "read_timeout")
#: Seconds a refusal may take at most: generous, far under a stalled body's minute.
QUICK = 3.0


async def refused(
    server: FaultServer, kind: str, body: str, client: str
) -> tuple[SSEResponseError, int, float, list[RetryNotice]]:
    """Connect to a refusal: the error, the requests made, the seconds taken, the notices."""
    run = uuid4().hex
    notices: list[RetryNotice] = []
    async with AsyncExitStack() as stack:
        http = None
        if client == "read_timeout":
            timeout = httpx.Timeout(5.0, read=0.2)
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
        stream = connect(
            f"{server.url}/{run}/{kind}/{body}",
            client=http,
            backoff_initial=0.01,  # a reconnect, if any, comes at once and is counted
            on_reconnect=notices.append,
        )
        started = anyio.current_time()
        with anyio.fail_after(10), pytest.raises(SSEResponseError) as caught:
            await stream.to_list()
        took = anyio.current_time() - started
    return caught.value, server.requests(run), took, notices


class TestRefusals:
    @pytest.mark.parametrize("client", CLIENTS)
    @pytest.mark.parametrize("body", BODIES)
    @pytest.mark.parametrize("kind", list(KINDS))
    async def test_refused_at_once_after_one_request(
        self, refusals: FaultServer, kind: str, body: str, client: str
    ) -> None:
        """SSEResponseError at once, one request, no reconnect, with the body's start."""
        error, requests, took, notices = await refused(refusals, kind, body, client)
        status, content_type = KINDS[kind]
        assert error.status == status
        assert requests == 1
        assert notices == []
        assert took < QUICK
        if status == 204:
            assert "204" in str(error)
            return
        assert error.headers["content-type"].startswith(content_type)
        assert error.body.startswith(FIRST.decode())
        if body == "complete":
            assert error.body == FIRST.decode() + "and the rest of it\n"

    async def test_a_trickling_body_is_cut_short(self, refusals: FaultServer) -> None:
        """A body that would take 10 s gives what came in the first moment, under 4 KiB."""
        error, requests, took, _ = await refused(refusals, "text_plain", "trickle", "default")
        assert requests == 1
        assert took < QUICK
        assert error.body.startswith(FIRST.decode())
        assert len(error.body) < 4096
