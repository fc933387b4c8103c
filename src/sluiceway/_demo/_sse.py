"""The Server-Sent Events part of the demo."""

from __future__ import annotations

from typing import TextIO

import anyio
import anyio.abc


async def part(out: TextIO) -> None:
    """A server on loopback streams tokens and hangs up mid-event; the client resumes."""
    from .._transport._select import missing_client
    from ..sse import RetryNotice, connect

    why = missing_client()
    if why is not None:
        out.write(f"\n7. Server-Sent Events: skipped ({why})\n")
        return
    out.write("\n7. Server-Sent Events: the server hangs up mid-event; the client resumes\n")
    words = [
        "streams",
        "arrive",
        "over",
        "time",
        "and",
        "a",
        "good",
        "client",
        "never",
        "loses",
        "one",
        "of",
        "them",
    ]
    connections: list[str] = []

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client:
            request = b""
            while b"\r\n\r\n" not in request:
                request += await client.receive()
            last = ""
            for line in request.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "last-event-id":
                    last = value.strip()
            connections.append(last)
            start = int(last) + 1 if last else 0
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            )
            await client.send(head + b"retry: 50\n\n")
            for n in range(start, len(words)):
                await client.send(f"id: {n}\ndata: {words[n]}\n\n".encode())
                await anyio.sleep(0.01)
                if n == 4 and not last:
                    await client.send(b"id: 99\ndata: half an eve")
                    return  # hang up without finishing the event

    notices: list[RetryNotice] = []
    tokens: list[str] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        stream = connect(f"http://127.0.0.1:{port}/tokens", on_reconnect=notices.append)
        tokens = await stream.map(lambda event: event.data).take(len(words)).to_list()
        tg.cancel_scope.cancel()
    out.write(f"   {' '.join(tokens)}\n")
    out.write(
        f"   {len(tokens)} tokens, none lost or repeated; {len(connections)} connections, "
        f"resumed with Last-Event-ID {notices[0].last_event_id!r} "
        f"after {notices[0].delay * 1000:.0f} ms\n"
    )
