"""The httpx adapter: the URL a request goes to, whatever the httpx version."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sluiceway._transport._httpx import (
    add_missing,
    build_request,
    join_url,
    merge_params,
    request_url,
)

#: (client settings, URL, the URL every request must go to).
URLS: list[Any] = [
    pytest.param(
        {}, "https://a.example/x?state=open", "https://a.example/x?state=open", id="plain"
    ),
    pytest.param(
        {"params": {"key": "k"}},
        "https://a.example/x?state=open",
        "https://a.example/x?state=open&key=k",
        id="client-params",
    ),
    pytest.param(
        {"params": {"key": "k", "state": "all"}},
        "https://a.example/x?state=open",
        "https://a.example/x?state=open&key=k",
        id="the-urls-value-wins",
    ),
    pytest.param(
        {"params": [("tag", "a"), ("tag", "b")]},
        "https://a.example/x?n=1",
        "https://a.example/x?n=1&tag=a&tag=b",
        id="every-value-of-a-name",
    ),
    pytest.param(
        {"params": {"key": "k"}},
        "https://a.example/x?q=a%20b&flag&empty=",
        "https://a.example/x?q=a%20b&flag&empty=&key=k",
        id="the-query-as-written",
    ),
    pytest.param(
        {"base_url": "https://a.example/api"},
        "items?state=open",
        "https://a.example/api/items?state=open",
        id="base-url",
    ),
    pytest.param(
        {"base_url": "https://a.example/api/", "params": {"key": "k"}},
        "/items?state=open&page=2",
        "https://a.example/api/items?state=open&page=2&key=k",
        id="base-url-and-params",
    ),
    pytest.param(
        {"base_url": "https://a.example/api/", "params": {"key": "k"}},
        "https://b.example/other",
        "https://b.example/other?key=k",
        id="absolute-beside-a-base-url",
    ),
]


class TestRequestUrl:
    @pytest.mark.parametrize(("settings", "url", "expected"), URLS)
    def test_the_url_of_a_request(self, settings: dict[str, Any], url: str, expected: str) -> None:
        """Joined to the base URL, the URL's own query kept, the client's params it lacks added."""
        client = httpx.AsyncClient(**settings)
        assert str(request_url(client, url)) == expected

    @pytest.mark.parametrize(("settings", "url", "expected"), URLS)
    async def test_the_request_is_sent_there(
        self, settings: dict[str, Any], url: str, expected: str
    ) -> None:
        """build_request() gives a request to that URL, sent there with the client's headers."""
        sent: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return httpx.Response(204)

        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(
            transport=transport, headers={"X-Who": "me"}, **settings
        ) as client:
            request = build_request(client, "GET", url, headers={"X-Also": "1"})
            assert str(request.url) == expected
            await client.send(request)
        assert [str(request.url) for request in sent] == [expected]
        assert sent[0].headers["x-who"] == "me"
        assert sent[0].headers["x-also"] == "1"

    def test_join_without_a_client(self) -> None:
        """Without a client the URL is taken as it is, relative or not."""
        assert str(join_url(None, "/x?a=1")) == "/x?a=1"
        assert str(join_url(None, "https://a.example/x?a=1")) == "https://a.example/x?a=1"

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            (None, "https://a.example/x?a=1&b=2"),
            ({}, "https://a.example/x?a=1&b=2"),
            ({"c": "3"}, "https://a.example/x?a=1&b=2&c=3"),
            ([("c", "3"), ("c", "4")], "https://a.example/x?a=1&b=2&c=3&c=4"),
            ({"a": "9"}, "https://a.example/x?a=9&b=2"),
            (httpx.QueryParams({"b": "8", "c": "3"}), "https://a.example/x?a=1&b=8&c=3"),
        ],
    )
    def test_merge_params(self, params: Any, expected: str) -> None:
        """params= adds to the URL's query; a name it gives replaces the URL's values of it."""
        assert str(merge_params(httpx.URL("https://a.example/x?a=1&b=2"), params)) == expected

    def test_add_missing(self) -> None:
        """Only the names the URL lacks are added, each with all its values."""
        url = httpx.URL("https://a.example/x?a=1")
        extra = httpx.QueryParams([("a", "2"), ("b", "1"), ("b", "2")])
        assert str(add_missing(url, extra)) == "https://a.example/x?a=1&b=1&b=2"
        assert add_missing(url, httpx.QueryParams()) == url
