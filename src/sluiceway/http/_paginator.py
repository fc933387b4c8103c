"""paginate(): the pages of an HTTP API as one stream of items, fetched while you work.

The fetch loop is one async generator of :class:`Page` objects. With
``prefetch`` it runs under the engine's own ``prefetch`` (a background task of
the stream's scope), so the next page is requested while the consumer works
through the current one; a second generator, in the consumer's task, hands
each page's items to the engine as a batch and moves the public position
only once the consumer was given a page's last item.
"""

from __future__ import annotations

import copy
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .._core._callables import check_count
from .._core._lifecycle import Opened
from .._core._nodes import Composite, Source
from .._core._pipeline import Pipeline
from .._stream import Stream
from .._transport._httpx import (
    BODY_START,
    add_missing,
    build_request,
    join_url,
    merge_params,
    read_start,
)
from ..errors import (
    BadPageError,
    CrossOriginError,
    EmptyPagesError,
    HTTPStatusError,
    PageTooLargeError,
    RepeatedPageError,
    RetriesExhaustedError,
)
from ..ops._flow import Prefetch
from ._policy import RateLimiter, Retry, rate_limit_wait
from ._strategies import (
    Custom,
    LinkHeader,
    NextUrl,
    Offset,
    PageNumber,
    PathError,
    Reply,
    Step,
    Strategy,
    items_at,
)

try:
    import httpx
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("sluiceway.http needs httpx: pip install 'sluiceway[http]'") from None

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence

    from .._core._scope import Scope

