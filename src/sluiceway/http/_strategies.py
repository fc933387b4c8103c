"""How an API says where the next page is: one small strategy per style.

A strategy is pure: given the URL of the first page, it says which URL to
fetch first; given what one page brought (a :class:`Reply`: its URL, status,
headers and parsed JSON body), it says which URL comes next, or None at the
end. It sees no HTTP client's types, whichever client sends the requests. Its state (a page
number, an offset) is a JSON-able dict, so a paginator's position can be
saved and resumed. Paths into the body are dotted: ``"data.items"``,
``"response_metadata.next_cursor"``; a number indexes a list (``"pages.0"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core._callables import check_callable, check_count
from .._core._nothing import NOTHING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .._transport._base import Request
    from .._transport._url import URL

__all__ = [
    "BodyCursor",
    "Custom",
    "LastItemCursor",
    "LinkHeader",
    "NextUrl",
    "Offset",
    "PageNumber",
    "Reply",
    "Step",
    "Strategy",
    "count_at",
    "get_path",
    "items_at",
    "parse_link_header",
]


class PathError(Exception):
    """A path the strategy needs is missing or of the wrong kind: internal, never seen by users.

    A strategy knows the path but not the page's URL or body, so it raises
    this and the fetch loop (``_fetch.Fetcher.pages``), the only caller of
    the methods that raise it (``follow``, ``plan`` and :func:`items_at`,
    which take a :class:`Reply` or a :class:`Step`), turns it into
    :class:`~sluiceway.errors.BadPageError` with all three, ``from None``.
    That is why it is not in :mod:`sluiceway.errors`; ``get_path``, the one
    path function users call, never raises it. ``tests/http/test_bad_paths.py``
    reaches every place it is raised through ``paginate()``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def get_path(body: object, path: str) -> Any:
    """The value at dotted ``path`` in ``body``, or :data:`NOTHING`."""
    value: Any = body
    for part in path.split("."):
        if isinstance(value, dict):
            if part not in value:
                return NOTHING
            value = value[part]  # pyright: ignore[reportUnknownVariableType]
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(value) <= index < len(value):  # pyright: ignore[reportUnknownArgumentType]
                return NOTHING
            value = value[index]  # pyright: ignore[reportUnknownVariableType]
        else:
            return NOTHING
    return value  # pyright: ignore[reportUnknownVariableType]  # a JSON value


def items_at(body: object, path: str | None) -> list[Any]:
    """The list of items at ``path`` (the body itself for None); PathError otherwise."""
    value = body if path is None else get_path(body, path)
    if value is NOTHING:
        raise PathError(path or "", "no such path in the body")
    if not isinstance(value, list):
        what = "the body" if path is None else "the value"
        raise PathError(path or "", f"{what} is a {type(value).__name__}, not a JSON list")
    return value  # pyright: ignore[reportUnknownVariableType]  # JSON: list of Any


def _scalar(value: object, path: str) -> str:
    """A cursor or key as the string sent in the query."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PathError(path, f"expected a string or a number, got {type(value).__name__}")
    return str(value)


_PARAM = re.compile(r'\s*;\s*([^\s=;,]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,]*))?')


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """The links of an RFC 8288 ``Link`` header: ``[(target, {param: value}), ...]``.

    Parameter names are lower-cased; quoted values are unquoted; commas
    inside quotes do not split links. Text that is not a link is skipped.
    """
    links: list[tuple[str, dict[str, str]]] = []
    at = 0
    while (start := value.find("<", at)) >= 0:
        end = value.find(">", start)
        if end < 0:
            break
        params: dict[str, str] = {}
        at = end + 1
        while match := _PARAM.match(value, at):
            name, raw = match.group(1), (match.group(2) or "").strip()
            if len(raw) >= 2 and raw[0] == raw[-1] == '"':
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params.setdefault(name.lower(), raw)
            at = match.end()
        links.append((value[start + 1 : end].strip(), params))
    return links


def next_link(value: str | None) -> str | None:
    """The target of the link whose ``rel`` includes ``next``, if any."""
    if not value:
        return None
    for target, params in parse_link_header(value):
        if "next" in params.get("rel", "").lower().split():
            return target
    return None


@dataclass(frozen=True, slots=True)
class Reply:
    """What one page brought, as a strategy sees it (and ``Page.response``).

    Attributes:
        url: the URL that answered (after redirects), with query helpers.
        status: the HTTP status (a success: 2xx).
        headers: the response headers; names are case-insensitive, and a
            header sent on several lines has its values joined by ``", "``.
        body: the parsed JSON body.
        items: the page's items (the list at the strategy's ``items`` path).
    """

    url: URL
    status: int
    headers: Mapping[str, str]
    body: Any
    items: list[Any]

    def json(self) -> Any:
        """The parsed JSON body (the same as ``body``)."""
        return self.body


@dataclass(frozen=True, slots=True)
class Step:
    """Where to go next: the URL (None at the end), the new state, and what led there."""

    url: URL | None
    state: dict[str, Any]
    #: What decided the URL, for error messages ("cursor 'abc'", "the Link header").
    via: str = ""
    #: An empty page that still claims more (counted against ``max_empty_pages``).
    claims_more: bool = False


class Strategy:
    """The base of the built-in strategies: where to start and where to go next."""

    __slots__ = ()

    items: str | None

    def first(self, url: URL) -> Step:
        """The first page's URL and the initial state."""
        return Step(url, {})

    def follow(self, reply: Reply, state: dict[str, Any], base: URL) -> Step:
        """The next page after ``reply``; ``base`` is the first page's URL."""
        raise NotImplementedError


