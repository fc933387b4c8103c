"""The strategies and paths as pure functions over URLs, headers and bodies."""

from __future__ import annotations

from typing import Any

import pytest

from sluiceway._core._nothing import NOTHING
from sluiceway._transport._base import Headers
from sluiceway.http import (
    URL,
    BodyCursor,
    LastItemCursor,
    LinkHeader,
    NextUrl,
    Offset,
    PageNumber,
    get_path,
    parse_link_header,
)
from sluiceway.http._strategies import PathError, Reply, items_at

BASE = URL("https://api.example.com/v1/things?limit=2")


def reply(body: Any, items: list[Any], headers: dict[str, str] | None = None) -> Reply:
    url = URL("https://api.example.com/v1/things?limit=2&page=7")
    return Reply(url, 200, Headers((headers or {}).items()), body, items)


class TestPaths:
    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("a", {"b": [10, {"c": 3}]}),
            ("a.b", [10, {"c": 3}]),
            ("a.b.0", 10),
            ("a.b.1.c", 3),
            ("a.b.-1.c", 3),
            ("a.x", NOTHING),
            ("a.b.5", NOTHING),
            ("a.b.c", NOTHING),
            ("a.b.0.c", NOTHING),
        ],
    )
    def test_dotted(self, path: str, value: object) -> None:
        """Dotted paths reach into objects; numbers index lists; anything else is NOTHING."""
        assert get_path({"a": {"b": [10, {"c": 3}]}}, path) == value

    def test_items_must_be_a_list(self) -> None:
        """An items path to a non-list, or a missing one, is a PathError naming the path."""
        with pytest.raises(PathError) as caught:
            items_at({"data": {"x": 1}}, "data")
        assert caught.value.path == "data"
        with pytest.raises(PathError, match="no such path"):
            items_at({}, "data")
        with pytest.raises(PathError, match="not a JSON list"):
            items_at({"data": []}, None)


class TestLinkHeader:
    def test_github(self) -> None:
        """GitHub's header: next and last links."""
        value = (
            '<https://api.github.com/repositories/1/issues?page=4>; rel="next", '
            '<https://api.github.com/repositories/1/issues?page=515>; rel="last"'
        )
        assert parse_link_header(value) == [
            ("https://api.github.com/repositories/1/issues?page=4", {"rel": "next"}),
            ("https://api.github.com/repositories/1/issues?page=515", {"rel": "last"}),
        ]

    def test_quotes_commas_and_several_rels(self) -> None:
        """Commas and brackets in quoted values do not split links; rel may list several."""
        value = '</a>; title="x, <y>"; rel="prev next", </b>;rel=last'
        assert parse_link_header(value) == [
            ("/a", {"title": "x, <y>", "rel": "prev next"}),
            ("/b", {"rel": "last"}),
        ]
        step = LinkHeader().follow(reply([1], [1], {"link": value}), {}, BASE)
        assert step.url == URL("https://api.example.com/a")

    def test_no_next(self) -> None:
        """No rel=next: the end."""
        step = LinkHeader().follow(reply([1], [1], {"link": '</z>; rel="last"'}), {}, BASE)
        assert step.url is None
        assert LinkHeader().follow(reply([1], [1]), {}, BASE).url is None


class TestStrategies:
    def test_body_cursor(self) -> None:
        """The cursor goes into its parameter on the first page's URL; empty ends."""
        strategy = BodyCursor(items="x", cursor="meta.next", param="after")
        step = strategy.follow(reply({"meta": {"next": "abc"}}, [1]), {}, BASE)
        assert step.url == URL("https://api.example.com/v1/things?limit=2&after=abc")
        for end in ({"meta": {"next": ""}}, {"meta": {"next": None}}, {"meta": {}}):
            assert strategy.follow(reply(end, [1]), {}, BASE).url is None

    def test_a_cursor_that_is_an_object(self) -> None:
        """A cursor must be a string or a number."""
        with pytest.raises(PathError, match="string or a number"):
            BodyCursor().follow(reply({"next_cursor": {"a": 1}}, [1]), {}, BASE)

    def test_last_item_cursor(self) -> None:
        """has_more: the last item's key; no has_more path: an error."""
        strategy = LastItemCursor()
        items = [{"id": "a"}, {"id": "b"}]
        step = strategy.follow(reply({"data": items, "has_more": True}, items), {}, BASE)
        assert step.url is not None
        assert step.url.params["starting_after"] == "b"
        assert (
            strategy.follow(reply({"data": items, "has_more": False}, items), {}, BASE).url is None
        )
        with pytest.raises(PathError, match="no such path"):
            strategy.follow(reply({"data": items}, items), {}, BASE)

    def test_next_url_relative(self) -> None:
        """A relative next URL is resolved against the page's URL."""
        step = NextUrl().follow(reply({"next": "?page=8", "results": [1]}, [1]), {}, BASE)
        assert step.url == URL("https://api.example.com/v1/things?page=8")

    def test_page_number(self) -> None:
        """Pages count from start; an empty page or the total ends them."""
        strategy = PageNumber(items="d", total="n")
        first = strategy.first(BASE)
        assert first.url is not None
        assert first.url.params["page"] == "1"
        step = strategy.follow(reply({"n": 3}, [1, 2]), first.state, BASE)
        assert step.url is not None
        assert step.url.params["page"] == "2"
        assert strategy.follow(reply({"n": 3}, [3]), step.state, BASE).url is None
        assert PageNumber().follow(reply({}, []), first.state, BASE).url is None

    def test_offset(self) -> None:
        """The offset advances by the items received; the limit is sent every time."""
        strategy = Offset(limit=50)
        first = strategy.first(BASE)
        assert first.url is not None
        assert (first.url.params["offset"], first.url.params["limit"]) == ("0", "50")
        step = strategy.follow(reply({}, list(range(30))), first.state, BASE)
        assert step.url is not None
        assert step.url.params["offset"] == "30"
        assert strategy.follow(reply({}, []), step.state, BASE).url is None

    def test_bad_arguments(self) -> None:
        """Out-of-range numbers are ValueErrors."""
        with pytest.raises(ValueError, match="limit"):
            Offset(limit=0)
        with pytest.raises(ValueError, match="start"):
            PageNumber(start=-1)