__all__ = [
    "DEFAULT_MAX_EMPTY_PAGES",
    "DEFAULT_MAX_PAGE_SIZE",
    "DEFAULT_RETRY",
    "Page",
    "PaginatedStream",
    "Retrying",
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
#: The version of the position format.
_POSITION_VERSION = 1
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Response headers that describe the encoded body, dropped from a page's response copy.
_ENCODING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its items, the response that brought them, and where to resume after it.

    Attributes:
        items: the page's items (after ``max_items`` and a resumed skip).
        response: the response, its body already read (``response.json()`` works).
        body: the parsed JSON body.
        position: a JSON-able dict; ``paginate(..., resume=position)`` goes on
            right after this page.
        number: the page's number, counting from 1 at the very first page
            (a resumed paginator goes on counting).
    """

    items: list[Any]
    response: httpx.Response
    body: Any
    position: dict[str, Any]
    number: int


class Retrying:
    """What a retry notice tells: which try failed, why, and the wait before the next."""

    __slots__ = ("attempt", "delay", "error", "status", "url")

    def __init__(
        self, url: str, attempt: int, delay: float, status: int | None, error: BaseException | None
    ) -> None:
        self.url = url
        self.attempt = attempt
        self.delay = delay
        self.status = status
        self.error = error

    def __repr__(self) -> str:
        why = f"HTTP {self.status}" if self.status is not None else repr(self.error)
        return f"<Retrying {self.url} (retry {self.attempt}) in {self.delay:.2f} s after {why}>"


@dataclass(frozen=True, slots=True)
class _Call:
    """A request to make: built from method, URL and content, or the user's own."""

    method: str
    url: httpx.URL
    content: bytes | None = None
    content_type: str | None = None
    request: httpx.Request | None = None

    @property
    def key(self) -> tuple[str, str, bytes | None]:
        return (self.method, str(self.url), self.content)


@dataclass(frozen=True, slots=True)
class _Options:
    strategy: Strategy
    base: httpx.URL
    params: httpx.QueryParams
    headers: dict[str, str]
    max_pages: int | None
    max_items: int | None
    retry: Retry | None
    rate: float | None
    max_page_size: int
    max_empty_pages: int | None
    allow_hosts: frozenset[str]
    on_retry: Callable[[Retrying], object] | None
    concurrency: int
    method: str
    content: bytes | None
    content_type: str | None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    scheme = url.scheme.lower()
    return (scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(scheme))


def _check_origin(opts: _Options, url: httpx.URL) -> None:
    """CrossOriginError unless ``url`` is on the first request's origin or an allowed host."""
    if _origin(url) == _origin(opts.base) or url.host.lower() in opts.allow_hosts:
        return
    scheme, host, port = _origin(opts.base)
    raise CrossOriginError(url=str(url), origin=f"{scheme}://{host}:{port}")


def _text(raw: bytes) -> str:
    return raw[:BODY_START].decode("utf-8", "replace")


class _Fetcher:
    """The fetch loop of one paginator, and the counters it keeps."""

    __slots__ = ("_client", "_limiter", "_own_client", "opts", "retries", "start")

    def __init__(
        self, client: httpx.AsyncClient | None, opts: _Options, start: dict[str, Any]
    ) -> None:
        self._client = client
        self._own_client = client is None
        self.opts = opts
        #: Where the fetch loop begins: the first page or a resumed position.
        self.start = start
        self._limiter = RateLimiter(opts.rate)
        #: Retries made so far (all pages).
        self.retries = 0

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()

    def position(
        self, call: _Call | None, state: dict[str, Any], skip: int, pages: int, items: int
    ) -> dict[str, Any]:
        content = None
        if call is not None and call.content:
            content = call.content.decode("latin-1")  # round-trips any bytes through JSON
        return {
            "v": _POSITION_VERSION,
            "method": call.method if call is not None else None,
            "url": str(call.url) if call is not None else None,
            "content": content,
            "content_type": call.content_type if call is not None else None,
            "state": copy.deepcopy(state),
            "skip": skip,
            "pages": pages,
            "items": items,
        }

    async def pages(self, scope: Scope | None = None) -> AsyncIterator[Page]:
        """Fetch page after page, from the start (or the resumed position) to the end.

        With ``concurrency > 1`` (and a ``scope`` to run tasks in), the pages
        after the first are fetched ahead in parallel once the first page's
        total says which they are; each still goes through the same checks in
        order, and a page that is not the one predicted (the data changed, a
        short page) ends the parallel fetching: paging goes on one at a time.
        """
        opts, start = self.opts, self.start
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)
        client = self._client
        call: _Call | None = start["call"]
        state: dict[str, Any] = start["state"]
        skip: int = start["skip"]
        pages_done: int = start["pages"]
        items_done: int = start["items"]
        fetched = delivered = empty_run = 0
        seen: set[tuple[str, str, bytes | None]] = set()
        ahead: AsyncIterator[tuple[_Call, httpx.Response, bytes]] | None = None
        try:
            while call is not None:
                if opts.max_pages is not None and fetched >= opts.max_pages:
                    return
                if opts.max_items is not None and delivered >= opts.max_items:
                    return
                seen.add(call.key)
                got = None if ahead is None else await anext(ahead, None)
                if got is not None and got[0].key == call.key:
                    _, response, raw = got
                else:
                    if ahead is not None:  # not the page predicted: on one at a time
                        await ahead.aclose()  # type: ignore[attr-defined]  # our generator
                        ahead = None
                    response, raw = await self._fetch(client, call)
                fetched += 1
                url = str(response.url)
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise BadPageError(
                        f"the body is not JSON ({exc})", url=url, path=None, body=_text(raw)
                    ) from None
                try:
                    items = items_at(body, opts.strategy.items)
                    step, custom = self._step(response, body, items, state)
                    if fetched == 1 and scope is not None and opts.concurrency > 1:
                        ahead = self._ahead(client, scope, self._plan(body, step, len(items)))
                except PathError as exc:
                    raise BadPageError(
                        exc.reason, url=url, path=exc.path, body=_text(raw)
                    ) from None
                nxt: _Call | None = None
                failure: Exception | None = None
                try:
                    nxt = self._next_call(step, custom, seen)
                    empty_run = self._count_empty(items, step, nxt, empty_run, url)
                except (CrossOriginError, RepeatedPageError, EmptyPagesError) as exc:
                    failure = exc  # raised once this page's items are delivered
                if skip:
                    items = items[skip:]
                truncated = False
                if opts.max_items is not None and delivered + len(items) > opts.max_items:
                    items = items[: opts.max_items - delivered]
                    truncated = True
                delivered += len(items)
                pages_done += 1
                items_done += len(items)
                if truncated:
                    # Resume inside this page: fetch it again and skip what was delivered.
                    position = self.position(call, state, skip + len(items), pages_done, items_done)
                else:
                    position = self.position(nxt, step.state, 0, pages_done, items_done)
                yield Page(items, response, body, position, pages_done)
                if failure is not None:
                    raise failure
                if truncated:
                    return
                call, state, skip = nxt, step.state, 0
        finally:
            if ahead is not None:
                await ahead.aclose()  # type: ignore[attr-defined]  # our own async generator

    def _plan(self, body: Any, step: Step, per_page: int) -> list[_Call]:
        """The requests of the pages after the first, as far as the limits let them go."""
        strategy, opts = self.opts.strategy, self.opts
        if step.url is None or per_page == 0 or not isinstance(strategy, PageNumber | Offset):
            return []
        urls = strategy.plan(body, step, per_page, opts.base)
        if opts.max_pages is not None:
            urls = urls[: max(opts.max_pages - 1, 0)]
        if opts.max_items is not None:
            urls = urls[: -(-max(opts.max_items - per_page, 0) // per_page)]
        return [_Call(opts.method, url, opts.content, opts.content_type) for url in urls]

    async def _ahead(
        self, client: httpx.AsyncClient, scope: Scope, calls: list[_Call]
    ) -> AsyncIterator[tuple[_Call, httpx.Response, bytes]]:
        """Fetch ``calls`` in tasks of ``scope``, at most ``concurrency`` held at once, in order.

        A task never raises: its failure is kept and raised here, in the
        page's turn, after the pages before it.
        """
        width = self.opts.concurrency
        todo = iter(calls)
        slots: deque[_Slot] = deque()
        try:
            while True:
                while len(slots) < width and (nxt := next(todo, None)) is not None:
                    slot = _Slot(nxt)
                    slots.append(slot)
                    scope.spawn(self._fetch_into, client, slot)
                if not slots:
                    return
                slot = slots[0]
                await slot.done.wait()
                slots.popleft()
                if slot.error is not None:
                    raise slot.error
                assert slot.response is not None
                yield slot.call, slot.response, slot.raw
        finally:
            for slot in slots:
                slot.cancel.cancel()

    async def _fetch_into(self, client: httpx.AsyncClient, slot: _Slot) -> None:
        """A fan-out task: one page into its slot, or the failure."""
        with slot.cancel:
            try:
                slot.response, slot.raw = await self._fetch(client, slot.call)
            except Exception as exc:
                slot.error = exc
            finally:
                slot.done.set()

    def _step(
        self, response: httpx.Response, body: Any, items: list[Any], state: dict[str, Any]
    ) -> tuple[Step, _Call | None]:
        """Where the strategy goes after this page (and the request a Custom one made)."""
        strategy = self.opts.strategy
        if not isinstance(strategy, Custom):
            reply = Reply(response.url, response.headers, body, items, response)
            return strategy.follow(reply, state, self.opts.base), None
        request = strategy.next(response)
        if request is None:
            return Step(None, state), None
        if not isinstance(request, httpx.Request):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                "the strategy's next() must return an httpx.Request or None, "
                f"got {type(request).__name__}"
            )
        try:
            content = request.content
        except httpx.RequestNotRead:
            raise TypeError("the next request's body must not be a stream") from None
        kind = request.headers.get("content-type") if content else None
        call = _Call(request.method, request.url, content or None, kind, request)
        return Step(None, state, "the strategy's next request", claims_more=not items), call

    def _next_call(self, step: Step, custom: _Call | None, seen: set[Any]) -> _Call | None:
        """The next request, checked: same origin (or allowed) and never made before."""
        if custom is not None:
            nxt = custom
        elif step.url is None:
            return None
        else:
            url = step.url
            if isinstance(self.opts.strategy, LinkHeader | NextUrl):
                url = add_missing(url, self.opts.params)  # the caller's, given back
            nxt = _Call(self.opts.method, url, self.opts.content, self.opts.content_type)
        _check_origin(self.opts, nxt.url)
        if nxt.key in seen:
            raise RepeatedPageError(url=str(nxt.url), cursor=step.via)
        return nxt

    def _count_empty(
        self, items: list[Any], step: Step, nxt: _Call | None, empty_run: int, url: str
    ) -> int:
        """Empty pages in a row that claim more; EmptyPagesError past the limit."""
        if items or not step.claims_more:
            return 0
        empty_run += 1
        if nxt is None:
            raise EmptyPagesError(
                "an empty page says there is more, but has no item to continue from",
                url=url,
                count=empty_run,
            )
        limit = self.opts.max_empty_pages
        if limit is not None and empty_run > limit:
            raise EmptyPagesError(
                f"more than max_empty_pages={limit} empty pages in a row still claim more",
                url=url,
                count=empty_run,
            )
        return empty_run

    async def _fetch(self, client: httpx.AsyncClient, call: _Call) -> tuple[httpx.Response, bytes]:
        """One page's response and body, retried as the policy says."""
        opts = self.opts
        retry = opts.retry
        attempt = 0
        while True:
            await self._limiter.acquire()
            status: int | None = None
            headers: httpx.Headers | None = None
            body = ""
            error: BaseException | None = None
            request = call.request
            if request is None:
                sent = opts.headers
                if call.content_type is not None:
                    sent = {"Content-Type": call.content_type, **sent}
                request = build_request(
                    client, call.method, call.url, headers=sent, content=call.content
                )
            url = str(request.url)
            try:
                response = await client.send(request, stream=True)
                try:
                    self._observe(response.headers)
                    if response.is_success:
                        raw = await self._read(response, url)
                        return self._with_body(response, raw), raw
                    status, headers = response.status_code, response.headers
                    # Best effort: a body that stalls or breaks neither holds the
                    # status back nor turns into a network error (a retry).
                    body = _text(await read_start(response))
                    if retry is None or not retry.retries_status(status, headers):
                        raise HTTPStatusError(
                            url=url,
                            status=status,
                            headers={k.lower(): v for k, v in headers.items()},
                            body=body,
                        )
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                error = exc
            attempt += 1
            if retry is None or attempt > retry.attempts:
                raise RetriesExhaustedError(
                    "no retries left" if retry is not None else "retries are off",
                    url=url,
                    status=status,
                    body=body,
                    attempts=attempt,
                ) from error
            delay = retry.wait(attempt, headers, time.time())
            if delay > retry.max_wait:
                raise RetriesExhaustedError(
                    f"the server asks to wait {delay:.0f} s, more than max_wait={retry.max_wait:g}",
                    url=url,
                    status=status,
                    body=body,
                    attempts=attempt,
                ) from error
            self.retries += 1
            if opts.on_retry is not None:
                opts.on_retry(Retrying(url, attempt, delay, status, error))
            self._limiter.hold(delay)  # every request of this paginator waits

    def _observe(self, headers: httpx.Headers) -> None:
        """A spent rate limit (X-RateLimit-Remaining: 0) holds the next request until its reset."""
        wait = rate_limit_wait(headers, time.time())
        if wait is not None:
            retry = self.opts.retry
            cap = retry.max_wait if retry is not None else wait
            self._limiter.hold(min(wait, cap))

    async def _read(self, response: httpx.Response, url: str) -> bytes:
        """The whole body, refused as soon as it grows over the size limit."""
        limit = self.opts.max_page_size
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PageTooLargeError(url=url, size=int(declared), maximum=limit)
        parts: list[bytes] = []
        size = 0
        chunks = response.aiter_bytes()
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PageTooLargeError(url=url, size=size, maximum=limit)
                parts.append(chunk)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]  # httpx's async generator
        return b"".join(parts)

    @staticmethod
    def _with_body(response: httpx.Response, raw: bytes) -> httpx.Response:
        """A copy of ``response`` whose body is read: ``.json()``, ``.text`` work on it."""
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in _ENCODING_HEADERS
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=raw, request=response.request
        )


