"""A loopback HTTP server of refusals: error statuses and wrong types, with bodies that misbehave.

``GET /{run}/{kind}/{body}`` answers as ``KINDS[kind]`` says (a status and a
Content-Type), with a body that goes as ``BODIES`` says: complete, stalled
after its first chunk (the connection kept open), cut after it, or trickling
in for seconds. Every body starts with ``FIRST``. ``run`` is the test's own
name for its requests: ``server.requests(run)`` counts them.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from loopback import LoopbackServer

#: name -> (status, Content-Type): answers that are not what the client asked for.
KINDS: dict[str, tuple[int, str]] = {
    "text_plain": (200, "text/plain"),
    "event_streams_typo": (200, "text/event-streams"),
    "not_found": (404, "text/plain"),
    "unavailable": (503, "text/plain"),
    "no_content": (204, "text/plain"),
}
#: How the body goes: all at once, stalled after one chunk (with or without a
#: Content-Length that promises more), cut after one chunk, or trickling in.
BODIES = ("complete", "stall", "stall_sized", "cut", "trickle")
#: The first chunk of every body.
FIRST = b"the first chunk of the answer\n"
#: How long a stalled body stays open: far longer than a test may take.
STALL = 60.0
#: A trickling body: this many chunks of 50 bytes, this far apart (10 s in all).
TRICKLE_CHUNKS, TRICKLE_GAP = 100, 0.1
#: Seconds the client waits for the start of an error body in these tests (the
#: library waits 0.5 s): longer than READ_TIMEOUT, far shorter than a stall.
BODY_WAIT = 1.0
#: The read timeout of the tests' second client: shorter than BODY_WAIT, so
#: that a stalled body ends in a ReadTimeout while its start is read. It also
#: bounds the wait for the response's headers, where a timeout is a network
#: error (a reconnect): with the kinds run side by side on a loaded machine, the
#: server took more than 0.2 s there once (CI, uvloop), and more than 0.4 s
#: once (CI beside other test runs), so it is 0.8 s.
READ_TIMEOUT = 0.8


def make_app(counts: Counter[str], lock: threading.Lock) -> Starlette:
    async def refuse(request: Request) -> Response:
        run, kind, how = (request.path_params[k] for k in ("run", "kind", "body"))
        with lock:
            counts[run] += 1
        status, content_type = KINDS[kind]
        if how == "complete":
            return Response(FIRST + b"and the rest of it\n", status, media_type=content_type)

        async def body() -> AsyncIterator[bytes]:
            yield FIRST
            if how in ("stall", "stall_sized"):
                await asyncio.sleep(STALL)
            elif how == "cut":
                raise ConnectionAbortedError("cut on purpose")
            else:
                for n in range(TRICKLE_CHUNKS):
                    await asyncio.sleep(TRICKLE_GAP)
                    yield f"{n:03d}".encode() + b"." * 46 + b"\n"

        headers = {"Content-Length": "10000"} if how == "stall_sized" else None
        return StreamingResponse(body(), status, headers=headers, media_type=content_type)

    return Starlette(routes=[Route("/{run}/{kind}/{body}", refuse)])


class FaultServer(LoopbackServer):
    """uvicorn serving the refusals, counting the requests of each run."""

    def __init__(self) -> None:
        super().__init__()
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def app(self) -> Starlette:
        return make_app(self._counts, self._lock)

    def requests(self, run: str) -> int:
        """How many requests of ``run`` the server answered (or began to)."""
        with self._lock:
            return self._counts[run]
