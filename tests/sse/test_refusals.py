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
import pytest

from clients import open_client
from faults import BODIES, BODY_WAIT, FIRST, KINDS, READ_TIMEOUT
from sluiceway._transport import _base
from sluiceway._transport._base import on_asyncio
from sluiceway.errors import SSEResponseError
from sluiceway.sse import RetryNotice, connect

if TYPE_CHECKING:
    from faults import FaultServer

#: The clients tried: of each kind (httpx, aiohttp), one without a read timeout
#: and one whose read timeout is shorter than the body start's wait; and
#: connect()'s own (aiohttp on asyncio, httpx on trio; no read timeout).
CLIENTS = ("no_read_timeout", "read_timeout")
#: Longer than any refusal may take, far under a stalled body's minute: a hang fails here.
HANG = 10.0


@pytest.fixture(autouse=True)
def short_body_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start of an error body is waited for BODY_WAIT, not the library's half second."""
    monkeypatch.setattr(_base, "BODY_START_WAIT", BODY_WAIT)


async def refused(
    server: FaultServer, kind: str, body: str, client: str, client_kind: str | None
) -> tuple[SSEResponseError, int, list[RetryNotice]]:
    """Connect to a refusal: the error, the requests made, the reconnect notices."""
    run = uuid4().hex
    notices: list[RetryNotice] = []
    async with AsyncExitStack() as stack:
        http = None
        if client_kind is not None:  # else connect()'s own
            read_timeout = READ_TIMEOUT if client == "read_timeout" else None
            http = await stack.enter_async_context(
                open_client(client_kind, read_timeout=read_timeout)
            )
        stream = connect(
            f"{server.url}/{run}/{kind}/{body}",
            client=http,
            backoff_initial=0.01,  # a reconnect, if any, comes at once and is counted
            on_reconnect=notices.append,
        )
        with anyio.fail_after(HANG), pytest.raises(SSEResponseError) as caught:
            await stream.to_list()
    return caught.value, server.requests(run), notices


def check(
    kind: str, body: str, error: SSEResponseError, requests: int, notices: list[RetryNotice]
) -> None:
    """The refusal ``kind`` with its ``body`` ended the stream as it should (or AssertionError)."""
    status, content_type = KINDS[kind]
    assert error.status == status
    assert requests == 1
    assert notices == []
    if status == 204:
        assert "204" in str(error)
        return
    assert error.headers["content-type"].startswith(content_type)
    assert error.body.startswith(FIRST.decode())
    if body == "complete":
        assert error.body == FIRST.decode() + "and the rest of it\n"


async def every_kind(server: FaultServer, body: str, client: str, client_kind: str | None) -> None:
    """Each kind of refusal with ``body``, side by side: AssertionError if one went wrong."""
    failures: dict[str, BaseException] = {}

    async def one(kind: str) -> None:
        try:
            check(kind, body, *await refused(server, kind, body, client, client_kind))
        except Exception as exc:
            failures[kind] = exc

    async with anyio.create_task_group() as tg:
        for kind in KINDS:
            tg.start_soon(one, kind)
    assert failures == {}


class TestRefusals:
    @pytest.mark.parametrize("body", BODIES)
    async def test_refused_at_once_after_one_request(
        self, refusals: FaultServer, body: str
    ) -> None:
        """Every kind of refusal: SSEResponseError, one request, no reconnect, the body's start.

        With each client: httpx and aiohttp (asyncio only), each without and
        with a short read timeout, and connect()'s own. The kinds and the
        clients run side by side (each its own connection and run name), so a
        body that stalls costs its wait once per body, not once per kind and client.
        """
        clients: list[tuple[str, str | None]] = [("no_read_timeout", None)]  # connect()'s own
        for client_kind in ("httpx", "aiohttp") if on_asyncio() else ("httpx",):
            clients += [(client, client_kind) for client in CLIENTS]
        failures: dict[str, BaseException] = {}

        async def with_client(client: str, client_kind: str | None) -> None:
            try:
                await every_kind(refusals, body, client, client_kind)
            except AssertionError as exc:
                failures[f"{client_kind or 'own'}-{client}"] = exc

        async with anyio.create_task_group() as tg:
            for client, client_kind in clients:
                tg.start_soon(with_client, client, client_kind)
        assert failures == {}

    async def test_a_trickling_body_is_cut_short(self, refusals: FaultServer) -> None:
        """A body that would take 10 s gives what came in the first moment, under 4 KiB."""
        error, requests, _ = await refused(refusals, "text_plain", "trickle", "own", None)
        assert requests == 1
        assert error.body.startswith(FIRST.decode())
        assert len(error.body) < 4096
