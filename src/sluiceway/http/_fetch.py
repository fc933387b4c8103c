"""Fetching pages: the loop from the first page (or a resumed position) to the last.

:class:`Fetcher` asks the strategy where each next page is, checks the
answer (JSON, the items path, a next request never made before and on an
allowed origin, empty pages that still claim more) and yields one
:class:`Page` at a time, with the position to resume after it. The requests
themselves go through a :class:`~._request.Sender`. With ``concurrency``,
the pages a known total predicts are fetched ahead in tasks of the stream's
scope, and still checked and yielded in order.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from .._core._callables import check_count
from .._transport._base import Request
from .._transport._url import URL
from ..errors import BadPageError, CrossOriginError, EmptyPagesError, RepeatedPageError
from ._request import Call, body_text
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

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping

    from .._core._scope import Scope
    from .._transport._base import Transport
    from ._request import Answer, Sender

__all__ = ["FetchOptions", "Fetcher", "Page", "start_at"]

#: The version of the position format.
_POSITION_VERSION = 1
#: Headers of an httpx.Request that describe its own wire form, not the caller's wishes.
_WIRE_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its items, the answer that brought them, and where to resume after it.

    Attributes:
        items: the page's items (after ``max_items`` and a resumed skip).
        response: the answer as a :class:`~sluiceway.http.Reply`: URL, status,
            headers and parsed body (``response.json()`` works), whichever
            client sent the request.
        body: the parsed JSON body.
        position: a JSON-able dict; ``paginate(..., resume=position)`` goes on
            right after this page.
        number: the page's number, counting from 1 at the very first page
            (a resumed paginator goes on counting).
    """

    items: list[Any]
    response: Reply
    body: Any
    position: dict[str, Any]
    number: int


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """What the fetch loop follows, checks and stops at (the paginate() arguments it needs)."""

    strategy: Strategy
    base: URL
    #: The first URL's query (params= merged in): every next URL gets those it lacks.
    params: list[tuple[str, str]]
    max_pages: int | None
    max_items: int | None
    max_empty_pages: int | None
    allow_hosts: frozenset[str]
    concurrency: int
    method: str
    content: bytes | None
    content_type: str | None


def _check_origin(opts: FetchOptions, url: URL) -> None:
    """CrossOriginError unless ``url`` is on the first request's origin or an allowed host."""
    if url.origin == opts.base.origin or url.host in opts.allow_hosts:
        return
    scheme, host, port = opts.base.origin
    raise CrossOriginError(url=str(url), origin=f"{scheme}://{host}:{port}")


