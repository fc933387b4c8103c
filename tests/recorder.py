"""A loopback paginated API, one route per style, that records each request's raw query.

``GET /{run}/{style}`` pages through ``ITEMS`` (three of them, one a page) in
the style named; ``run`` is the test's own name for its requests, and
``server.queries(run)`` gives the raw query string of each, in order. Every
other parameter is ignored, and no next URL the server gives carries the
caller's parameters except the Link header's (which echoes the request's
whole query, as GitHub does): the paginator must keep them itself.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loopback import LoopbackServer

ITEMS: list[dict[str, Any]] = [{"id": "a"}, {"id": "b"}, {"id": "c"}]


def _page(request: Request) -> int:
    return int(request.query_params.get("page", "1"))


def _styles() -> dict[str, Any]:
    def page_number(request: Request) -> Response:
        page = _page(request)
        return JSONResponse({"data": ITEMS[page - 1 : page], "total": len(ITEMS)})

    def offset(request: Request) -> Response:
        start, limit = int(request.query_params["offset"]), int(request.query_params["limit"])
        return JSONResponse({"data": ITEMS[start : start + limit]})

    def body_cursor(request: Request) -> Response:
        at = int(request.query_params.get("cursor", "0"))
        nxt = str(at + 1) if at + 1 < len(ITEMS) else None
        return JSONResponse({"data": ITEMS[at : at + 1], "next_cursor": nxt})

    def last_item_cursor(request: Request) -> Response:
        after = request.query_params.get("starting_after")
        at = 0 if after is None else [item["id"] for item in ITEMS].index(after) + 1
        return JSONResponse({"data": ITEMS[at : at + 1], "has_more": at + 1 < len(ITEMS)})

    def link_header(request: Request) -> Response:
        page = _page(request)
        headers = {}
        if page < len(ITEMS):
            headers["Link"] = f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'
        return JSONResponse(ITEMS[page - 1 : page], headers=headers)

    def next_url(request: Request) -> Response:
        page = _page(request)
        nxt = f"?page={page + 1}" if page < len(ITEMS) else None  # the caller's query dropped
        return JSONResponse({"results": ITEMS[page - 1 : page], "next": nxt})

    return {
        "page_number": page_number,
        "offset": offset,
        "body_cursor": body_cursor,
        "last_item_cursor": last_item_cursor,
        "link_header": link_header,
        "next_url": next_url,
    }


class QueryRecorder(LoopbackServer):
    """uvicorn serving every style, with the raw query of each request of each run."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._queries: dict[str, list[str]] = defaultdict(list)

    def app(self) -> Starlette:
        styles = _styles()

        async def serve(request: Request) -> Response:
            with self._lock:
                self._queries[request.path_params["run"]].append(
                    request.scope["query_string"].decode("latin-1")
                )
            answer: Response = styles[request.path_params["style"]](request)
            return answer

        return Starlette(routes=[Route("/{run}/{style}", serve)])

    def queries(self, run: str) -> list[str]:
        """The raw query string of each request of ``run``, in the order they came."""
        with self._lock:
            return list(self._queries[run])
