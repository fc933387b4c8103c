"""`sluiceway sse URL`: the events of a Server-Sent Events stream as JSON lines."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import anyio

from . import add_client_option, add_header_option, http_client, parse_headers

if TYPE_CHECKING:
    import argparse
    from typing import Any


def register(commands: Any) -> None:
    sse: argparse.ArgumentParser = commands.add_parser(
        "sse",
        help="print the events of a Server-Sent Events stream as JSON lines",
        description=(
            "Print each event of URL as one JSON object per line on stdout; reconnect "
            "notices go to stderr. GET streams reconnect after a clean end, as a browser "
            "does; with --data the request is a POST that ends with its body."
        ),
    )
    sse.add_argument("url", metavar="URL")
    add_header_option(sse)
    add_client_option(sse)
    sse.add_argument("--data", metavar="JSON", help="send this JSON body with a POST")
    sse.add_argument("--last-event-id", metavar="ID", help="resume after this event id")
    sse.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    sse.add_argument(
        "--max-reconnects", type=int, metavar="N", help="give up after N reconnects in a row"
    )
    sse.add_argument(
        "--idle-timeout", type=float, metavar="SECONDS", help="reconnect after this much silence"
    )
    sse.add_argument(
        "--no-reconnect", action="store_true", help="end at the end of the body, even for GET"
    )
    sse.set_defaults(run=run)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    headers = parse_headers(args.header, parser)
    body = None
    if args.data is not None:
        try:
            body = json.loads(args.data)
        except ValueError as exc:
            parser.error(f"--data is not JSON: {exc}")
    if args.max_events is not None and args.max_events < 0:
        parser.error("--max-events must be >= 0")
    anyio.run(_stream, args, headers, body)


async def _stream(args: argparse.Namespace, headers: dict[str, str], body: object) -> None:
    from ..sse import RetryNotice, connect

    def notice(reconnect: RetryNotice) -> None:
        why = "the body ended" if reconnect.error is None else f"{reconnect.error!r}"
        print(
            f"sluiceway: reconnecting in {reconnect.delay:.2f} s (attempt {reconnect.attempt}, "
            f"after {why}; Last-Event-ID {reconnect.last_event_id!r})",
            file=sys.stderr,
            flush=True,
        )

    async with http_client(args.client, streaming=True) as client:
        stream = connect(
            args.url,
            client=client,
            method="POST" if body is not None else "GET",
            headers=headers,
            json=body,
            last_event_id=args.last_event_id,
            reconnect=False if args.no_reconnect else None,
            max_reconnects=args.max_reconnects,
            idle_timeout=args.idle_timeout,
            on_reconnect=notice,
        )
        events = stream if args.max_events is None else stream.take(args.max_events)
        async with events:
            async for event in events:
                line = {
                    "event": event.event,
                    "data": event.data,
                    "id": event.id,
                    "retry": event.retry,
                }
                print(json.dumps(line, ensure_ascii=False), flush=True)
