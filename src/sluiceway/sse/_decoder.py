"""The WHATWG "interpret an event stream" rules, over bytes, without I/O.

How it stays fast: lines are cut from the bytes, not from decoded text. CR
and CRLF become LF with a split on the one byte (only in chunks that have
one), lines come from ``bytes.split`` at C speed, and only what an event
keeps is decoded: its data, once per event, its type and its id. Text decoded
whole would be as wide as its widest character (one emoji makes a 64 KiB
chunk 256 KiB of UCS-4) and every line cut from it would be narrowed again.
The lines are read once, in a loop that keeps the block being built (data
lines, type, retry) from one chunk to the next, so a long event fed one byte
at a time stays linear. Runs of the most common block, one ``data: `` line
(LLM token streams), are decoded in one call and cut straight into their
values with one ``str.split`` on ``"\\n\\ndata: "``.

Why the bytes give the spec's text: UTF-8 never uses the bytes of CR, LF,
``:``, space or NUL inside a multi-byte character, and they end an invalid
sequence in the decoder just as they end a line, so the lines, field names
and values found in the bytes decode to exactly those of the decoded stream.

Chunking never changes the output: a CR at the end of a chunk ends its line
at once (as the spec says) and a LF at the start of the next chunk is then
swallowed; an unfinished line waits as bytes, so a character cut by a chunk
is decoded whole; the limits count characters and are checked line by line
as the bytes arrive.
"""

from __future__ import annotations

from codecs import utf_8_decode

from .._core._callables import check_count
from ..errors import SSELimitError
from ._event import Event

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "DEFAULT_MAX_LINE_SIZE", "MAX_RETRY", "Decoder"]

#: Longest line accepted, in characters (LLM tool-call events exceed 128 KiB).
DEFAULT_MAX_LINE_SIZE = 8 * 1024 * 1024
#: Largest event block accepted, in characters.
DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
#: The reconnection time kept for a ``retry`` of more than 4300 significant
#: digits: the largest number of 4300 digits. Python converts no longer digit
#: string by default (the cost grows with the square of its length), and a
#: wait that long is forever either way; shorter values are taken exactly.
_RETRY_DIGITS = 4300
MAX_RETRY = 10**_RETRY_DIGITS - 1

# Events are built on the hot paths without the dataclass __init__ (one
# object.__setattr__ call per field, past the frozen __setattr__): a bare
# instance gets its fields in its __dict__. A field left out reads the class
# default, as with Event(): only a type or a retry that differs is set.
_new_event = Event.__new__

_BOM = b"\xef\xbb\xbf"
#: Bytes between the first and the last blank line of a chunk worth cutting in
#: one split (below it, three calls cost more than reading the lines).
_BULK = 512
#: What separates two one-line ``data: `` blocks.
_DATA_BLOCK = "\n\ndata: "


def _lf_only(data: bytes) -> bytes:
    """``data`` with each CRLF pair and lone CR replaced by a LF.

    A split on the one byte is far cheaper than replacing the pair.
    """
    parts = data.split(b"\r")
    for index in range(1, len(parts)):
        if parts[index][:1] == b"\n":
            parts[index] = parts[index][1:]  # the LF of a CRLF pair
    return b"\n".join(parts)


def _chars(line: bytes) -> int:
    """The length of ``line`` in characters, as decoded."""
    return len(line) if line.isascii() else len(line.decode("utf-8", "replace"))


