"""The subcommands of `sluiceway`, one module each.

A command module has `register(commands)`, which adds its subparser and sets
`run=` on it: `run(args, parser)` does the work (raising on failure; `cli.main`
turns exceptions into exit codes) and may call `parser.error` for bad usage.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncGenerator

__all__ = ["add_client_option", "add_header_option", "http_client", "parse_headers"]


def add_client_option(parser: argparse.ArgumentParser) -> None:
    """`--client aiohttp|httpx`: the HTTP client the requests go through."""
    parser.add_argument(
        "--client",
        choices=("aiohttp", "httpx"),
        help="the HTTP client to use (default: aiohttp if installed, else httpx)",
    )


@asynccontextmanager
async def http_client(kind: str | None, *, streaming: bool) -> AsyncGenerator[object | None]:
    """A client of ``kind`` made as the library makes its own, closed after; None: the default."""
    if kind is None:
        yield None
        return
    from .._transport._select import transport_for

    transport = transport_for(
        None, streaming=streaming, kind="httpx" if kind == "httpx" else "aiohttp"
    )
    try:
        yield transport.client
    finally:
        await transport.aclose()


def add_header_option(parser: argparse.ArgumentParser) -> None:
    """`-H 'Name: value'`, repeatable, as curl spells it."""
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )


def parse_headers(values: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    """The `-H` values as a dict; a value without a name and a colon is a usage error."""
    headers: dict[str, str] = {}
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            parser.error(f"bad header {value!r}: expected 'Name: value'")
        headers[name.strip()] = rest.strip()
    return headers
