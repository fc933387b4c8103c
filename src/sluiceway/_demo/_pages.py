"""The paginated-API part of the demo."""

from __future__ import annotations

import json
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.abc

#: Items served; pages of PAGE items; seconds the server takes per page and the consumer per page.
ITEMS = 30
PAGE = 5
LATENCY = 0.02
WORK = 0.02


async def part(out: TextIO) -> None:
    """A cursor API on loopback: read-ahead against sequential, a 429 waited out, a resume."""
    from .._transport._select import missing_client
    from ..http import BodyCursor, RetryNotice, paginate

    why = missing_client()
    if why is not None:
        out.write(f"\n8. Paginated API: skipped ({why})\n")
        return
    out.write("\n8. Paginated API: the next page is fetched while you work; 429s and resumes\n")
    throttled: set[str] = set()

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client:
            request = b""
            while b"\r\n\r\n" not in request:
                request += await client.receive()
            target = request.split(b" ", 2)[1].decode()
            query = parse_qs(urlsplit(target).query)
            start = int(query.get("cursor", ["0"])[0])
            run = query.get("run", [""])[0]
            await anyio.sleep(LATENCY)
            if run == "throttled" and start == 15 and run not in throttled:
                throttled.add(run)
                head = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
                await client.send(head + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                return
            end = min(start + PAGE, ITEMS)
            body = json.dumps(
                {"data": list(range(start, end)), "next_cursor": str(end) if end < ITEMS else None}
            ).encode()
            ok = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            await client.send(ok.encode() + b"\r\nConnection: close\r\n\r\n" + body)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    url = f"http://127.0.0.1:{port}/items"
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)

        async def timed(prefetch: int) -> float:
            started = anyio.current_time()
            stream = paginate(None, url, strategy=BodyCursor(), prefetch=prefetch)
            async with stream.pages() as pages:
                async for _ in pages:
                    await anyio.sleep(WORK)  # the consumer's work on a page
            return anyio.current_time() - started

        sequential, pipelined = await timed(0), await timed(1)
        pages = ITEMS // PAGE
        out.write(
            f"   {pages} pages, {LATENCY * 1000:.0f} ms each from the server and "
            f"{WORK * 1000:.0f} ms of work each: {sequential:.2f} s one after the other, "
            f"{pipelined:.2f} s with prefetch=1 ({pipelined / sequential:.2f}x)\n"
        )

        notices: list[RetryNotice] = []
        first = paginate(
            None,
            url,
            strategy=BodyCursor(),
            params={"run": "throttled"},
            max_pages=4,
            on_retry=notices.append,
        )
        got = await first.to_list()
        position = first.position
        saved = json.dumps(position)
        rest = await paginate(
            None, url, strategy=BodyCursor(), params={"run": "throttled"}, resume=json.loads(saved)
        ).to_list()
        where = urlsplit(str(position["url"]))
        out.write(
            f"   a 429 with Retry-After: {notices[0].delay:g} on page 4 was waited out; stopped "
            f"after {len(got)} items (max_pages=4), position saved: "
            f"next {where.path}?{where.query}\n"
        )
        whole = got + rest
        out.write(
            f"   resumed from it: {len(rest)} more items; {len(whole)} in all, "
            f"{'none lost or repeated' if whole == list(range(ITEMS)) else 'MISMATCH'}\n"
        )
        tg.cancel_scope.cancel()
