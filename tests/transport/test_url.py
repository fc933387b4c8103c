"""URL: the strategies' and positions' URL type, its query helpers, and nothing of a client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluiceway.http import URL


class TestParts:
    def test_a_url_is_its_text(self) -> None:
        """A URL is a str: it compares, hashes and serializes as the text it was made from."""
        url = URL("https://A.example:8443/x?q=a%20b#frag")
        assert url == "https://A.example:8443/x?q=a%20b#frag"
        assert {url: 1}["https://A.example:8443/x?q=a%20b#frag"] == 1
        assert json.loads(json.dumps({"u": url})) == {"u": str(url)}
        assert repr(url) == "URL('https://A.example:8443/x?q=a%20b#frag')"

    def test_parts(self) -> None:
        """scheme and host lower-cased, the port (or the scheme's), path, raw query."""
        url = URL("HTTPS://A.example/x/y?q=a%20b&n=1")
        assert (url.scheme, url.host, url.port) == ("https", "a.example", 443)
        assert (url.path, url.query) == ("/x/y", "q=a%20b&n=1")
        assert url.origin == ("https", "a.example", 443)
        assert URL("http://a.example:8080/").origin == ("http", "a.example", 8080)
        assert URL("ftp://a.example/").port is None
        assert URL("http://a.example:notaport/").port is None

    def test_params_are_decoded(self) -> None:
        """params: the first value of each name, decoded; query_pairs() gives every value."""
        url = URL("https://a.example/?tag=a&tag=b&q=a+b&e=&p=%2F")
        assert url.params == {"tag": "a", "q": "a b", "e": "", "p": "/"}
        assert url.query_pairs() == [
            ("tag", "a"),
            ("tag", "b"),
            ("q", "a b"),
            ("e", ""),
            ("p", "/"),
        ]

    def test_absolute(self) -> None:
        assert URL("https://a.example/x").is_absolute
        assert not URL("/x?a=1").is_absolute
        assert not URL("x").is_absolute

    @pytest.mark.parametrize(
        ("target", "expected"),
        [
            ("/other?p=2", "https://a.example/other?p=2"),
            ("?p=2", "https://a.example/v1/things?p=2"),
            ("next", "https://a.example/v1/next"),
            ("https://b.example/z", "https://b.example/z"),
        ],
    )
    def test_join(self, target: str, expected: str) -> None:
        """A link on the page is resolved against the page's URL (RFC 3986)."""
        joined = URL("https://a.example/v1/things?p=1").urljoin(target)
        assert joined == expected
        assert isinstance(joined, URL)
        assert "&".join([URL("a"), URL("b")]) == "a&b"  # str.join keeps its meaning


class TestQueryHelpers:
    def test_set_param_keeps_the_rest_as_written(self) -> None:
        """The parameter takes its first place; other parameters keep order and encoding."""
        url = URL("https://a.example/x?q=a%20b&page=1&flag&page=9#top")
        assert url.copy_set_param("page", 2) == "https://a.example/x?q=a%20b&page=2&flag#top"
        assert url.copy_set_param("new", "x y") == (
            "https://a.example/x?q=a%20b&page=1&flag&page=9&new=x+y#top"
        )
        assert URL("https://a.example/x").copy_set_param("c", "a/b=") == (
            "https://a.example/x?c=a%2Fb%3D"
        )

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            (None, "https://a.example/x?a=1&b=2"),
            ({}, "https://a.example/x?a=1&b=2"),
            ({"c": "3"}, "https://a.example/x?a=1&b=2&c=3"),
            ([("c", "3"), ("c", "4")], "https://a.example/x?a=1&b=2&c=3&c=4"),
            ({"a": "9"}, "https://a.example/x?a=9&b=2"),
            ({"b": ["8", "7"], "c": 3}, "https://a.example/x?a=1&b=8&b=7&c=3"),
            ({"t": True, "f": False, "n": None}, "https://a.example/x?a=1&b=2&t=true&f=false&n="),
        ],
    )
    def test_merge_params(self, params: Any, expected: str) -> None:
        """params= adds to the URL's query; a name it gives replaces the URL's values of it."""
        assert URL("https://a.example/x?a=1&b=2").copy_merge_params(params) == expected

    def test_add_missing(self) -> None:
        """Only the names the URL lacks are added, each with all its values."""
        url = URL("https://a.example/x?a=1")
        extra = [("a", "2"), ("b", "1"), ("b", "2")]
        assert url.copy_add_missing(extra) == "https://a.example/x?a=1&b=1&b=2"
        assert url.copy_add_missing([]) is url
        assert URL("https://a.example/x").copy_add_missing({"k": "v"}) == "https://a.example/x?k=v"

    def test_a_name_written_encoded_is_the_same_name(self) -> None:
        """``a%5B%5D`` and ``a[]`` name the same parameter: it is replaced, not repeated."""
        url = URL("https://a.example/x?a%5B%5D=1")
        assert url.copy_set_param("a[]", 2) == "https://a.example/x?a%5B%5D=2"
        assert url.copy_add_missing({"a[]": "3"}) == url