class _Slot:
    """One page fetched ahead by a fan-out task."""

    __slots__ = ("call", "cancel", "done", "error", "raw", "response")

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.cancel = anyio.CancelScope()
        self.done = anyio.Event()
        self.response: httpx.Response | None = None
        self.raw = b""
        self.error: Exception | None = None


class _PageSource(Source):
    """The fetch loop, as the node of the page stream."""

    __slots__ = ("_fetcher",)

    def __init__(self, fetcher: _Fetcher) -> None:
        super().__init__()
        self._fetcher = fetcher

    @property
    def needs_scope(self) -> bool:  # fan-out runs tasks
        return self._fetcher.opts.concurrency > 1

    def run(self, scope: Scope | None) -> AsyncIterator[Page]:
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
        self, source: _PageSource, prefetch: int, fetcher: _Fetcher, position: dict[str, Any]
    ) -> None:
        super().__init__([])
        self._source = source
        self._prefetch = prefetch
        self.batched = True
        self.fetcher = fetcher
        #: The position after the last page the consumer was given all of.
        self.position = position

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
        return self._paginator.fetcher.retries

    def pages(self) -> PaginatedStream[Page]:
        """The same paginator, giving whole :class:`Page` objects instead of items."""
        out = PaginatedStream[Page](self)  # takes this one over (or raises)
        out._paginator.batched = False
        return out


