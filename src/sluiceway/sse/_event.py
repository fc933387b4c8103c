"""One server-sent event."""

from __future__ import annotations

import json as _json
from dataclasses import dataclass
from typing import Any

__all__ = ["Event"]


# Not slotted: the decoder builds events by filling a bare instance's
# __dict__ (two dict stores), well under half the cost of the frozen
# dataclass __init__ or of setting four slots through their descriptors.
# A type or retry left at its default is not stored and reads the class
# attribute, so vars() of such an event lacks them; equality, hashing, repr,
# pickling, copy and dataclasses.asdict()/replace() all see every field.
@dataclass(frozen=True)
class Event:
    """A dispatched server-sent event, as the browser's ``MessageEvent`` sees it.

    Attributes:
        event: the event type (``"message"`` unless the block set one).
        data: the data lines of the block, joined with ``"\\n"``.
        id: the last event ID when the event was dispatched (``""`` if none),
            like ``MessageEvent.lastEventId``: it persists across events.
        retry: a valid ``retry`` field given in this event's own block, in
            milliseconds, else None.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None

    def json(self, **kwargs: Any) -> Any:
        """``data`` parsed as JSON (``kwargs`` go to :func:`json.loads`)."""
        return _json.loads(self.data, **kwargs)