def _join(reply: Reply, target: str) -> URL:
    """A next URL from the server, made absolute against the page that named it."""
    return reply.url.urljoin(target)


@dataclass(frozen=True, slots=True)
class BodyCursor(Strategy):
    """A cursor in the body, sent back as a query parameter (Slack, Google page tokens).

    Paging ends when the cursor is absent, null or empty. Slack:
    ``BodyCursor(items="members", cursor="response_metadata.next_cursor")``;
    Google AIP-158: ``BodyCursor(items="books", cursor="nextPageToken", param="pageToken")``.

    Attributes:
        items: the dotted path of the list of items (None: the body is the list).
        cursor: the dotted path of the next cursor.
        param: the query parameter that carries it.
    """

    items: str | None = "data"
    cursor: str = "next_cursor"
    param: str = "cursor"

    def follow(self, reply: Reply, state: dict[str, Any], base: URL) -> Step:
        value = get_path(reply.body, self.cursor)
        if value is NOTHING or value is None or value == "":
            return Step(None, state)
        cursor = _scalar(value, self.cursor)
        return Step(
            base.copy_set_param(self.param, cursor),
            state,
            f"cursor {cursor!r}",
            claims_more=not reply.items,
        )


@dataclass(frozen=True, slots=True)
class LastItemCursor(Strategy):
    """``has_more`` in the body, and the last item's key as the next cursor (Stripe).

    An empty page that says ``has_more`` cannot be followed (there is no last
    item): it raises :class:`~sluiceway.errors.EmptyPagesError`.

    Attributes:
        items: the dotted path of the list of items.
        has_more: the dotted path of the flag that says more pages follow.
        param: the query parameter that carries the last key.
        key: the dotted path of the key inside an item.
    """

    items: str | None = "data"
    has_more: str = "has_more"
    param: str = "starting_after"
    key: str = "id"

    def follow(self, reply: Reply, state: dict[str, Any], base: URL) -> Step:
        more = get_path(reply.body, self.has_more)
        if more is NOTHING:
            raise PathError(self.has_more, "no such path in the body")
        if not more:
            return Step(None, state)
        if not reply.items:
            return Step(None, state, claims_more=True)  # nothing to continue from
        last = get_path(reply.items[-1], self.key)
        if last is NOTHING:
            raise PathError(f"{self.items or ''}[-1].{self.key}", "the last item has no key")
        key = _scalar(last, self.key)
        return Step(base.copy_set_param(self.param, key), state, f"last key {key!r}")


@dataclass(frozen=True, slots=True)
class LinkHeader(Strategy):
    """The ``Link: <...>; rel="next"`` response header, RFC 8288 (GitHub).

    Attributes:
        items: the dotted path of the list of items (None: the body is the list).
    """

    items: str | None = None

    def follow(self, reply: Reply, state: dict[str, Any], base: URL) -> Step:
        target = next_link(reply.headers.get("link"))
        if target is None:
            return Step(None, state)
        return Step(
            _join(reply, target), state, "the Link header's next URL", claims_more=not reply.items
        )


@dataclass(frozen=True, slots=True)
class NextUrl(Strategy):
    """The next page's URL in the body (Django REST framework's ``next``).

    Paging ends when it is absent, null or empty. Relative URLs are resolved
    against the page's own URL.

    Attributes:
        items: the dotted path of the list of items.
        next: the dotted path of the next URL.
    """

    items: str | None = "results"
    next: str = "next"

    def follow(self, reply: Reply, state: dict[str, Any], base: URL) -> Step:
        value = get_path(reply.body, self.next)
        if value is NOTHING or value is None or value == "":
            return Step(None, state)
        if not isinstance(value, str):
            raise PathError(self.next, f"expected a URL string, got {type(value).__name__}")
        return Step(_join(reply, value), state, f"the next URL {value!r}", not reply.items)