def _one_line_data_block(data: bytes, start: int) -> bool:
    """Whether the first or second block from ``start`` looks like a lone ``data: `` line.

    Only a guess at what the chunk holds, to pick the quicker way to read it;
    either way reads it right.
    """
    for _ in range(2):
        end = data.find(b"\n", start)
        if data.startswith(b"data: ", start) and data.startswith(b"\n", end + 1):
            return True
        start = data.find(b"\n\n", end) + 2
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
        "_data",
        "_event_type",
        "_head",
        "_id_buffer",
        "_irregular",
        "_line",
        "_max_event",
        "_max_line",
        "_partial",
        "_recheck_at",
        "_retry",
        "_skip_lf",
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
        # This many bytes hold no line or block over a limit (a byte is at most a character).
        self._within_limits = min(self._max_line, self._max_event)
        self._head: bytes | None = b""  # the first bytes, until they show whether a BOM starts
        self._skip_lf = False  # the last chunk ended in CR: a LF right after is part of it
        self._irregular = True  # a BOM or a CR's LF may start the next chunk
        self._partial: list[bytes] = []  # the pieces of the unfinished last line
        self._line = 0  # its length in bytes
        self._recheck_at = self._within_limits + 1  # ... at which to count its characters
        # The block being read: its data lines, type and retry, and the length
        # (in characters) of its complete lines with their line ends; the id
        # buffer persists.
        self._data: list[bytes] = []
        self._event_type = b""
        self._retry: int | None = None
        self._block = 0
        self._id_buffer = last_event_id
        self.last_event_id: str = last_event_id
        self.reconnection_time: int | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Decode ``data`` (any chunk of the body) and return the events it completes.

        An :class:`~sluiceway.errors.SSELimitError` carries, as ``events``, the
        events this chunk completed before the limit was hit.
        """
        # (A byte is looked for as an int: ``0x0A in data`` costs a tenth of
        # ``b"\n" in data`` on a small chunk.)
        events: list[Event] = []
        try:
            if self._irregular or 0x0D in data:
                data = self._regular(data)
                if not data:
                    return []
            if 0x0A not in data:  # the unfinished line grows
                self._partial.append(data)
                self._line += len(data)
                if self._line >= self._recheck_at:
                    self._check_unfinished()
                return []
            if len(data) > _BULK:
                first = data.find(b"\n\n")
                if first >= 0:
                    last = data.rfind(b"\n\n")
                    if first + _BULK < last <= first + self._within_limits and _one_line_data_block(
                        data, first + 2
                    ):
                        # The blocks between the first and the last blank line are
                        # complete: decode and cut them at C speed; the bytes around
                        # them are read line by line with what is pending.
                        self._lines(data[: first + 2].split(b"\n"), first + 2, events)
                        self._data_blocks(data[first:last].decode("utf-8", "replace"), events)
                        rest = data[last + 2 :]
                        self._lines(rest.split(b"\n"), len(rest), events)
                        return events
            lines = data.split(b"\n")
            if len(lines) != 2 or self._block + self._line + len(data) > self._within_limits:
                self._lines(lines, len(data), events)
                return events
            # One line ends (the common small chunk inside a block), far from the
            # limits: read in place.
            line, rest = lines
            partial = self._partial
            if partial:
                partial.append(line)
                line = b"".join(partial)
                partial.clear()
            if not line:
                self._read([line], events, checked=False)  # a blank line: dispatch
            else:
                if line.startswith(b"data: "):
                    self._data.append(line[6:])
                elif line.startswith(b"data:"):
                    self._data.append(line[5:])
                elif line[0] != 0x3A:  # not a comment (":")
                    self._field(line)
                self._block += _chars(line) + 1
            self._line = len(rest)
            self._recheck_at = self._within_limits - self._block + 1
            if rest:
                partial.append(rest)
                if self._line >= self._recheck_at:
                    self._check_unfinished()
            return events  # noqa: TRY300  # the events are the except clause's too
        except SSELimitError as exc:
            exc.events = events  # completed before the limit was hit: they come first
            raise

    def _regular(self, data: bytes) -> bytes:
        """``data`` without a leading BOM, with CRLF and CR made LF, across chunks."""
        if self._head is not None:  # one leading BOM is stripped, even cut by the chunks
            data = self._head + data
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._head = data
                return b""
            self._head = None
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
        if not data:
            pass
        elif 0x0D in data:
            if self._skip_lf and data[0] == 0x0A:  # the LF of a CRLF cut by the chunks
                data = data[1:]
            self._skip_lf = data[-1] == 0x0D
            data = _lf_only(data)
        elif self._skip_lf:
            self._skip_lf = False
            if data[0] == 0x0A:
                data = data[1:]
        self._irregular = self._skip_lf  # the next chunk may start with its LF
        return data

    def _lines(self, lines: list[bytes], size: int, events: list[Event]) -> None:
        """Read the lines of ``size`` bytes: the last one is unfinished and waits."""
        partial = self._partial
        if len(lines) == 1:  # no line end: the unfinished line grows
            piece = lines[0]
            if piece:
                partial.append(piece)
                self._line += len(piece)
                if self._line >= self._recheck_at:
                    self._check_unfinished()
            return
        # Only bytes that could make a line or a block too long need their sizes counted.
        checked = self._block + self._line + size > self._within_limits
        if partial:
            partial.append(lines[0])
            lines[0] = b"".join(partial)
            partial.clear()
        rest = lines.pop()
        self._read(lines, events, checked)
        self._line = len(rest)
        self._recheck_at = self._within_limits - self._block + 1
        if rest:
            partial.append(rest)
            if self._line >= self._recheck_at:
                self._check_unfinished()

    def _check_unfinished(self) -> None:
        """The limits, for the unfinished line as it grows and its block, in characters.

        A character cut at the end is not counted yet. The next count comes
        when enough bytes have arrived to break a limit, so a long line of
        multi-byte characters fed in small chunks is not counted again and
        again from its start.
        """
        line = len(utf_8_decode(b"".join(self._partial), "replace", False)[0])
        if line > self._max_line:
            raise SSELimitError("max_line_size", line, self._max_line)
        size = self._block + line
        if size > self._max_event:
            raise SSELimitError("max_event_size", size, self._max_event)
        room = min(self._max_line - line, self._max_event - size)
        self._recheck_at = self._line + room + 1

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
                last_id = self._odd_piece(value, last_id, events)
            else:
                made = _new_event(Event)
                fields = made.__dict__
                fields["data"] = value
                fields["id"] = last_id
                append(made)
        self.last_event_id = last_id

    def _odd_piece(self, value: str, last_id: str, events: list[Event]) -> str:
        """A piece of ``_data_blocks`` with more than one line; the last event ID after it.

        Its common form, a lone data line then a block of an ``id: `` line and
        a ``data: `` line (a stream that sends an id now and then), is read in
        place; any other is read line by line.
        """
        first, blank, block = value.partition("\n\n")
        if blank and block.startswith("id: ") and "\n" not in first:
            id_line, line_end, data = block.partition("\ndata: ")
            if line_end and "\n" not in data and "\n" not in id_line and "\0" not in id_line:
                made = _new_event(Event)
                fields = made.__dict__
                fields["data"] = first
                fields["id"] = last_id
                events.append(made)
                last_id = self.last_event_id = self._id_buffer = id_line[4:]
                made = _new_event(Event)
                fields = made.__dict__
                fields["data"] = data
                fields["id"] = last_id
                events.append(made)
                return last_id
        self._read_blocks("data: " + value, events)
        return self._id_buffer

    def _read_blocks(self, text: str, events: list[Event]) -> None:
        """Read decoded ``text`` (within the limits) and the blank line after it.

        Encoding it again gives the bytes it came from, up to U+FFFD for
        invalid ones, which decodes to itself.
        """
        lines = text.encode().split(b"\n")
        lines.append(b"")
        self._read(lines, events, checked=False)

    def _read(self, lines: list[bytes], events: list[Event], checked: bool) -> None:
        """Apply the field rules to complete lines, dispatching at each blank line."""
        if checked:
            block = self._sizes(lines)
        else:  # the pending block: the complete lines after the last blank one
            block = 0
            for line in reversed(lines):
                if not line:
                    break
                block += _chars(line) + 1
            else:
                block += self._block  # no blank line: the same block goes on
        data = self._data
        for line in lines:
            if line:
                if line.startswith(b"data: "):
                    data.append(line[6:])
                elif line.startswith(b"data:"):
                    data.append(line[5:])
                elif line[0] != 0x3A:  # not a comment (":")
                    self._field(line)
            else:  # a blank line: dispatch
                last_id = self.last_event_id = self._id_buffer
                if data:
                    made = _new_event(Event)
                    fields = made.__dict__
                    raw = data[0] if len(data) == 1 else b"\n".join(data)
                    try:
                        fields["data"] = raw.decode()  # the common case, and quicker to call
                    except UnicodeDecodeError:
                        fields["data"] = raw.decode("utf-8", "replace")
                    fields["id"] = last_id
                    if self._event_type:
                        fields["event"] = self._event_type.decode("utf-8", "replace")
                        self._event_type = b""
                    if self._retry is not None:
                        fields["retry"] = self._retry
                        self._retry = None
                    events.append(made)
                    data = self._data = []
                else:
                    self._event_type = b""
                    self._retry = None
        self._block = block

    def _sizes(self, lines: list[bytes]) -> int:
        """Check every line and block against the limits; the pending block's length after."""
        max_line = self._max_line
        max_block = self._max_event + 1  # the block counts the line end of its last line
        block = self._block
        for line in lines:
            if not line:
                block = 0
                continue
            size = _chars(line)
            block += size + 1
            if size > max_line:
                raise SSELimitError("max_line_size", size, max_line)
            if block > max_block:
                raise SSELimitError("max_event_size", block - 1, self._max_event)
        return block

    def _field(self, line: bytes) -> None:
        """A field other than ``data:`` (the common one is read in the loop)."""
        field, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if field == b"event":
            self._event_type = value
        elif field == b"id":
            if 0 not in value:
                self._id_buffer = value.decode("utf-8", "replace")
        elif field == b"retry":
            if value.isdigit():  # ASCII digits only, for bytes
                digits = value.lstrip(b"0")
                retry = int(digits or b"0") if len(digits) <= _RETRY_DIGITS else MAX_RETRY
                self._retry = self.reconnection_time = retry
        elif field == b"data":
            self._data.append(value)  # "data" alone: an empty data line
