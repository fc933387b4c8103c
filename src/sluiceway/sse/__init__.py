"""Server-Sent Events: a WHATWG-exact decoder (no extra needed) and a reconnecting client.

``Decoder`` and ``Event`` need nothing beyond the standard library.
"""

from ._decoder import DEFAULT_MAX_EVENT_SIZE as DEFAULT_MAX_EVENT_SIZE
from ._decoder import DEFAULT_MAX_LINE_SIZE as DEFAULT_MAX_LINE_SIZE
from ._decoder import Decoder as Decoder
from ._event import Event as Event

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "DEFAULT_MAX_LINE_SIZE", "Decoder", "Event"]
