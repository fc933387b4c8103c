"""The WHATWG "interpret an event stream" rules, over bytes, without I/O.

How it stays fast: the bytes are decoded with an incremental UTF-8 decoder
(invalid bytes become U+FFFD), line endings are normalised to ``"\\n"`` with
two ``str.replace`` calls, and whole blocks (the text before a blank line)
are found with ``str.rfind``/``str.split`` at C speed. Only the few lines of
each complete block are looked at in Python, once. Text after the last blank
line waits, as pieces, until a chunk that may complete a block arrives, so
feeding a long event one byte at a time stays linear.

Chunking never changes the output: a CR at the end of a chunk ends its line
at once (as the spec says) and a LF at the start of the next chunk is then
swallowed; a multi-byte character split across chunks is decoded whole.
"""

from __future__ import annotations

import codecs
from typing import Any

from .._core._callables import check_count
from ..errors import SSELimitError
from ._event import Event

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "DEFAULT_MAX_LINE_SIZE", "Decoder"]

#: Longest line accepted, in characters (LLM tool-call events exceed 128 KiB).
DEFAULT_MAX_LINE_SIZE = 8 * 1024 * 1024
#: Largest event block accepted, in characters.
DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024

# The slots' own descriptors, past the frozen __setattr__: the hot path builds
# events without the cost of the dataclass __init__.
_new_event = Event.__new__
_slot: Any = Event.__dict__
_set_event = _slot["event"].__set__
_set_data = _slot["data"].__set__
_set_id = _slot["id"].__set__
_set_retry = _slot["retry"].__set__


def _make(event: str, data: str, last_id: str, retry: int | None) -> Event:
    made = _new_event(Event)
    _set_event(made, event)
    _set_data(made, data)
    _set_id(made, last_id)
    _set_retry(made, retry)
    return made


