"""paginate(): the pages of an HTTP API as one stream of items, fetched while you work.

The fetch loop (:class:`~._fetch.Fetcher`) is one async generator of
:class:`~._fetch.Page` objects. With ``prefetch`` it runs under the engine's
own ``prefetch`` (a background task of the stream's scope), so the next page
is requested while the consumer works through the current one; a second
generator, in the consumer's task, hands each page's items to the engine as a
batch and moves the public position only once the consumer was given a
page's last item.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, TypeVar

from .._core._callables import check_count
from .._core._lifecycle import Opened
from .._core._nodes import Composite, Source
from .._core._pipeline import Pipeline
from .._stream import Stream
from .._transport._select import client_kind
from .._transport._url import url_text
from ..ops._flow import Prefetch
from ._fetch import Fetcher, FetchOptions, Page, encode_json, start_at
from ._policy import Retry
from ._request import Sender
from ._strategies import Custom, Offset, PageNumber, Strategy

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence

    from .._core._scope import Scope
    from .._transport._base import Request
    from .._transport._notice import RetryNotice
    from ._strategies import Reply

__all__ = [
    "DEFAULT_MAX_EMPTY_PAGES",
    "DEFAULT_MAX_PAGE_SIZE",
    "DEFAULT_RETRY",
    "PaginatedStream",
    "pages",
    "paginate",
]

T_co = TypeVar("T_co", covariant=True)

#: The largest page body read by default (after content decoding): 32 MiB.
DEFAULT_MAX_PAGE_SIZE = 32 * 1024 * 1024
#: Empty pages in a row that may still claim more before EmptyPagesError.
DEFAULT_MAX_EMPTY_PAGES = 5
#: The retry policy used unless told otherwise.
DEFAULT_RETRY = Retry()


class _PageSource(Source):
    """The fetch loop, as the node of the page stream."""

    __slots__ = ("_fetcher",)

    def __init__(self, fetcher: Fetcher) -> None:
        super().__init__()
        self._fetcher = fetcher

    @property
    def needs_scope(self) -> bool:  # fan-out runs tasks
        return self._fetcher.opts.concurrency > 1

    def run(self, scope: Scope | None) -> AsyncGenerator[Page, None]:
        return self._fetcher.pages(scope)

    async def release(self) -> None:
        try:
            await super().release()
        finally:
            await self._fetcher.close()

    def describe(self) -> str:
        return f"paginate({str(self._fetcher.opts.base)!r})"


class _Paginate(Composite):
    """Pages (read ahead or not) to the consumer: their items as batches, or whole.

    The page stream is built when the consumer starts: read ahead under the
    engine's ``prefetch`` when there is a scope to run it in (``wants_scope``
    asks ``async with`` and the terminal operations for one), or one page
    after another when a bare ``async for`` iterates it.
    """

    __slots__ = ("_prefetch", "_source", "batched", "fetcher", "position")

    def __init__(
        self, source: _PageSource, prefetch: int, fetcher: Fetcher, position: dict[str, Any]
    ) -> None:
        super().__init__([])
        self._source = source
        self._prefetch = prefetch
        self.batched: bool = True
        self.fetcher: Fetcher = fetcher
        #: The position after the last page the consumer was given all of.
        self.position: dict[str, Any] = position

    @property
    def needs_scope(self) -> bool:  # fan-out runs tasks
        return self._source.needs_scope

    @property
    def wants_scope(self) -> bool:  # decided by the options
        return self._prefetch > 0

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        pipe = Pipeline(self._source)
        if scope is not None and self._prefetch > 0:
            ahead = self._prefetch - 1
            pipe = pipe.around(lambda up: Prefetch([up], ahead), "prefetch")
        self._inputs.append(pipe)
        pages = pipe.start(False, scope, raw=True)
        return self._items(pages) if self.batched else self._whole(pages)

    async def release(self) -> None:
        try:
            await super().release()
        finally:
            if not self._inputs:
                # Never started: no page stream owns the source to close it.
                await self._source.aclose()

    async def _items(self, pages: AsyncIterator[Page]) -> AsyncIterator[list[Any]]:
        # The engine pulls the next batch only when the consumer wants the item
        # after the last one it has, so the position moves as the consumer is
        # handed a page's last item: never ahead of what it received.
        async for page in Opened(pages):
            items = page.items
            if len(items) > 1:
                yield items[:-1]
            self.position = page.position
            if items:
                yield items[-1:]

    async def _whole(self, pages: AsyncIterator[Page]) -> AsyncIterator[Page]:
        async for page in Opened(pages):
            self.position = page.position
            yield page

    def describe(self) -> str:
        return self._source.describe()


class PaginatedStream(Stream[T_co]):
    """The Stream :func:`paginate` returns, with the paginator's position.

    ``position`` is a JSON-able dict: where to resume after the last page the
    consumer was given completely (all of its items; for :meth:`pages`, the
    page itself). It never runs ahead of the consumer, however far the
    paginator fetched in the background, so resuming with
    ``paginate(..., resume=position)`` never skips an item; items of a page
    only partly read when the stream stopped come again.

    Inside ``async with`` or through a terminal operation the next pages are
    fetched in the background (``prefetch``); iterated with a bare
    ``async for``, the paginator itself fetches one page after another instead.

    Items move through the engine a page at a time, the page's last item in a
    batch of its own (that hand-over is what moves the position), so
    ``.batches()`` gives two lists per page: use :meth:`pages` for whole pages.
    """

    __slots__ = ("_paginator",)

    def __init__(self, source: _Paginate | PaginatedStream[Any]) -> None:
        """Over a paginator's node, or taking another PaginatedStream over."""
        super().__init__(source)
        self._paginator: _Paginate = source if isinstance(source, _Paginate) else source._paginator

    @property
    def position(self) -> dict[str, Any]:
        """Where to resume (``paginate(..., resume=...)``) after what the consumer received."""
        return copy.deepcopy(self._paginator.position)

    @property
    def retries(self) -> int:
        """How many requests were retried so far."""
        return self._paginator.fetcher.sender.retries

    def pages(self) -> PaginatedStream[Page]:
        """The same paginator, giving whole :class:`Page` objects instead of items."""
        out = PaginatedStream[Page](self)  # takes this one over (or raises)
        out._paginator.batched = False
        return out