class Fetcher:
    """The fetch loop of one paginator, and the requests it sends."""

    __slots__ = ("opts", "sender", "start")

    def __init__(self, sender: Sender, opts: FetchOptions, start: dict[str, Any]) -> None:
        self.sender: Sender = sender
        self.opts: FetchOptions = opts
        #: Where the fetch loop begins: the first page or a resumed position.
        self.start: dict[str, Any] = start

    async def close(self) -> None:
        await self.sender.close()

    def position(
        self, call: Call | None, state: dict[str, Any], skip: int, pages: int, items: int
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

    async def pages(self, scope: Scope | None = None) -> AsyncGenerator[Page, None]:
        """Fetch page after page, from the start (or the resumed position) to the end.

        With ``concurrency > 1`` (and a ``scope`` to run tasks in), the pages
        after the first are fetched ahead in parallel once the first page's
        total says which they are; each still goes through the same checks in
        order, and a page that is not the one predicted (the data changed, a
        short page) ends the parallel fetching: paging goes on one at a time.
        """
        opts, start = self.opts, self.start
        transport = self.sender.open()
        call: Call | None = start["call"]
        state: dict[str, Any] = start["state"]
        skip: int = start["skip"]
        pages_done: int = start["pages"]
        items_done: int = start["items"]
        fetched = delivered = empty_run = 0
        seen: set[tuple[str, str, bytes | None]] = set()
        ahead: AsyncGenerator[tuple[Call, Answer], None] | None = None
        try:
            while call is not None:
                if opts.max_pages is not None and fetched >= opts.max_pages:
                    return
                if opts.max_items is not None and delivered >= opts.max_items:
                    return
                seen.add(call.key)
                got = None if ahead is None else await anext(ahead, None)
                if got is not None and got[0].key == call.key:
                    answer = got[1]
                else:
                    if ahead is not None:  # not the page predicted: on one at a time
                        await ahead.aclose()
                        ahead = None
                    answer = await self.sender.send(transport, call)
                fetched += 1
                url, raw = str(answer.url), answer.raw
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise BadPageError(
                        f"the body is not JSON ({exc})", url=url, path=None, body=body_text(raw)
                    ) from None
                try:
                    items = items_at(body, opts.strategy.items)
                    reply = Reply(answer.url, answer.status, answer.headers, body, items)
                    step, custom = self._step(reply, state)
                    if fetched == 1 and scope is not None and opts.concurrency > 1:
                        ahead = self._ahead(transport, scope, self._plan(body, step, len(items)))
                except PathError as exc:  # internal: the public error names URL and body too
                    raise BadPageError(
                        exc.reason, url=url, path=exc.path, body=body_text(raw)
                    ) from None
                nxt: Call | None = None
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
                yield Page(items, reply, body, position, pages_done)
                if failure is not None:
                    raise failure
                if truncated:
                    return
                call, state, skip = nxt, step.state, 0
        finally:
            if ahead is not None:
                await ahead.aclose()

    def _plan(self, body: Any, step: Step, per_page: int) -> list[Call]:
        """The requests of the pages after the first, as far as the limits let them go."""
        strategy, opts = self.opts.strategy, self.opts
        if step.url is None or per_page == 0 or not isinstance(strategy, PageNumber | Offset):
            return []
        urls = strategy.plan(body, step, per_page, opts.base)
        if opts.max_pages is not None:
            urls = urls[: max(opts.max_pages - 1, 0)]
        if opts.max_items is not None:
            urls = urls[: -(-max(opts.max_items - per_page, 0) // per_page)]
        return [Call(opts.method, url, opts.content, opts.content_type) for url in urls]

    async def _ahead(
        self, transport: Transport, scope: Scope, calls: list[Call]
    ) -> AsyncGenerator[tuple[Call, Answer], None]:
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
                    scope.spawn(self._fetch_into, transport, slot)
                if not slots:
                    return
                slot = slots[0]
                await slot.done.wait()
                slots.popleft()
                if slot.error is not None:
                    raise slot.error
                assert slot.answer is not None
                yield slot.call, slot.answer
        finally:
            for slot in slots:
                slot.cancel.cancel()

    async def _fetch_into(self, transport: Transport, slot: _Slot) -> None:
        """A fan-out task: one page into its slot, or the failure."""
        with slot.cancel:
            try:
                slot.answer = await self.sender.send(transport, slot.call)
            except Exception as exc:
                slot.error = exc
            finally:
                slot.done.set()

    def _step(self, reply: Reply, state: dict[str, Any]) -> tuple[Step, Call | None]:
        """Where the strategy goes after this page (and the request a Custom one made)."""
        strategy = self.opts.strategy
        if not isinstance(strategy, Custom):
            return strategy.follow(reply, state, self.opts.base), None
        request = strategy.next(reply)
        if request is None:
            return Step(None, state), None
        call = self._custom_call(reply, request)
        return Step(None, state, "the strategy's next request", claims_more=not reply.items), call

    def _custom_call(self, reply: Reply, request: object) -> Call:
        """The Call of a custom strategy's next request (a Request, a URL, or an httpx.Request)."""
        opts = self.opts
        if isinstance(request, str):
            return Call(opts.method, reply.url.urljoin(request), opts.content, opts.content_type)
        if isinstance(request, Request):
            content, kind = request.content, None
            headers = dict(request.headers or {})
            if content is None and request.json is not None:
                content, kind = encode_json(request.json)
            elif content is not None:
                kind = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = reply.url.urljoin(str(request.url))
            return Call(request.method.upper(), url, content or None, kind, headers or None)
        if type(request).__module__.partition(".")[0] == "httpx":
            return _from_httpx(reply, request)
        raise TypeError(
            "the strategy's next() must return a sluiceway.http.Request, a URL string or None, "
            f"got {type(request).__name__}"
        )

    def _next_call(self, step: Step, custom: Call | None, seen: set[Any]) -> Call | None:
        """The next request, checked: same origin (or allowed) and never made before."""
        if custom is not None:
            nxt = custom
        elif step.url is None:
            return None
        else:
            url = step.url
            if isinstance(self.opts.strategy, LinkHeader | NextUrl):
                url = url.copy_add_missing(self.opts.params)  # the caller's, given back
            nxt = Call(self.opts.method, url, self.opts.content, self.opts.content_type)
        _check_origin(self.opts, nxt.url)
        if nxt.key in seen:
            raise RepeatedPageError(url=str(nxt.url), cursor=step.via)
        return nxt

    def _count_empty(
        self, items: list[Any], step: Step, nxt: Call | None, empty_run: int, url: str
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


class _Slot:
    """One page fetched ahead by a fan-out task."""

    __slots__ = ("answer", "call", "cancel", "done", "error")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.cancel = anyio.CancelScope()
        self.done = anyio.Event()
        self.answer: Answer | None = None
        self.error: Exception | None = None


def encode_json(value: Any) -> tuple[bytes, str]:
    """A JSON request body and its Content-Type (compact, UTF-8)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8"), "application/json"


def _from_httpx(reply: Reply, request: Any) -> Call:
    """The Call of an ``httpx.Request`` from a custom strategy (deprecated: use Request)."""
    warnings.warn(
        "a custom strategy's next() returned an httpx.Request: return a "
        "sluiceway.http.Request (or a URL string), which works with every client",
        DeprecationWarning,
        stacklevel=4,
    )
    try:
        content: bytes = request.content
    except Exception:  # httpx.RequestNotRead: a streaming body
        raise TypeError("the next request's body must not be a stream") from None
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _WIRE_HEADERS}
    kind = headers.pop("content-type", None) if content else None
    headers.pop("content-type", None)
    url = reply.url.urljoin(str(request.url))
    return Call(request.method, url, content or None, kind, headers or None)


def start_at(opts: FetchOptions, resume: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The fetch loop's starting point: the first page, or a saved position."""
    if resume is None:
        step = opts.strategy.first(opts.base)
        assert step.url is not None
        return {
            "call": Call(opts.method, step.url, opts.content, opts.content_type),
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
            call = Call(
                str(saved.get("method") or "GET"),
                URL(saved["url"]),
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