class Decoder:
    """Turns the bytes of a ``text/event-stream`` body into :class:`Event` objects.

    Feed it chunks as they arrive; each call returns the events completed by
    that chunk. A block still pending when the bytes end is discarded, as the
    spec says, so there is no flush.

    Attributes:
        last_event_id: the spec's last event ID (``""`` until an ``id`` field
            is dispatched); send it as ``Last-Event-ID`` when reconnecting.
        reconnection_time: milliseconds from the last valid ``retry`` field,
            or None until one is seen.

    Args:
        max_line_size: longest line accepted, in characters.
        max_event_size: largest block (an event with its fields) accepted.
        last_event_id: the ID to start from, as on a reconnection (it stays
            until an ``id`` field changes it).

    Raises:
        SSELimitError: from :meth:`feed`, when a line or a block is larger.
    """

    __slots__ = (
        "_bom_checked",
        "_data",
        "_event_type",
        "_id_buffer",
        "_line",
        "_max_event",
        "_max_line",
        "_partial",
        "_pieces",
        "_retry",
        "_skip_lf",
        "_tail_ends_lf",
        "_tail_size",
        "_utf8",
        "last_event_id",
        "reconnection_time",
    )

    def __init__(
        self,
        *,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        last_event_id: str = "",
    ) -> None:
        self._max_line = check_count(max_line_size, "Decoder", "max_line_size", minimum=1)
        self._max_event = check_count(max_event_size, "Decoder", "max_event_size", minimum=1)
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._bom_checked = False
        self._skip_lf = False  # the last chunk ended in CR: a LF right after is part of it
        self._pieces: list[str] = []  # text after the last blank line, not joined yet
        self._tail_size = 0
        self._line = 0  # length of the last, unfinished line of the pending text
        self._partial: list[str] = []  # its pieces
        self._tail_ends_lf = False
        # The block being read: its data lines, type and retry; the id buffer persists.
        self._data: list[str] = []
        self._event_type = ""
        self._retry: int | None = None
        self._id_buffer = last_event_id
        self.last_event_id = last_event_id
        self.reconnection_time: int | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Decode ``data`` (any chunk of the body) and return the events it completes."""
        text = self._utf8.decode(data)
        if not text:
            return []
        if not self._bom_checked:
            self._bom_checked = True
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        # Only a chunk with a blank line in it (or that makes one with the
        # pending text) can complete a block; others are just kept.
        if "\n\n" not in text and not (self._tail_ends_lf and text[0] == "\n"):
            self._keep(text)
            return []
        pieces = self._pieces
        if pieces:
            pieces.append(text)
            text = "".join(pieces)
            pieces.clear()
        end = text.rfind("\n\n")
        self._tail_size = self._line = 0
        self._partial.clear()
        self._tail_ends_lf = False
        events: list[Event] = []
        region = text[:end]
        small = min(self._max_line, self._max_event)
        if len(region) <= small and len(region) > 256 * (region.count("\n\n") + 1):
            # Large blocks (within every limit): one pass over the lines is
            # cheaper than cutting blocks first and lines then.
            self._read_lines(region.split("\n"), events)
        else:
            append = events.append
            for block in region.split("\n\n"):
                # The common block, one "data:" line (LLM token streams), in
                # line; a block starts with clean buffers, only the id persists.
                if block[:5] == "data:" and "\n" not in block and len(block) <= small:
                    value = block[6:] if block[5:6] == " " else block[5:]
                    last_id = self.last_event_id = self._id_buffer
                    append(_make("message", value, last_id, None))
                else:
                    self._read_block(block, events)
        rest = text[end + 2 :]
        if rest:
            self._keep(rest)  # after the blocks: its retry lines come later in the stream
        return events

    def _keep(self, text: str) -> None:
        """Hold text that does not complete a block yet, within the limits.

        The limits are checked as the text arrives, in time linear in it, so
        a stream that never ends a line or a block cannot grow without bound.
        A ``retry`` line takes effect as soon as the line is complete, as the
        spec says, even before its block ends.
        """
        self._pieces.append(text)
        self._tail_size += len(text)
        self._tail_ends_lf = text[-1] == "\n"
        partial = self._partial
        first_lf = text.find("\n")
        if first_lf < 0:
            partial.append(text)
            self._line += len(text)
        else:
            if partial:
                partial.append(text[:first_lf])
                done = "".join(partial)
            else:
                done = text[:first_lf]
            self._check_line(done)
            last_lf = text.rfind("\n")
            if last_lf > first_lf:
                for line in text[first_lf + 1 : last_lf].split("\n"):
                    self._check_line(line)
            rest = text[last_lf + 1 :]
            partial[:] = [rest] if rest else []
            self._line = len(rest)
        if self._line > self._max_line:
            raise SSELimitError("max_line_size", self._line, self._max_line)
        # The blank line that ends a block is not part of the event's size.
        size = self._tail_size - self._tail_ends_lf
        if size > self._max_event:
            raise SSELimitError("max_event_size", size, self._max_event)

    def _check_line(self, line: str) -> None:
        """A line of the pending block is complete: check its size, apply a retry."""
        if len(line) > self._max_line:
            raise SSELimitError("max_line_size", len(line), self._max_line)
        if line.startswith("retry:"):
            value = line[6:]
            if value[:1] == " ":
                value = value[1:]
            if value.isascii() and value.isdigit():
                self.reconnection_time = int(value)

    def _read_block(self, block: str, events: list[Event]) -> None:
        """Apply the field rules to the lines of one block, then dispatch."""
        if len(block) > self._max_line or len(block) > self._max_event:
            longest = max(map(len, block.split("\n")))
            if longest > self._max_line:
                raise SSELimitError("max_line_size", longest, self._max_line)
            if len(block) > self._max_event:
                raise SSELimitError("max_event_size", len(block), self._max_event)
        self._read_lines(block.split("\n"), events)

    def _read_lines(self, lines: list[str], events: list[Event]) -> None:
        """Apply the field rules line by line, dispatching at each blank line and at the end."""
        data = self._data
        for line in lines:
            if not line:
                self._dispatch(events)  # a blank line inside: "\n\n\n" and the like
                data = self._data
                continue
            if line[0] == ":":
                continue  # a comment
            field, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if field == "data":
                data.append(value)
            elif field == "event":
                self._event_type = value
            elif field == "id":
                if "\0" not in value:
                    self._id_buffer = value
            elif field == "retry" and value.isascii() and value.isdigit():
                self._retry = self.reconnection_time = int(value)
        self._dispatch(events)

    def _dispatch(self, events: list[Event]) -> None:
        self.last_event_id = self._id_buffer
        data = self._data
        if data:
            events.append(
                _make(self._event_type or "message", "\n".join(data), self._id_buffer, self._retry)
            )
            self._data = []
        self._event_type = ""
        self._retry = None
