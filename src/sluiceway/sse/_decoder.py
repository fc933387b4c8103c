"""The WHATWG "interpret an event stream" rules, over bytes, without I/O.

How it stays fast: each chunk is decoded to text in one call (invalid bytes
become U+FFFD; a character cut at the chunk's end waits for the next one) and
cut into lines with ``str.split`` at C speed; CR and CRLF line ends are found
with one more split on ``"\\r"``, only in chunks that have one. Lines are then
read once, in a loop that keeps the block being built (data lines, type,
retry) from one chunk to the next, so a long event fed one byte at a time
stays linear. Runs of the most common block, one ``data: `` line (LLM token
streams), are cut straight into their values with one ``str.split`` on
``"\\n\\ndata: "`` and become events without a look at their lines.

Chunking never changes the output: a CR at the end of a chunk ends its line
at once (as the spec says) and a LF at the start of the next chunk is then
swallowed; a multi-byte character split across chunks is decoded whole; the
limits are checked line by line as the text arrives.
"""

from __future__ import annotations

from codecs import utf_8_decode

from .._core._callables import check_count
from ..errors import SSELimitError
from ._event import Event

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "DEFAULT_MAX_LINE_SIZE", "Decoder"]

#: Longest line accepted, in characters (LLM tool-call events exceed 128 KiB).
DEFAULT_MAX_LINE_SIZE = 8 * 1024 * 1024
#: Largest event block accepted, in characters.
DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024

# Events are built on the hot paths without the dataclass __init__ (one
# object.__setattr__ call per field, past the frozen __setattr__): a bare
# instance gets its fields in its __dict__. A field left out reads the class
# default, as with Event(): the one-line data blocks set only data and id.
_new_event = Event.__new__

#: Text between the first and the last blank line of a chunk worth cutting in
#: one split (below it, three calls cost more than reading the lines).
_BULK = 512
#: What separates two one-line ``data: `` blocks.
_DATA_BLOCK = "\n\ndata: "


def _lf_only(data: bytes) -> bytes:
    """``data`` with each CRLF pair and lone CR replaced by a LF.

    On the bytes, before decoding: CR and LF are never part of a multi-byte
    character and end an invalid sequence alike, so the text is the same.
    A split on the single byte is far cheaper than replacing the pair.
    """
    parts = data.split(b"\r")
    for index in range(1, len(parts)):
        if parts[index][:1] == b"\n":
            parts[index] = parts[index][1:]  # the LF of a CRLF pair
    return b"\n".join(parts)


