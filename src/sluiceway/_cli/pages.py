"""`sluiceway pages URL`: every item of a paginated API as JSON lines, resumable."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from . import add_client_option, add_header_option, http_client, parse_headers

if TYPE_CHECKING:
    import argparse
    from typing import Any, TextIO


def register(commands: Any) -> None:
    pages: argparse.ArgumentParser = commands.add_parser(
        "pages",
        help="print every item of a paginated HTTP API as JSON lines",
        description=(
            "Page through URL and print each item as one JSON object per line on stdout. "
            "Choose how the API points to the next page with one of the style options. "
            "Without --items the body itself is the list of items. With --resume FILE the "
            "position is saved to FILE after each page (once its items are written), and a "
            "run that finds FILE goes on from there. A progress line goes to stderr when it "
            "is a terminal."
        ),
    )
    pages.add_argument("url", metavar="URL")
    pages.add_argument("--items", metavar="PATH", help="dotted path of the items in the body")
    style = pages.add_argument_group("how the next page is found (pick one)")
    choice = style.add_mutually_exclusive_group(required=True)
    choice.add_argument("--cursor", metavar="PATH", help="a cursor at PATH in the body")
    choice.add_argument(
        "--has-more", metavar="PATH", help="a has-more flag at PATH; the last item's key follows"
    )
    choice.add_argument(
        "--link-header", action="store_true", help='the Link: <...>; rel="next" header'
    )
    choice.add_argument("--next-url", metavar="PATH", help="the next page's URL at PATH")
    choice.add_argument("--page-param", metavar="NAME", help="page numbers in parameter NAME")
    choice.add_argument("--offset-param", metavar="NAME", help="offsets in parameter NAME")
    style.add_argument(
        "--cursor-param", metavar="NAME", default="cursor", help="with --cursor (default: cursor)"
    )
    style.add_argument(
        "--after-param",
        metavar="NAME",
        default="starting_after",
        help="with --has-more (default: starting_after)",
    )
    style.add_argument(
        "--key", metavar="FIELD", default="id", help="with --has-more: the item's key (default: id)"
    )
    style.add_argument(
        "--page-start", type=int, default=1, metavar="N", help="with --page-param (default: 1)"
    )
    style.add_argument(
        "--limit", type=int, default=100, metavar="N", help="with --offset-param (default: 100)"
    )
    style.add_argument(
        "--total",
        metavar="PATH",
        help="with --page-param or --offset-param: the total number of items at PATH",
    )
    style.add_argument(
        "--limit-param",
        metavar="NAME",
        default="limit",
        help="with --offset-param: the page size's parameter (default: limit)",
    )
    add_header_option(pages)
    add_client_option(pages)
    pages.add_argument("--max-pages", type=int, metavar="N", help="stop after N pages")
    pages.add_argument("--max-items", type=int, metavar="N", help="stop after N items")
    pages.add_argument(
        "--resume", type=Path, metavar="FILE", help="save the position here; resume from it"
    )
    pages.add_argument(
        "--prefetch", type=int, default=1, metavar="N", help="pages fetched ahead (default: 1)"
    )
    pages.add_argument(
        "--concurrency",
        type=int,
        default=1,
        metavar="N",
        help="with --total: fetch up to N pages in parallel (default: 1)",
    )
    pages.add_argument("--rate", type=float, metavar="N", help="at most N requests per second")
    pages.add_argument(
        "--retries", type=int, default=5, metavar="N", help="retries per page (default: 5)"
    )
    pages.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a host next URLs may point to besides URL's own (repeatable)",
    )
    pages.set_defaults(run=run)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    headers = parse_headers(args.header, parser)
    for name in ("max_pages", "max_items", "prefetch", "retries"):
        value = getattr(args, name)
        if value is not None and value < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.limit < 1:
        parser.error("--limit must be >= 1")
    if args.concurrency < 1:
        parser.error("--concurrency must be >= 1")
    if args.concurrency > 1 and args.total is None:
        parser.error("--concurrency needs --total (and --page-param or --offset-param)")
    if args.rate is not None and not args.rate > 0:
        parser.error("--rate must be > 0")
    resume = _load(args.resume)
    anyio.run(_pages, args, headers, resume)


def _strategy(args: argparse.Namespace) -> Any:
    from ..http import BodyCursor, LastItemCursor, LinkHeader, NextUrl, Offset, PageNumber

    items = args.items
    if args.cursor is not None:
        return BodyCursor(items=items, cursor=args.cursor, param=args.cursor_param)
    if args.has_more is not None:
        return LastItemCursor(
            items=items, has_more=args.has_more, param=args.after_param, key=args.key
        )
    if args.next_url is not None:
        return NextUrl(items=items, next=args.next_url)
    if args.page_param is not None:
        return PageNumber(
            items=items, param=args.page_param, start=args.page_start, total=args.total
        )
    if args.offset_param is not None:
        return Offset(
            items=items,
            param=args.offset_param,
            limit_param=args.limit_param,
            limit=args.limit,
            total=args.total,
        )
    return LinkHeader(items=items)


def _load(path: Path | None) -> dict[str, Any] | None:
    """The position saved in ``path``, if the file exists and is not empty."""
    if path is None or not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return None
    try:
        saved = json.loads(text)
    except ValueError:
        saved = None
    if isinstance(saved, dict):
        return saved  # pyright: ignore[reportUnknownVariableType]  # checked by paginate()
    raise ValueError(f"resume file {str(path)!r} does not hold a saved position")


def _save(path: Path, position: dict[str, Any]) -> None:
    """Write the position atomically: a temporary file beside it, then a rename."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(position, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


class _Progress:
    """One line on a terminal's stderr: items, pages, rate, retries."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._shown = err.isatty()
        self._started = time.monotonic()

    def show(self, items: int, pages: int, retries: int) -> None:
        if not self._shown:
            return
        took = max(time.monotonic() - self._started, 1e-9)
        self._err.write(
            f"\r{items:,} items, {pages:,} pages, {items / took:,.0f} items/s, {retries} retries "
        )
        self._err.flush()

    def done(self) -> None:
        if self._shown:
            self._err.write("\n")
            self._err.flush()


async def _pages(
    args: argparse.Namespace, headers: dict[str, str], resume: dict[str, Any] | None
) -> None:
    async with http_client(args.client, streaming=False) as client:
        await _print_pages(args, headers, resume, client)


async def _print_pages(
    args: argparse.Namespace, headers: dict[str, str], resume: dict[str, Any] | None, client: Any
) -> None:
    from ..http import Retry, paginate

    stream = paginate(
        client,
        args.url,
        strategy=_strategy(args),
        headers=headers,
        prefetch=args.prefetch,
        max_pages=args.max_pages,
        max_items=args.max_items,
        resume=resume,
        retry=Retry(attempts=args.retries),
        rate=args.rate,
        allow_hosts=args.allow_host,
        concurrency=args.concurrency,
    )
    out = sys.stdout
    progress = _Progress(sys.stderr)
    items = pages = 0
    try:
        async with stream.pages() as all_pages:
            async for page in all_pages:
                if page.items:
                    out.write(
                        "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in page.items)
                    )
                out.flush()
                if args.resume is not None:
                    _save(args.resume, page.position)
                items += len(page.items)
                pages += 1
                progress.show(items, pages, stream.retries)
    finally:
        progress.done()