def _start(opts: _Options, resume: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The fetch loop's starting point: the first page, or a saved position."""
    if resume is None:
        step = opts.strategy.first(opts.base)
        assert step.url is not None
        return {
            "call": _Call(opts.method, step.url, opts.content, opts.content_type),
            "state": step.state,
            "skip": 0,
            "pages": 0,
            "items": 0,
        }
    try:
        saved: Any = json.loads(resume) if isinstance(resume, str) else resume
    except ValueError:
        raise ValueError("paginate(): resume= is not a saved position (not JSON)") from None
    try:
        if saved["v"] != _POSITION_VERSION:
            raise ValueError(
                f"paginate(): resume= is not a saved position (version {saved['v']!r})"
            )
        call = None
        if saved["url"] is not None:
            content = saved.get("content")
            call = _Call(
                str(saved.get("method") or "GET"),
                httpx.URL(saved["url"]),
                None if content is None else str(content).encode("latin-1"),
                saved.get("content_type"),
            )
            _check_origin(opts, call.url)
        state = dict(saved["state"])
        skip = check_count(saved["skip"], "paginate", "resume['skip']")
        pages_done = check_count(saved["pages"], "paginate", "resume['pages']")
        items_done = check_count(saved["items"], "paginate", "resume['items']")
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"paginate(): resume= is not a saved position: {exc!r}") from None
    return {"call": call, "state": state, "skip": skip, "pages": pages_done, "items": items_done}