@dataclass(frozen=True, slots=True)
class PageNumber(Strategy):
    """``?page=1``, ``?page=2``, ... until an empty page or the known total.

    Attributes:
        items: the dotted path of the list of items (None: the body is the list).
        param: the query parameter of the page number.
        start: the first page's number.
        total: the dotted path of the total number of items, if the API gives
            it: paging stops once that many were received, saving the request
            for the empty page.
        total_pages: the dotted path of the number of pages, if the API gives it.
    """

    items: str | None = "data"
    param: str = "page"
    start: int = 1
    total: str | None = None
    total_pages: str | None = None

    def __post_init__(self) -> None:
        check_count(self.start, "PageNumber", "start")

    def first(self, url: URL) -> Step:
        return Step(self.url_at(url, self.start), {"page": self.start, "seen": 0})

    def url_at(self, base: URL, page: int) -> URL:
        """The URL of page number ``page``."""
        return base.copy_set_param(self.param, page)

    def plan(self, body: object, step: Step, per_page: int, base: URL) -> list[URL]:
        """The URLs of the pages after ``step``, when the total says how many there are.

        ``per_page`` is how many items a full page holds (the first page's count).
        """
        page = int(step.state["page"])
        if self.total_pages is not None:
            last = self.start + count_at(body, self.total_pages) - 1
        elif self.total is not None:
            left = count_at(body, self.total) - int(step.state["seen"])
            last = page - 1 + -(-left // per_page)
        else:
            return []
        return [self.url_at(base, n) for n in range(page, last + 1)]

    def follow(self, reply: Reply, state: dict[str, Any], base: URL) -> Step:
        page, seen = int(state["page"]), int(state["seen"]) + len(reply.items)
        if not reply.items:
            return Step(None, state)
        if self.total is not None and seen >= count_at(reply.body, self.total):
            return Step(None, {"page": page, "seen": seen})
        if self.total_pages is not None and page - self.start + 1 >= count_at(
            reply.body, self.total_pages
        ):
            return Step(None, {"page": page, "seen": seen})
        nxt = page + 1
        return Step(self.url_at(base, nxt), {"page": nxt, "seen": seen}, f"page {nxt}")


@dataclass(frozen=True, slots=True)
class Offset(Strategy):
    """``?offset=0&limit=100``, ``?offset=100&limit=100``, ... until an empty page or the total.

    The offset advances by the number of items each page brought, so a server
    that caps ``limit`` lower is followed correctly.

    Attributes:
        items: the dotted path of the list of items (None: the body is the list).
        param: the query parameter of the offset.
        limit_param: the query parameter of the page size (None: not sent).
        limit: the page size asked for.
        total: the dotted path of the total number of items, if the API gives
            it: paging stops at that offset, saving the request for the empty page.
        start: the first offset.
    """

    items: str | None = "data"
    param: str = "offset"
    limit_param: str | None = "limit"
    limit: int = 100
    total: str | None = None
    start: int = 0

    def __post_init__(self) -> None:
        check_count(self.limit, "Offset", "limit", minimum=1)
        check_count(self.start, "Offset", "start")

    def url_at(self, base: URL, offset: int) -> URL:
        """The URL of the page at ``offset``."""
        url = base.copy_set_param(self.param, offset)
        if self.limit_param is not None:
            url = url.copy_set_param(self.limit_param, self.limit)
        return url

    def first(self, url: URL) -> Step:
        return Step(self.url_at(url, self.start), {"offset": self.start})

    def follow(self, reply: Reply, state: dict[str, Any], base: URL) -> Step:
        offset = int(state["offset"]) + len(reply.items)
        if not reply.items:
            return Step(None, state)
        if self.total is not None and offset >= count_at(reply.body, self.total):
            return Step(None, {"offset": offset})
        return Step(self.url_at(base, offset), {"offset": offset}, f"offset {offset}")

    def plan(self, body: object, step: Step, per_page: int, base: URL) -> list[URL]:
        """The URLs of the pages after ``step``, when the total is known.

        ``per_page`` is how many items a full page holds (the first page's
        count, which is less than ``limit`` when the server caps it).
        """
        if self.total is None:
            return []
        total = count_at(body, self.total)
        return [self.url_at(base, o) for o in range(int(step.state["offset"]), total, per_page)]


def count_at(body: object, path: str) -> int:
    """The whole number at ``path`` (a total); PathError if absent or not a number."""
    value = get_path(body, path)
    if value is NOTHING:
        raise PathError(path, "no such path in the body")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PathError(path, f"expected a number, got {type(value).__name__}")
    try:
        return int(value)
    except ValueError:
        raise PathError(path, f"expected a number, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class Custom(Strategy):
    """Your own rule: ``next(reply)`` gives the next request, or None at the end.

    ``reply`` is the page's :class:`Reply` (URL, status, headers, parsed body
    and items), the same whichever HTTP client sends. A plain callable passed
    as ``strategy=`` is wrapped in ``Custom(next=fn)``: the body is then the
    list of items. The next request (a :class:`~sluiceway.http.Request`) is
    sent with its method, headers (over ``paginate``'s ``headers=``) and body;
    a saved position keeps its method, URL and body, not its headers.

    Attributes:
        next: ``(Reply) -> Request | str | None``: the next request, or just
            its URL (relative to the page's own), or None at the end.
        items: the dotted path of the list of items (None: the body is the list).
    """

    next: Callable[[Reply], Request | str | None]
    items: str | None = None

    def __post_init__(self) -> None:
        check_callable(self.next, "Custom", "next")

    def follow(self, reply: Reply, state: dict[str, Any], base: URL) -> Step:
        raise NotImplementedError  # the paginator calls next() itself: it gives a request
