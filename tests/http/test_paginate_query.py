"""Every request paginate() sends has every parameter it should, with any httpx version.

The URL's own query, ``params=``, the client's own ``params`` (where the URL
has no value of that name) and the strategy's page, offset or cursor: a real
server on loopback records the raw query string of each request. Since httpx
0.28 a query given as ``params=``, to ``build_request`` or to the client,
replaces the URL's query instead of adding to it: these tests catch that.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from uuid import uuid4

import anyio
import httpx
import pytest

from clients import open_client
from commandline import json_lines, sluiceway
from recorder import ITEMS
from sluiceway.http import (
    BodyCursor,
    LastItemCursor,
    LinkHeader,
    NextUrl,
    Offset,
    PageNumber,
    Strategy,
    paginate,
)

if TYPE_CHECKING:
    from recorder import QueryRecorder

Pairs = list[tuple[str, str]]

#: name -> (route, strategy, options, the strategy's own parameters of each request).
STYLES: dict[str, tuple[str, Strategy, dict[str, Any], list[Pairs]]] = {
    "page_number": (
        "page_number",
        PageNumber(items="data"),
        {},
        [[("page", str(n))] for n in (1, 2, 3, 4)],  # the 4th is the empty page
    ),
    "page_number_in_parallel": (
        "page_number",
        PageNumber(items="data", total="total"),
        {"concurrency": 3},
        [[("page", str(n))] for n in (1, 2, 3)],
    ),
    "offset": (
        "offset",
        Offset(items="data", limit=1),
        {},
        [[("offset", str(n)), ("limit", "1")] for n in (0, 1, 2, 3)],
    ),
    "body_cursor": (
        "body_cursor",
        BodyCursor(items="data"),
        {},
        [[], [("cursor", "1")], [("cursor", "2")]],
    ),
    "last_item_cursor": (
        "last_item_cursor",
        LastItemCursor(items="data"),
        {},
        [[], [("starting_after", "a")], [("starting_after", "b")]],
    ),
    "link_header": ("link_header", LinkHeader(), {}, [[], [("page", "2")], [("page", "3")]]),
    "next_url": ("next_url", NextUrl(items="results"), {}, [[], [("page", "2")], [("page", "3")]]),
}

#: The first URL's own query, in every setup.
OWN: Pairs = [("state", "open"), ("per_page", "1")]


@dataclass(frozen=True)
class Setup:
    """How paginate() is called: the client, the URL, params=, and what each request must add."""

    client: dict[str, Any] | None = None
    #: Which client: httpx (params of its own), or aiohttp (none; a base URL without a path).
    kind: str = "httpx"
    relative: bool = False
    params: dict[str, str] | None = None
    expect: Pairs = field(default_factory=lambda: list(OWN))


SETUPS: dict[str, Setup] = {
    "own_query": Setup(),
    "params": Setup(params={"sort": "asc"}, expect=[*OWN, ("sort", "asc")]),
    "params_replace": Setup(params={"state": "closed"}, expect=[("state", "closed"), OWN[1]]),
    "default_client": Setup(client={}),
    "client_params": Setup(
        client={"params": {"api_key": "k", "state": "all"}}, expect=[*OWN, ("api_key", "k")]
    ),
    "base_url": Setup(
        client={"params": {"api_key": "k"}},
        relative=True,
        params={"sort": "asc"},
        expect=[*OWN, ("sort", "asc"), ("api_key", "k")],
    ),
    "aiohttp_client": Setup(client={}, kind="aiohttp"),
    "aiohttp_params": Setup(
        client={}, kind="aiohttp", params={"state": "closed"}, expect=[("state", "closed"), OWN[1]]
    ),
    "aiohttp_base_url": Setup(
        client={},
        kind="aiohttp",
        relative=True,
        params={"sort": "asc"},
        expect=[*OWN, ("sort", "asc")],
    ),
}


def pairs(query: str) -> Pairs:
    """The parameters of a raw query string, sorted: what a server reads from it."""
    return sorted(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))


class TestEveryParameterIsSent:
    @pytest.mark.parametrize(
        ("client_kind", "setup"), [(how.kind, name) for name, how in SETUPS.items()]
    )
    @pytest.mark.parametrize("style", list(STYLES))
    async def test_every_request_has_every_parameter(
        self, recorder: QueryRecorder, style: str, setup: str, client_kind: str
    ) -> None:
        """The URL's own query, params=, the client's params and the strategy's, on each page."""
        route, strategy, options, steps = STYLES[style]
        how = SETUPS[setup]
        run = uuid4().hex
        async with AsyncExitStack() as stack:
            client = None
            url = f"{recorder.url}/{run}/{route}?state=open&per_page=1"
            if how.client is not None:
                settings = dict(how.client)
                if how.relative and client_kind == "aiohttp":
                    settings["base_url"] = recorder.url
                    url = f"/{run}/{route}?state=open&per_page=1"
                elif how.relative:
                    settings["base_url"] = f"{recorder.url}/{run}/"
                    url = f"{route}?state=open&per_page=1"
                client = await stack.enter_async_context(open_client(client_kind, **settings))
            stream = paginate(client, url, strategy=strategy, params=how.params, **options)
            with anyio.fail_after(10):
                assert await stream.to_list() == ITEMS
        sent = sorted(pairs(query) for query in recorder.queries(run))
        assert sent == sorted(sorted(how.expect + step) for step in steps)

    async def test_the_urls_own_query_with_a_mock_transport(self) -> None:
        """The URL's own query comes first, as written, and the page number after it."""
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(str(request.url))
            page = int(request.url.params["page"])
            return httpx.Response(200, json={"data": [page] if page < 3 else []})

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            got = await paginate(
                client,
                "https://api.example/items?state=open&per_page=1",
                strategy=PageNumber(items="data"),
            ).to_list()
        assert got == [1, 2]
        assert seen == [
            f"https://api.example/items?state=open&per_page=1&page={n}" for n in (1, 2, 3)
        ]

    async def test_the_clients_params_are_sent_but_not_saved(self, recorder: QueryRecorder) -> None:
        """A client's params (an API key) go with every request, resumed too, not into positions."""
        run = uuid4().hex
        url = f"{recorder.url}/{run}/page_number?state=open"
        async with httpx.AsyncClient(params={"api_key": "s3cret"}) as client:
            first = paginate(client, url, strategy=PageNumber(items="data"), max_pages=1)
            assert await first.to_list() == ITEMS[:1]
            assert "s3cret" not in json.dumps(first.position)
            rest = paginate(client, url, strategy=PageNumber(items="data"), resume=first.position)
            assert await rest.to_list() == ITEMS[1:]
        assert [pairs(query) for query in recorder.queries(run)] == [
            sorted([("state", "open"), ("api_key", "s3cret"), ("page", str(n))])
            for n in (1, 2, 3, 4)
        ]


#: The command-line options of each style, for the routes of the recorder.
CLI_STYLES: dict[str, list[str]] = {
    "page_number": ["--items", "data", "--page-param", "page"],
    "offset": ["--items", "data", "--offset-param", "offset", "--limit", "1"],
    "body_cursor": ["--items", "data", "--cursor", "next_cursor"],
    "last_item_cursor": ["--items", "data", "--has-more", "has_more"],
    "link_header": ["--link-header"],
    "next_url": ["--items", "results", "--next-url", "next"],
}


class TestPagesCommand:
    @pytest.mark.parametrize("style", list(CLI_STYLES))
    def test_the_urls_query_goes_with_every_request(
        self, recorder: QueryRecorder, style: str
    ) -> None:
        """`sluiceway pages 'URL?state=open&per_page=1'` keeps that query on every page."""
        run = uuid4().hex
        url = f"{recorder.url}/{run}/{style}?state=open&per_page=1"
        out = sluiceway("pages", url, *CLI_STYLES[style])
        assert out.returncode == 0, out.stderr
        assert json_lines(out.stdout) == ITEMS
        sent = sorted(pairs(query) for query in recorder.queries(run))
        assert sent == sorted(sorted(OWN + step) for step in STYLES[style][3])