def _one_line_data_block(text: str, start: int) -> bool:
    """Whether one of the first two blocks from ``start`` is a lone ``data: `` line."""
    for _ in range(2):
        end = text.find("\n", start)
        if end < 0:
            return False
        if text.startswith("data: ", start) and text.startswith("\n", end + 1):
            return True
        start = text.find("\n\n", end) + 2
        if start == 1:
            return False
    return False


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
        "_block",
        "_bom_checked",
        "_data",
        "_event_type",
        "_id_buffer",
        "_line",
        "_max_event",
        "_max_line",
        "_partial",
        "_retry",
        "_skip_lf",
        "_undecoded",
        "_within_limits",
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
        # Text this long holds no line or block over a limit.
        self._within_limits = min(self._max_line, self._max_event)
        self._undecoded = b""  # the start of a character cut by the chunk's end
        self._bom_checked = False
        self._skip_lf = False  # the last chunk ended in CR: a LF right after is part of it
        self._partial: list[str] = []  # the pieces of the unfinished last line
        self._line = 0  # its length
        # The block being read: its data lines, type and retry, and the length
        # of its complete lines with their line ends; the id buffer persists.
        self._data: list[str] = []
        self._event_type = ""
        self._retry: int | None = None
        self._block = 0
        self._id_buffer = last_event_id
        self.last_event_id = last_event_id
        self.reconnection_time: int | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Decode ``data`` (any chunk of the body) and return the events it completes."""
        if not data:
            return []
        if b"\r" in data:
            if self._skip_lf and data[0] == 0x0A:  # the LF of a CRLF cut by the chunks
                data = data[1:]
            self._skip_lf = data[-1] == 0x0D
            data = _lf_only(data)
        elif self._skip_lf:
            self._skip_lf = False
            if data[0] == 0x0A:
                data = data[1:]
                if not data:
                    return []
        if self._undecoded:
            data = self._undecoded + data
            self._undecoded = b""
        text, used = utf_8_decode(data, "replace", False)
        if used != len(data):
            self._undecoded = data[used:]  # a character cut by the chunk's end
            if not text:
                return []
        if not self._bom_checked:
            self._bom_checked = True
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return []
        if "\n" not in text:  # the unfinished line grows
            self._partial.append(text)
            self._line += len(text)
            if self._block + self._line > self._within_limits:
                self._check_unfinished()
            return []
        events: list[Event] = []
        first = text.find("\n\n")
        if first >= 0:
            last = text.rfind("\n\n")
            if first + _BULK < last <= first + self._within_limits and _one_line_data_block(
                text, first + 2
            ):
                # The blocks between the first and the last blank line are
                # complete: cut them at C speed; the text around them is read
                # line by line with what is pending.
                self._lines(text[: first + 2].split("\n"), first + 2, events)
                self._data_blocks(text[first:last], events)
                rest = text[last + 2 :]
                self._lines(rest.split("\n"), len(rest), events)
                return events
        self._lines(text.split("\n"), len(text), events)
        return events

    def _lines(self, lines: list[str], size: int, events: list[Event]) -> None:
        """Read the lines of ``size`` characters of text: the last one is unfinished and waits."""
        partial = self._partial
        if len(lines) == 1:  # no line end: the unfinished line grows
            piece = lines[0]
            if piece:
                partial.append(piece)
                self._line += len(piece)
                if self._block + self._line > self._within_limits:
                    self._check_unfinished()
            return
        # Only text that could make a line or a block too long needs a look at its sizes.
        checked = self._block + self._line + size > self._within_limits
        if partial:
            partial.append(lines[0])
            lines[0] = "".join(partial)
            partial.clear()
        rest = lines.pop()
        self._read(lines, events, checked)
        self._line = len(rest)
        if rest:
            partial.append(rest)
            if self._block + self._line > self._within_limits:
                self._check_unfinished()

    def _check_unfinished(self) -> None:
        """The limits, for the unfinished line as it grows and its block."""
        if self._line > self._max_line:
            raise SSELimitError("max_line_size", self._line, self._max_line)
        size = self._block + self._line
        if size > self._max_event:
            raise SSELimitError("max_event_size", size, self._max_event)

    def _data_blocks(self, text: str, events: list[Event]) -> None:
        """Read complete blocks: ``text`` starts with a blank line and ends where one starts.

        Cut at ``"\\n\\ndata: "``, each piece after the first is the value of a
        block that starts with a ``data: `` line; a piece without a line end is
        that whole block (within the limits: ``text`` is). Anything else (other
        fields, more lines, blank lines) is read line by line.
        """
        pieces = iter(text.split(_DATA_BLOCK))
        head = next(pieces)
        if head:  # the blocks before the first "data: " block (the blank line cut off)
            self._read_blocks(head[2:], events)
        last_id = self._id_buffer
        append = events.append
        for value in pieces:
            if "\n" in value:
                self._read_blocks("data: " + value, events)
                last_id = self._id_buffer
            else:
                made = _new_event(Event)
                fields = made.__dict__
                fields["data"] = value
                fields["id"] = last_id
                append(made)
        self.last_event_id = last_id

    def _read_blocks(self, text: str, events: list[Event]) -> None:
        """Read ``text`` (within the limits) and the blank line after it."""
        lines = text.split("\n")
        lines.append("")
        self._read(lines, events, checked=False)

    def _read(self, lines: list[str], events: list[Event], checked: bool) -> None:
        """Apply the field rules to complete lines, dispatching at each blank line."""
        if checked:
            block = self._sizes(lines)
        else:  # the pending block: the complete lines after the last blank one
            block = 0
            for index in range(len(lines) - 1, -1, -1):
                line = lines[index]
                if not line:
                    break
                block += len(line) + 1
            else:
                block += self._block  # no blank line: the same block goes on
        data = self._data
        for line in lines:
            if line.startswith("data: "):
                data.append(line[6:])
            elif not line:  # a blank line: dispatch
                last_id = self.last_event_id = self._id_buffer
                if data:
                    made = _new_event(Event)
                    fields = made.__dict__
                    fields["data"] = data[0] if len(data) == 1 else "\n".join(data)
                    fields["id"] = last_id
                    if self._event_type:
                        fields["event"] = self._event_type
                        self._event_type = ""
                    if self._retry is not None:
                        fields["retry"] = self._retry
                        self._retry = None
                    events.append(made)
                    data = self._data = []
                else:
                    self._event_type = ""
                    self._retry = None
            elif line.startswith("data:"):
                data.append(line[5:])
            elif line[0] != ":":  # not a comment
                self._field(line)
        self._block = block

    def _sizes(self, lines: list[str]) -> int:
        """Check every line and block against the limits; the pending block's length after."""
        max_line = self._max_line
        max_block = self._max_event + 1  # the block counts the line end of its last line
        block = self._block
        for line in lines:
            if not line:
                block = 0
                continue
            size = len(line)
            block += size + 1
            if size > max_line:
                raise SSELimitError("max_line_size", size, max_line)
            if block > max_block:
                raise SSELimitError("max_event_size", block - 1, self._max_event)
        return block

    def _field(self, line: str) -> None:
        """A field other than ``data:`` (the common one is read in the loop)."""
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "event":
            self._event_type = value
        elif field == "id":
            if "\0" not in value:
                self._id_buffer = value
        elif field == "retry":
            if value.isascii() and value.isdigit():
                self._retry = self.reconnection_time = int(value)
        elif field == "data":
            self._data.append(value)  # "data" alone: an empty data line