def paginate(
    client: Any,
    url: str,
    *,
    strategy: Strategy | Callable[[Reply], Request | str | None],
    params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    prefetch: int = 1,
    max_pages: int | None = None,
    max_items: int | None = None,
    headers: Mapping[str, str] | None = None,
    resume: Mapping[str, Any] | str | None = None,
    retry: Retry | None = DEFAULT_RETRY,
    rate: float | None = None,
    max_page_size: int = DEFAULT_MAX_PAGE_SIZE,
    max_empty_pages: int | None = DEFAULT_MAX_EMPTY_PAGES,
    allow_hosts: Iterable[str] = (),
    on_retry: Callable[[RetryNotice], object] | None = None,
    concurrency: int = 1,
    method: str = "GET",
    json: Any = None,
) -> PaginatedStream[Any]:
    """The items of every page of a paginated HTTP API, as one stream.

    Pages are fetched with ``GET`` (or ``method``, with the ``json`` body);
    ``params``, ``headers`` and the first URL's own query go with every
    request, and so do the client's own ``params`` where a request's URL has
    no value of that name (a next URL from the server keeps its own query and
    gets the parameters it lacks). While the consumer works through a page,
    the next ones are already being fetched (``prefetch``) in a background
    task of the stream's scope: iterate inside ``async with`` or use a
    terminal operation (a bare ``async for`` fetches one page after another).

    Args:
        client: the ``httpx.AsyncClient`` or ``aiohttp.ClientSession`` to send
            with (its auth, base URL, timeouts, redirects, an httpx client's
            params); None: one is made and closed with the stream (aiohttp
            when it is installed, on asyncio; else httpx).
        url: the first page's URL (relative to the client's ``base_url`` if it has one).
        strategy: where the next page is: :class:`BodyCursor`,
            :class:`LastItemCursor`, :class:`LinkHeader`, :class:`NextUrl`,
            :class:`PageNumber`, :class:`Offset`, :class:`Custom`, or a callable
            ``(Reply) -> Request | str | None`` (the body is then the list of
            items).
        params: query parameters of every request, added to the URL's own
            (a name given here replaces the URL's values of that name).
        prefetch: pages fetched ahead of the one being consumed (0: fetch the
            next page only once the consumer asks for an item past this one).
        max_pages: stop after fetching this many pages (in this run).
        max_items: stop after this many items (in this run); the position then
            points inside the last page, which a resume fetches again and skips into.
        headers: request headers of every request.
        resume: a position saved from :attr:`PaginatedStream.position` or
            :attr:`Page.position` (a dict, or its JSON text): go on right after it.
        retry: the retry policy (:class:`Retry`); None: no retries.
        rate: at most this many requests per second (retries included).
        max_page_size: the largest body read, in bytes after decompression;
            a larger one raises :class:`~sluiceway.errors.PageTooLargeError`
            while it arrives.
        max_empty_pages: empty pages in a row that may still claim more pages
            (a next cursor or URL) before :class:`~sluiceway.errors.EmptyPagesError`;
            None: no limit (a repeating cursor still stops it).
        allow_hosts: hosts a next URL may point to besides the first request's
            origin (scheme, host and port); any other raises
            :class:`~sluiceway.errors.CrossOriginError`.
        on_retry: called with a :class:`RetryNotice` before each wait.
        concurrency: with :class:`PageNumber` or :class:`Offset` and a total
            path (``total=``, ``total_pages=``), fetch up to this many of the
            pages after the first in parallel (the first page's total says
            which there are); items still come in page order. 1: one at a time.
        method: the HTTP method of the first request, and of every request of
            a built-in strategy (a custom one makes its own requests).
        json: a JSON body sent with those requests (for search APIs that page
            by POST).

    Returns:
        A :class:`PaginatedStream` of the items; ``.pages()`` gives whole
        :class:`Page` objects, ``.position`` where to resume.

    Raises:
        TypeError, ValueError: bad arguments, at the call.
        HTTPStatusError, RetriesExhaustedError, BadPageError, PageTooLargeError,
        RepeatedPageError, CrossOriginError, EmptyPagesError: while iterating
        (from :mod:`sluiceway.errors`), after the items of the pages before.
    """
    if client is not None and client_kind(client) is None:
        raise TypeError(
            "paginate() expects an httpx.AsyncClient or an aiohttp.ClientSession, "
            f"got {type(client).__name__}"
        )
    text = url_text(url, "paginate()")
    if isinstance(strategy, Strategy):
        chosen = strategy
    elif callable(strategy):
        chosen = Custom(strategy)
    else:
        raise TypeError(
            "paginate() expects a strategy (BodyCursor(), LinkHeader(), ...) or a callable "
            f"(Reply) -> Request | str | None, got {type(strategy).__name__}"
        )
    prefetch = check_count(prefetch, "paginate", "prefetch")
    if max_pages is not None:
        check_count(max_pages, "paginate", "max_pages")
    if max_items is not None:
        check_count(max_items, "paginate", "max_items")
    check_count(max_page_size, "paginate", "max_page_size", minimum=1)
    if max_empty_pages is not None:
        check_count(max_empty_pages, "paginate", "max_empty_pages")
    if retry is not None and not isinstance(retry, Retry):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"paginate() expects retry=Retry(...) or None, got {retry!r}")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0  # pyright: ignore[reportUnnecessaryIsInstance]
    ):
        raise ValueError(f"paginate() expects rate > 0 requests per second, got {rate!r}")
    check_count(concurrency, "paginate", "concurrency", minimum=1)
    if concurrency > 1 and not (
        (isinstance(chosen, PageNumber) and (chosen.total or chosen.total_pages))
        or (isinstance(chosen, Offset) and chosen.total)
    ):
        raise ValueError(
            "paginate(): concurrency > 1 needs PageNumber(total=... or total_pages=...) or "
            "Offset(total=...): only a known total tells which pages to fetch in parallel"
        )
    if isinstance(allow_hosts, str):
        raise TypeError("paginate() expects allow_hosts to be a list of host names, not a string")
    if not isinstance(method, str) or not method:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"paginate() expects an HTTP method name, got {method!r}")
    content = content_type = None
    if json is not None:
        content, content_type = encode_json(json)
    sender = Sender(
        client,
        headers=dict(headers or {}),
        retry=retry,
        rate=float(rate) if rate is not None else None,
        max_page_size=max_page_size,
        on_retry=on_retry,
    )
    # The URL's own query and params=; an httpx client's own params are added
    # to each request as it is sent (where its URL lacks them), not kept here
    # or in positions.
    base = sender.join(text).copy_merge_params(params)
    if not base.is_absolute:
        raise ValueError(
            f"paginate() needs an absolute URL (or a client with base_url), got {url!r}"
        )
    opts = FetchOptions(
        strategy=chosen,
        base=base,
        params=base.query_pairs(),  # the query of the URL too: all persist
        max_pages=max_pages,
        max_items=max_items,
        max_empty_pages=max_empty_pages,
        allow_hosts=frozenset(host.lower() for host in allow_hosts),
        concurrency=concurrency,
        method=method.upper(),
        content=content,
        content_type=content_type,
    )
    start = start_at(opts, resume)
    fetcher = Fetcher(sender, opts, start)
    initial = fetcher.position(
        start["call"], start["state"], start["skip"], start["pages"], start["items"]
    )
    return PaginatedStream(_Paginate(_PageSource(fetcher), prefetch, fetcher, initial))


def pages(
    client: Any,
    url: str,
    *,
    strategy: Strategy | Callable[[Reply], Request | str | None],
    **options: Any,
) -> PaginatedStream[Page]:
    """Like :func:`paginate`, but whole :class:`Page` objects (items, response, position).

    Takes the same arguments; the same as ``paginate(...).pages()``.
    """
    return paginate(client, url, strategy=strategy, **options).pages()