def paginate(
    client: httpx.AsyncClient | None,
    url: str | httpx.URL,
    *,
    strategy: Strategy | Callable[[httpx.Response], httpx.Request | None],
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
    on_retry: Callable[[Retrying], object] | None = None,
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
        client: the ``httpx.AsyncClient`` to send with (its auth, base URL,
            params, timeouts, redirects); None: one is made and closed with the stream.
        url: the first page's URL (relative to the client's ``base_url`` if it has one).
        strategy: where the next page is: :class:`BodyCursor`,
            :class:`LastItemCursor`, :class:`LinkHeader`, :class:`NextUrl`,
            :class:`PageNumber`, :class:`Offset`, :class:`Custom`, or a callable
            ``(httpx.Response) -> httpx.Request | None`` (the body is then the
            list of items).
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
        on_retry: called with a :class:`Retrying` before each wait.
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
    if client is not None and not isinstance(client, httpx.AsyncClient):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"paginate() expects an httpx.AsyncClient, got {type(client).__name__}")
    if not isinstance(url, str | httpx.URL):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"paginate() expects a URL string, got {type(url).__name__}")
    if isinstance(strategy, Strategy):
        chosen = strategy
    elif callable(strategy):
        chosen = Custom(strategy)
    else:
        raise TypeError(
            "paginate() expects a strategy (BodyCursor(), LinkHeader(), ...) or a callable "
            f"(httpx.Response) -> httpx.Request | None, got {type(strategy).__name__}"
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
        encoded = httpx.Request("POST", "http://x/", json=json)
        content, content_type = encoded.content, encoded.headers["content-type"]
    # The URL's own query and params=; the client's own params are added to
    # each request as it is sent (where its URL lacks them), not kept here or
    # in positions. httpx is not asked to merge: since 0.28 params= replaces
    # the URL's query instead.
    base = merge_params(join_url(client, url), params)
    if not base.is_absolute_url:
        raise ValueError(
            f"paginate() needs an absolute URL (or a client with base_url), got {url!r}"
        )
    opts = _Options(
        strategy=chosen,
        base=base,
        params=base.params,  # the query of the URL too: all persist
        headers=dict(headers or {}),
        max_pages=max_pages,
        max_items=max_items,
        retry=retry,
        rate=float(rate) if rate is not None else None,
        max_page_size=max_page_size,
        max_empty_pages=max_empty_pages,
        allow_hosts=frozenset(host.lower() for host in allow_hosts),
        on_retry=on_retry,
        concurrency=concurrency,
        method=method.upper(),
        content=content,
        content_type=content_type,
    )
    start = _start(opts, resume)
    fetcher = _Fetcher(client, opts, start)
    initial = fetcher.position(
        start["call"], start["state"], start["skip"], start["pages"], start["items"]
    )
    return PaginatedStream(_Paginate(_PageSource(fetcher), prefetch, fetcher, initial))


def pages(
    client: httpx.AsyncClient | None,
    url: str | httpx.URL,
    *,
    strategy: Strategy | Callable[[httpx.Response], httpx.Request | None],
    **options: Any,
) -> PaginatedStream[Page]:
    """Like :func:`paginate`, but whole :class:`Page` objects (items, response, position).

    Takes the same arguments; the same as ``paginate(...).pages()``.
    """
    return paginate(client, url, strategy=strategy, **options).pages()
