"""Server-Sent Events: a WHATWG-exact decoder and a reconnecting client.

``Decoder``, ``Event`` and ``RetryNotice`` need nothing beyond the standard
library; ``connect`` reads through aiohttp or httpx (``pip install
'sluiceway[aiohttp]'`` or ``'sluiceway[http]'``), whichever client it is
given, and imports that library only when a stream starts.
"""

import warnings
from typing import TYPE_CHECKING, Any

from .._transport._notice import RetryNotice as RetryNotice
from ._decoder import DEFAULT_MAX_EVENT_SIZE as DEFAULT_MAX_EVENT_SIZE
from ._decoder import DEFAULT_MAX_LINE_SIZE as DEFAULT_MAX_LINE_SIZE
from ._decoder import Decoder as Decoder
from ._event import Event as Event

if TYPE_CHECKING:
    from ._client import EventStream as EventStream
    from ._client import connect as connect

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_MAX_LINE_SIZE",
    "Decoder",
    "Event",
    "EventStream",
    "RetryNotice",
    "connect",
]


def __getattr__(name: str) -> Any:
    if name in ("EventStream", "connect"):
        from . import _client

        return getattr(_client, name)
    if name == "Reconnect":
        warnings.warn(
            "sluiceway.sse.Reconnect is deprecated: use sluiceway.sse.RetryNotice "
            "(the same class, shared with sluiceway.http)",
            DeprecationWarning,
            stacklevel=2,
        )
        return RetryNotice
    raise AttributeError(f"module 'sluiceway.sse' has no attribute {name!r}")
