"""The sans-I/O SSE decoder against the WHATWG "interpreting an event stream" rules.

Every vector is written here from the rules of HTML §9.2.5/§9.2.6 and from what the
web-platform-tests ``eventsource/format-*`` tests check (the bytes are our own). Each one is
fed whole, one byte at a time and in a few irregular chunkings, and must give the same
events, ``last_event_id`` and ``reconnection_time`` every time. Hypothesis then checks that
the output never depends on where the chunks are cut, that events encoded from a model come
back exactly, and that the decoder agrees with a line-by-line transcription of the spec.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import re
from decimal import Decimal
from itertools import pairwise
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluiceway.errors import SSEError, SSELimitError
from sluiceway.sse import Decoder, Event
from sluiceway.sse._decoder import MAX_RETRY

# --------------------------------------------------------------------------------------------
# Feeding helpers
# --------------------------------------------------------------------------------------------

#: How a vector's bytes are cut: None = in one feed; otherwise chunk sizes, used in a cycle.
CHUNKINGS: dict[str, tuple[int, ...] | None] = {
    "whole": None,
    "bytewise": (1,),
    "irregular-3141": (3, 1, 4, 1, 5, 9, 2, 6),
    "irregular-7-2": (7, 2),
    "irregular-2-13-1": (2, 13, 1),
}


def cut(data: bytes, sizes: tuple[int, ...] | None) -> list[bytes]:
    """``data`` split into chunks whose sizes cycle through ``sizes``."""
    if sizes is None:
        return [data]
    chunks = []
    start = 0
    index = 0
    while start < len(data):
        size = sizes[index % len(sizes)]
        chunks.append(data[start : start + size])
        start += size
        index += 1
    return chunks


def cut_at(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` split at the given offsets (any order, duplicates make empty chunks)."""
    bounds = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


class Outcome(NamedTuple):
    events: list[Event]
    last_event_id: str
    reconnection_time: int | None


def feed(chunks: list[bytes], **options: Any) -> Outcome:
    """Feed the chunks to a fresh decoder; collect every event it returns."""
    decoder = Decoder(**options)
    events: list[Event] = []
    for chunk in chunks:
        got = decoder.feed(chunk)
        assert isinstance(got, list)
        events.extend(got)
    return Outcome(events, decoder.last_event_id, decoder.reconnection_time)


def ev(data: str, event: str = "message", id: str = "", retry: int | None = None) -> Event:
    """An expected event (the arguments in the order one reads a vector)."""
    return Event(event=event, data=data, id=id, retry=retry)


def vector(
    name: str,
    data: bytes,
    *events: Event,
    last_id: str = "",
    reconnect: int | None = None,
    error: str | None = None,
    **options: Any,
) -> Any:
    """One test vector: the bytes, what must come out, and the decoder's options."""
    return pytest.param(data, list(events), last_id, reconnect, error, options, id=name)


def check(
    data: bytes,
    events: list[Event],
    last_id: str,
    reconnect: int | None,
    error: str | None,
    options: dict[str, Any],
    sizes: tuple[int, ...] | None,
) -> None:
    """Run one vector under one chunking and compare with what the spec says."""
    chunks = cut(data, sizes)
    if error is not None:
        with pytest.raises(SSELimitError) as info:
            feed(chunks, **options)
        assert info.value.limit == error
        assert info.value.maximum == options[error]
        assert info.value.size > info.value.maximum
        return
    outcome = feed(chunks, **options)
    assert outcome == Outcome(events, last_id, reconnect)


@pytest.fixture(params=list(CHUNKINGS))
def sizes(request: pytest.FixtureRequest) -> tuple[int, ...] | None:
    """Each chunking in turn: whole, byte by byte, and fixed irregular cuts."""
    return CHUNKINGS[request.param]


VECTOR_ARGS = "data, events, last_id, reconnect, error, options"

# --------------------------------------------------------------------------------------------
# Vectors, one class per feature
# --------------------------------------------------------------------------------------------


class TestUtf8:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            vector(
                "multibyte-text",
                b"data: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d\n\n",
                ev("café € \U0001f40d"),
            ),
            # wpt format-utf-8: a windows-1252 charset in the Content-Type changes nothing.
            vector("always-utf8-ellipsis", b"data:ok\xe2\x80\xa6\n\n\n", ev("ok…")),
            vector("invalid-byte", b"data:a\xffb\n\n", ev("a\ufffdb")),
            vector("lone-continuation-bytes", b"data:\x80\xbfz\n\n", ev("\ufffd\ufffdz")),
            vector("truncated-sequence-before-eol", b"data:\xe2\x82\n\n", ev("\ufffd")),
            vector("truncated-then-ascii", b"data:\xf0\x9f\x90z\n\n", ev("\ufffdz")),
            vector("overlong-encoding", b"data:\xc0\xaf\n\n", ev("\ufffd\ufffd")),
            vector("encoded-surrogate", b"data:\xed\xa0\x80!\n\n", ev("\ufffd\ufffd\ufffd!")),
            vector("beyond-u10ffff", b"data:\xf4\x90\x80\x80\n\n", ev("\ufffd" * 4)),
            vector(
                "invalid-byte-in-field-name",
                b"da\xfeta:lost\n\ndata:kept\n\n",
                ev("kept"),
            ),
            vector(
                "invalid-byte-in-id",
                b"id:\xff7\ndata:x\n\n",
                ev("x", id="\ufffd7"),
                last_id="\ufffd7",
            ),
            vector(
                "astral-in-event-and-id",
                b"event:\xf0\x9f\x93\xa6\nid:\xe6\x97\xa5\xe6\x9c\xac\ndata:x\n\n",
                ev("x", event="\U0001f4e6", id="日本"),
                last_id="日本",
            ),
            # wpt format-bom-utf-16: a UTF-16 BOM is two U+FFFD, so the line is "\ufffd\ufffddata".
            vector("utf16le-bom-not-used", b"\xff\xfedata:1\n\ndata:2\n\n", ev("2")),
            vector("utf16be-bom-not-used", b"\xfe\xffdata:1\n\ndata:2\n\n", ev("2")),
            # Only CR and LF end lines: NEL, LS, PS, VT and FF are data.
            vector(
                "other-unicode-line-breaks-are-data",
                b"data:a\xc2\x85b\xe2\x80\xa8c\xe2\x80\xa9d\x0be\x0cf\x1cg\n\n",
                ev("a\x85b\u2028c\u2029d\x0be\x0cf\x1cg"),
            ),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """The stream is UTF-8 whatever happens; bad bytes become U+FFFD."""
        check(data, events, last_id, reconnect, error, options, sizes)


class TestBom:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            vector("leading-bom-stripped", b"\xef\xbb\xbfdata:x\n\n", ev("x")),
            # wpt format-bom: only the first BOM of the stream is stripped.
            vector(
                "bom-before-later-event-is-data",
                b"\xef\xbb\xbfdata:1\n\n\xef\xbb\xbfdata:2\n\ndata:3\n\n\n",
                ev("1"),
                ev("3"),
            ),
            # wpt format-bom-2: a second BOM makes the first field name "\ufeffdata".
            vector(
                "double-bom",
                b"\xef\xbb\xbf\xef\xbb\xbfdata:1\n\ndata:2\n\ndata:3\n\n\n",
                ev("2"),
                ev("3"),
            ),
            vector("bom-inside-value-kept", b"data:\xef\xbb\xbfx\n\n", ev("\ufeffx")),
            vector("bom-after-first-line", b"\n\xef\xbb\xbfdata:x\n\ndata:y\n\n", ev("y")),
            vector("bom-then-blank-line", b"\xef\xbb\xbf\n\ndata:x\n\n", ev("x")),
            vector("bom-then-comment", b"\xef\xbb\xbf: hi\ndata:x\n\n", ev("x")),
            vector("bom-only", b"\xef\xbb\xbf", last_id=""),
            vector("bom-then-crlf", b"\xef\xbb\xbf\r\ndata:x\r\n\r\n", ev("x")),
            vector("not-a-bom-euro-first", b"\xe2\x82\xac:x\ndata:y\n\n", ev("y")),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """One leading UTF-8 BOM is stripped; any other U+FEFF is text."""
        check(data, events, last_id, reconnect, error, options, sizes)

    def test_bom_split_across_chunks(self) -> None:
        """A BOM cut after its first byte is still stripped (wpt format-bom-split)."""
        outcome = feed([b"\xef", b"\xbb\xbfdata:1\n\ndata:2\n\n"])
        assert outcome.events == [ev("1"), ev("2")]

    def test_bom_then_empty_chunks(self) -> None:
        """Empty chunks before and inside the BOM change nothing."""
        outcome = feed([b"", b"\xef\xbb", b"", b"\xbf", b"", b"data:1\n\n"])
        assert outcome.events == [ev("1")]

    def test_bom_alone_in_first_chunk_then_another(self) -> None:
        """A BOM that fills the first chunk is the one stripped; the next one is text."""
        outcome = feed([b"\xef\xbb\xbf", b"\xef\xbb\xbfdata:1\n\ndata:2\n\n"])
        assert outcome.events == [ev("2")]


class TestLineEndings:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            vector("lf", b"data:a\ndata:b\n\n", ev("a\nb")),
            vector("crlf", b"data:a\r\ndata:b\r\n\r\n", ev("a\nb")),
            vector("cr", b"data:a\rdata:b\r\r", ev("a\nb")),
            vector("mixed-in-a-block", b"data:a\rdata:b\ndata:c\r\n\n", ev("a\nb\nc")),
            vector("cr-then-crlf-blank", b"data:a\r\r\ndata:b\r\n\r", ev("a"), ev("b")),
            vector("lf-then-cr-is-two-ends", b"data:a\n\rdata:b\n\n", ev("a"), ev("b")),
            vector("crlf-then-lf", b"data:a\r\n\ndata:b\n\r\n", ev("a"), ev("b")),
            # wpt format-newlines
            vector("newline-fest", b"data:test\r\ndata\ndata:test\r\n\r\n", ev("test\n\ntest")),
            vector(
                "many-blank-lines",
                b"\n\n\r\r\n\r\ndata:a\n\n\n\n\r\r\r\ndata:b\r\n\r\n\n\n",
                ev("a"),
                ev("b"),
            ),
            vector("only-line-ends", b"\r\n\r\n\n\r\r\n"),
            vector("cr-at-very-end-dispatches", b"data:x\r\r", ev("x")),
            vector("cr-cr-lf-at-end", b"data:x\r\r\n", ev("x")),
            vector("single-cr-at-end-is-one-line", b"data:x\r"),
            vector("cr-inside-field-name", b"da\rta:x\n\ndata:y\n\n", ev("y")),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """Lines end at CRLF, a lone LF or a lone CR, in any mix."""
        check(data, events, last_id, reconnect, error, options, sizes)


class TestComments:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            # wpt format-comments: comments with NUL, CR and 2 KiB of text between data lines.
            vector(
                "comment-fest",
                b"data:1\r:\x00\n:\r\ndata:2\n:"
                + b"y" * 2048
                + b"\rdata:3\n:data:nope\r:"
                + b"y" * 2048
                + b"\ndata:4\n\n",
                ev("1\n2\n3\n4"),
            ),
            vector("comment-only-block", b": keep-alive\n\n"),
            vector("bare-colon", b":\ndata:x\n:\n\n", ev("x")),
            vector("colon-colon", b"::data:x\ndata:y\n\n", ev("y")),
            # httpx-sse #35: a comment block after an event must not repeat it.
            vector(
                "comment-after-id-no-phantom",
                b"id: 1\ndata: a\n\n: ping\n\n: ping\n\n",
                ev("a", id="1"),
                last_id="1",
            ),
            vector(
                "comment-between-data-lines",
                b"data:a\n: not data\ndata:b\n\n",
                ev("a\nb"),
            ),
            vector("comment-looks-like-retry", b":retry: 5\ndata:x\n\n", ev("x")),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """A line starting with a colon is ignored, whatever it holds."""
        check(data, events, last_id, reconnect, error, options, sizes)


class TestFieldParsing:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            vector("one-space-removed", b"data:x\ndata: x\ndata:  x\n\n", ev("x\nx\n x")),
            # wpt format-leading-space: a tab is not a space; "data: " is empty.
            vector(
                "leading-tab-kept",
                b"data:\ttest\rdata: \ndata:test\n\n\n",
                ev("\ttest\n\ntest"),
            ),
            # wpt format-field-parsing
            vector(
                "field-parsing",
                b"data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\r"
                b"data_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n",
                ev("\x00\n 2\n1\n3\n\n4"),
            ),
            # wpt format-field-unknown
            vector(
                "unknown-fields-and-text",
                b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\n"
                b"data:test\n\n\n",
                ev("test\n\ntest"),
            ),
            vector("name-without-colon", b"data\n\n", ev("")),
            vector("colon-in-value", b"data:a:b\ndata::c\ndata: :d\n\n", ev("a:b\n:c\n:d")),
            vector(
                "names-are-case-sensitive",
                b"DATA:x\nData:y\nEvent:e\nID:1\nRetry:5\nEVENT:f\ndata:z\n\n",
                ev("z"),
            ),
            vector("space-before-colon", b"data :x\nid :1\ndata:y\n\n", ev("y")),
            vector("space-before-name", b" data:x\n\n"),
            vector("trailing-spaces-kept", b"data: a  \nevent: b \n\n", ev("a  ", event="b ")),
            vector("nul-field-name", b"\x00:x\ndata:y\n\n", ev("y")),
            # The lines-and-data checks of wpt event-data (bytes of our own).
            vector(
                "lines-and-data",
                b"data:one\ndata: two\n\n:\nbogus:x\n\nbogus:x\nData:y\n\ndata\n\ndata:end\n\n",
                ev("one\ntwo"),
                ev(""),
                ev("end"),
            ),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """Name before the first colon, value after it minus one leading space."""
        check(data, events, last_id, reconnect, error, options, sizes)


class TestData:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            # The spec's stock-ticker example: three data lines make one event.
            vector("joined-with-lf", b"data: YHOO\ndata: +2\ndata: 10\n\n", ev("YHOO\n+2\n10")),
            # wpt format-field-data
            vector(
                "empty-data-lines",
                b"data:\n\ndata\ndata\n\ndata:test\n\n\n",
                ev(""),
                ev("\n"),
                ev("test"),
            ),
            # The spec's example: the last block has no blank line after it.
            vector("spec-empty-then-lf", b"data\n\ndata\ndata\n\ndata:", ev(""), ev("\n")),
            # The spec's example: the space after the colon is optional.
            vector("two-identical-events", b"data:test\n\ndata: test\n\n", ev("test"), ev("test")),
            # wpt format-null-character
            vector("null-character-kept", b"data:\x00\n\n\n\n\n", ev("\x00")),
            vector("nulls-in-data", b"data:a\x00b\ndata:\x00\x00\n\n", ev("a\x00b\n\x00\x00")),
            vector("empty-line-in-the-middle", b"data:a\ndata:\ndata:b\n\n", ev("a\n\nb")),
            vector("only-the-final-lf-removed", b"data:a\ndata:\n\n", ev("a\n")),
            vector("three-empty-lines", b"data\ndata\ndata\n\n", ev("\n\n")),
            vector(
                "json-payload",
                b'data: {"n": 1,\ndata:  "s": "\xc3\xa9"}\n\n',
                ev('{"n": 1,\n "s": "é"}'),
            ),
            vector("data-done-sentinel", b"data: [DONE]\n\n", ev("[DONE]")),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """Data lines are joined with LF; empty data lines count."""
        check(data, events, last_id, reconnect, error, options, sizes)


class TestEventType:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            # wpt format-field-event
            vector(
                "named-then-default",
                b"event:test\ndata:x\n\ndata:x\n\n\n",
                ev("x", event="test"),
                ev("x"),
            ),
            # wpt format-field-event-empty
            vector("empty-event-is-message", b"event: \ndata:data\n\n\n", ev("data")),
            vector("event-without-colon", b"event\ndata:x\n\n", ev("x")),
            vector("last-event-field-wins", b"event:a\nevent:b\ndata:x\n\n", ev("x", event="b")),
            vector("empty-event-overrides", b"event:a\nevent:\ndata:x\n\n", ev("x")),
            vector(
                "type-cleared-by-dataless-block",
                b"event:a\n\ndata:x\n\n",
                ev("x"),
            ),
            vector("event-after-data", b"data:x\nevent:late\n\n", ev("x", event="late")),
            vector(
                "event-keeps-inner-spaces",
                b"event:  two words \ndata:x\n\n",
                ev("x", event=" two words "),
            ),
            vector("explicit-message", b"event: message\ndata:x\n\n", ev("x")),
            vector("event-with-colon", b"event: a:b\ndata:x\n\n", ev("x", event="a:b")),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """The type defaults to message, and an empty one means message."""
        check(data, events, last_id, reconnect, error, options, sizes)


class TestId:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            # wpt format-field-id / format-field-id-2: a non-ASCII id is echoed.
            vector(
                "ellipsis-id",
                b"id: \xe2\x80\xa6\nretry: 200\ndata: hello\n\n",
                ev("hello", id="…", retry=200),
                last_id="…",
                reconnect=200,
            ),
            # wpt format-field-id-3 "persists"
            vector(
                "id-persists",
                b"id: 1\ndata: 1\n\ndata:2\n\n",
                ev("1", id="1"),
                ev("2", id="1"),
                last_id="1",
            ),
            # wpt format-field-id-3 "changes and persists"
            vector(
                "id-changes-and-persists",
                b"id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n",
                ev("1", id="1"),
                ev("2", id="2"),
                ev("3", id="2"),
                last_id="2",
            ),
            # wpt format-field-id-3 "resets"
            vector(
                "empty-id-resets",
                b"id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n",
                ev("1", id="1"),
                ev("2"),
                ev("3"),
            ),
            vector(
                "id-without-colon-resets",
                b"id: 1\ndata:a\n\nid\ndata:b\n\n",
                ev("a", id="1"),
                ev("b"),
            ),
            # wpt format-field-id-null: an id containing U+0000 is ignored.
            *(
                vector(
                    f"id-with-null-{n}",
                    b"id: " + value + b"\nretry: 200\ndata: hello\n\n",
                    ev("hello", retry=200),
                    reconnect=200,
                )
                for n, value in enumerate([b"\x00\x00", b"x\x00", b"\x00x", b"x\x00x", b" \x00"])
            ),
            vector(
                "null-id-keeps-previous",
                b"id: 7\ndata:a\n\nid: 8\x00\ndata:b\n\n",
                ev("a", id="7"),
                ev("b", id="7"),
                last_id="7",
            ),
            vector(
                "dataless-block-sets-id",
                b"id: 5\n\ndata:x\n\n",
                ev("x", id="5"),
                last_id="5",
            ),
            vector("id-only-stream", b"id: 42\n\n", last_id="42"),
            vector("id-after-data-in-block", b"data:x\nid:9\n\n", ev("x", id="9"), last_id="9"),
            vector(
                "last-id-in-block-wins", b"id:1\nid:2\ndata:x\n\n", ev("x", id="2"), last_id="2"
            ),
            vector(
                "id-keeps-spaces", b"id:  a b \ndata:x\n\n", ev("x", id=" a b "), last_id=" a b "
            ),
            # wpt format-data-before-final-empty-line: the unfinished block's id is not used.
            vector(
                "pending-id-not-committed",
                b"retry:1000\ndata:test1\n\nid:test\ndata:test2\n",
                ev("test1", retry=1000),
                reconnect=1000,
            ),
            # The spec's example with a comment, ids and an unfinished last block.
            vector(
                "spec-id-example",
                b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
                b"data:  third event\n",
                ev("first event", id="1"),
                ev("second event"),
            ),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """The last event ID is set at dispatch, persists, and ignores ids with NUL."""
        check(data, events, last_id, reconnect, error, options, sizes)

    def test_starting_id(self) -> None:
        """last_event_id= seeds the ID, which stays until an id field changes it."""
        decoder = Decoder(last_event_id="resume-7")
        assert decoder.last_event_id == "resume-7"
        events = decoder.feed(b"data:a\n\nid\ndata:b\n\n")
        assert events == [ev("a", id="resume-7"), ev("b")]
        assert decoder.last_event_id == ""

    def test_each_event_keeps_its_own_id(self) -> None:
        """Events completed by one feed carry the ID at their own dispatch."""
        events = Decoder().feed(b"id:1\ndata:a\n\nid:2\ndata:b\n\ndata:c\n\n")
        assert [e.id for e in events] == ["1", "2", "2"]


class TestRetry:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            # wpt format-field-retry: base ten, so "02000" is 2000.
            vector(
                "leading-zero-is-decimal",
                b"retry:02000\ndata:x\n\n\n",
                ev("x", retry=2000),
                reconnect=2000,
            ),
            # wpt format-field-retry-bogus
            vector(
                "bogus-retry-ignored",
                b"retry:3000\nretry:1000x\ndata:x\n\n\n",
                ev("x", retry=3000),
                reconnect=3000,
            ),
            # wpt format-field-retry-empty
            vector("empty-retry-ignored", b"retry\ndata:test\n\n\n", ev("test")),
            vector("zero", b"retry: 0\ndata:x\n\n", ev("x", retry=0), reconnect=0),
            vector(
                "huge",
                b"retry:123456789012345678901234567890\ndata:x\n\n",
                ev("x", retry=123456789012345678901234567890),
                reconnect=123456789012345678901234567890,
            ),
            # Exact up to Python's 4300-digit conversion limit, then capped (never an error).
            vector(
                "longest-exact",
                b"retry:" + b"0" * 5000 + b"9" * 4300 + b"\ndata:x\n\n",
                ev("x", retry=MAX_RETRY),
                reconnect=MAX_RETRY,
            ),
            vector(
                "over-4300-digits-capped",
                b"retry:" + b"1" * 10_000 + b"\ndata:x\n\n",
                ev("x", retry=MAX_RETRY),
                reconnect=MAX_RETRY,
            ),
            *(
                vector(f"not-ascii-digits-{n}", b"retry:" + value + b"\ndata:x\n\n", ev("x"))
                for n, value in enumerate(
                    [
                        b"",
                        b" ",
                        b"-1",
                        b"+1",
                        b"1.5",
                        b"1e3",
                        b"  1",  # two spaces: only one is removed
                        b"1 ",
                        b"\t1",
                        b"0x10",
                        b"1_000",
                        b"10ms",
                        "\uff11\uff12".encode(),  # fullwidth digits
                        "٣".encode(),  # Arabic-Indic three
                        "²".encode(),  # superscript two
                        "৫".encode(),  # Bengali five
                        b"1\x00",
                    ]
                )
            ),
            vector("dataless-block-sets-retry", b"retry: 10\n\n", reconnect=10),
            vector(
                "bogus-does-not-reset",
                b"retry:10\n\nretry:x\n\nretry:\n\nretry\n\ndata:y\n\n",
                ev("y"),
                reconnect=10,
            ),
            vector(
                "event-retry-only-from-its-block",
                b"retry:10\ndata:a\n\ndata:b\n\n",
                ev("a", retry=10),
                ev("b"),
                reconnect=10,
            ),
            vector(
                "retry-of-a-dataless-block-not-on-next-event",
                b"retry:10\n\ndata:b\n\n",
                ev("b"),
                reconnect=10,
            ),
            vector(
                "last-valid-retry-in-block",
                b"retry:10\nretry:20\nretry:x\ndata:a\n\n",
                ev("a", retry=20),
                reconnect=20,
            ),
            vector("retry-without-line-end-ignored", b"retry: 1500"),
            # "set the event stream's reconnection time" happens when the field is processed,
            # i.e. when its line ends, not when the block is dispatched.
            vector("retry-in-pending-block", b"data:a\n\nretry: 1500\n", ev("a"), reconnect=1500),
            vector("retry-line-then-eof", b"retry: 2500\r\n", reconnect=2500),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """Only an all-ASCII-digit retry sets the reconnection time."""
        check(data, events, last_id, reconnect, error, options, sizes)


class TestDispatch:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            vector("empty-stream", b""),
            vector(
                "no-event-without-data",
                b"event:x\nid:3\nretry:4\n\n",
                last_id="3",
                reconnect=4,
            ),
            vector("pending-block-discarded", b"data:a\n\ndata:b\n", ev("a")),
            vector("pending-line-discarded", b"data:a\n\ndata:b", ev("a")),
            vector("pending-block-ends-in-cr", b"data:a\r\rdata:b\r", ev("a")),
            vector("pending-event-type-discarded", b"event:e\ndata:a\n", last_id=""),
            vector(
                "blank-lines-between-blocks-harmless",
                b"id:1\n\n\n\n\ndata:x\n\n\n",
                ev("x", id="1"),
                last_id="1",
            ),
            vector(
                "events-in-order",
                b"data:1\n\nevent:t\ndata:2\n\nid:i\ndata:3\n\n",
                ev("1"),
                ev("2", event="t"),
                ev("3", id="i"),
                last_id="i",
            ),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """A blank line dispatches; no data, no event; the unfinished block is dropped."""
        check(data, events, last_id, reconnect, error, options, sizes)

    def test_events_arrive_with_their_blank_line(self) -> None:
        """An event comes out of the feed that completes it, not later."""
        decoder = Decoder()
        assert decoder.feed(b"data:a\n\ndata:b\n") == [ev("a")]
        assert decoder.feed(b"\n") == [ev("b")]
        assert decoder.feed(b"data:c") == []
        assert decoder.feed(b"\r\r") == [ev("c")]

    def test_trailing_cr_dispatches_at_once(self) -> None:
        """A CR blank line ends the block at once, without waiting for a possible LF."""
        decoder = Decoder()
        assert decoder.feed(b"data:x\r\r") == [ev("x")]
        assert decoder.feed(b"\n") == []
        assert decoder.feed(b"data:y\r\n\r") == [ev("y")]
        assert decoder.feed(b"\ndata:z\n\n") == [ev("z")]


class TestChunkBoundaries:
    STREAM = (
        "\ufeffid: ω\r\nevent: ünï\rdata: € 1\r\n: c\r\rdata:😀\n\r\n"
        "retry: 75\r\ndata:\x00x\r\r\n"
        "data: tail"
    ).encode()

    def test_cr_then_lf_in_next_chunk_is_one_line_end(self) -> None:
        """A CR ending a chunk and a LF starting the next are one line end, not two."""
        outcome = feed([b"data:a\r", b"\ndata:b\r", b"\n\r", b"\n"])
        assert outcome.events == [ev("a\nb")]

    def test_cr_then_empty_chunk_then_lf(self) -> None:
        """Empty chunks between the CR and the LF do not split the pair."""
        outcome = feed([b"data:a\r", b"", b"", b"\ndata:b\r\n\r\n"])
        assert outcome.events == [ev("a\nb")]

    def test_cr_then_partial_character(self) -> None:
        """A chunk that decodes to nothing does not end the CR's wait for a LF."""
        for chunks in (
            [b"data:a\r", b"\xe2", b"\x82\xac\n\n"],
            [b"data:a\r", b"\xe2\x82", b"\xac:\n\n"],
            [b"data:a\r", b"\xe2", b"\n\n"],
        ):
            outcome = feed(chunks)
            assert outcome.events == [ev("a")], chunks
            assert outcome == feed([b"".join(chunks)])

    def test_cr_then_cr_in_next_chunk(self) -> None:
        """CR at a chunk end and CR at the next chunk start make a blank line."""
        decoder = Decoder()
        assert decoder.feed(b"data:a\r") == []
        assert decoder.feed(b"\r") == [ev("a")]

    @pytest.mark.parametrize(
        "text",
        ["data: €😀é\n\n", "id: 日本語\ndata:x\n\n", "event:\U0001f4e6\ndata:y\r\n\r\n"],
    )
    def test_every_two_way_split(self, text: str) -> None:
        """Cutting the bytes at any single point (inside characters too) changes nothing."""
        data = text.encode()
        whole = feed([data])
        assert whole.events
        for point in range(len(data) + 1):
            assert feed([data[:point], data[point:]]) == whole, point

    def test_every_three_way_split_of_a_tricky_stream(self) -> None:
        """Any two cut points in a stream mixing BOM, CR/LF/CRLF and UTF-8 change nothing."""
        data = self.STREAM
        whole = feed([data])
        assert whole == Outcome(
            [
                ev("€ 1", event="ünï", id="ω"),
                ev("😀", id="ω"),
                ev("\x00x", id="ω", retry=75),
            ],
            "ω",
            75,
        )
        for first in range(len(data) + 1):
            for second in range(first, len(data) + 1):
                chunks = [data[:first], data[first:second], data[second:]]
                assert feed(chunks) == whole, (first, second)

    def test_empty_feeds_are_harmless(self) -> None:
        """feed(b"") anywhere returns nothing and changes nothing."""
        data = self.STREAM
        chunks: list[bytes] = []
        for byte in cut(data, (1,)):
            chunks += [b"", byte, b""]
        assert feed(chunks) == feed([data])


class TestLongLines:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            vector(
                "long-line-under-default-limits",
                b"data:" + b"x" * 100_000 + b"\n\n",
                ev("x" * 100_000),
            ),
            vector(
                "line-exactly-at-the-limit",
                b"data:" + b"y" * 27 + b"\n\n",
                ev("y" * 27),
                max_line_size=32,
            ),
            vector(
                "limit-counts-characters-not-bytes",
                b"data:" + "€".encode() * 27 + b"\n\n",
                ev("€" * 27),
                max_line_size=32,
            ),
            vector(
                "crlf-not-counted-in-line",
                b"data:" + b"y" * 27 + b"\r\n\r\n",
                ev("y" * 27),
                max_line_size=32,
            ),
            vector(
                "many-lines-each-at-the-limit",
                (b"data:" + b"z" * 11 + b"\n") * 6 + b"\n",
                ev("\n".join(["z" * 11] * 6)),
                max_line_size=16,
            ),
            vector(
                "event-exactly-at-the-limit",
                b"data:" + b"a" * 15 + b"\ndata:" + b"b" * 18 + b"\n\n",
                ev("a" * 15 + "\n" + "b" * 18),
                max_line_size=32,
                max_event_size=44,
            ),
            vector(
                "single-line-event-exactly-at-the-limit",
                b"data:" + b"a" * 15 + b"\n\n",
                ev("a" * 15),
                max_line_size=32,
                max_event_size=20,
            ),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """Long lines and events up to the limits come through intact."""
        check(data, events, last_id, reconnect, error, options, sizes)

    def test_multi_megabyte_line_in_network_sized_chunks(self) -> None:
        """A 3 MiB data line (an LLM tool call) passes the default limits in 16 KiB chunks."""
        payload = json.dumps({"arguments": "q" * (3 * 1024 * 1024)}).encode()
        data = b"event: tool\ndata: " + payload + b"\n\n"
        outcome = feed(cut(data, (16 * 1024,)))
        assert outcome.events == [ev(payload.decode(), event="tool")]


class TestLimits:
    @pytest.mark.parametrize(
        VECTOR_ARGS,
        [
            vector(
                "line-one-over",
                b"data:" + b"y" * 28 + b"\n\n",
                error="max_line_size",
                max_line_size=32,
            ),
            vector(
                "line-over-in-characters",
                b"data:" + "€".encode() * 28 + b"\n\n",
                error="max_line_size",
                max_line_size=32,
            ),
            vector(
                "long-comment-line",
                b":" + b"c" * 40 + b"\n\ndata:x\n\n",
                error="max_line_size",
                max_line_size=32,
            ),
            vector(
                "long-line-after-events",
                b"data:a\n\ndata:b\n\ndata:" + b"y" * 40 + b"\n\n",
                error="max_line_size",
                max_line_size=32,
            ),
            vector(
                "line-over-without-line-end",
                b"data:" + b"y" * 40,
                error="max_line_size",
                max_line_size=32,
            ),
            vector(
                "line-over-in-unfinished-block",
                b"data:" + b"y" * 40 + b"\ndata:z\n",
                error="max_line_size",
                max_line_size=32,
            ),
            vector(
                "event-one-over",
                b"data:" + b"a" * 15 + b"\ndata:" + b"b" * 19 + b"\n\n",
                error="max_event_size",
                max_line_size=32,
                max_event_size=44,
            ),
            vector(
                "event-of-short-lines",
                b"data: 0123456789\n" * 20 + b"\n",
                error="max_event_size",
                max_line_size=32,
                max_event_size=200,
            ),
            vector(
                "event-of-comments-and-fields",
                b"id: 1\n: comment\nevent: e\n" * 20 + b"\n",
                error="max_event_size",
                max_line_size=32,
                max_event_size=200,
            ),
            vector(
                "unfinished-event-over",
                b"data: 0123456789\n" * 20,
                error="max_event_size",
                max_line_size=32,
                max_event_size=200,
            ),
            # Only max_event_size given: the line limit keeps its (larger) default.
            vector(
                "event-limit-below-line-limit",
                b"data:" + b"x" * 100 + b"\n\n",
                error="max_event_size",
                max_event_size=64,
            ),
        ],
    )
    def test_vector(
        self,
        data: bytes,
        events: list[Event],
        last_id: str,
        reconnect: int | None,
        error: str | None,
        options: dict[str, Any],
        sizes: tuple[int, ...] | None,
    ) -> None:
        """A line or an event over its limit raises SSELimitError naming that limit."""
        check(data, events, last_id, reconnect, error, options, sizes)

    def test_error_attributes_and_message(self) -> None:
        """SSELimitError is an SSEError with limit, size and maximum, and says how to fix it."""
        with pytest.raises(SSELimitError) as info:
            Decoder(max_line_size=8).feed(b"data: 0123456789\n\n")
        error = info.value
        assert isinstance(error, SSEError)
        assert (error.limit, error.maximum) == ("max_line_size", 8)
        assert error.size >= 9
        assert "max_line_size" in str(error)

    def test_endless_line_is_cut_off(self) -> None:
        """A line that never ends raises before it grows much past max_line_size."""
        decoder = Decoder(max_line_size=64, max_event_size=10_000)
        fed = 0
        with pytest.raises(SSELimitError) as info:
            decoder.feed(b"data: ")
            for _ in range(1_000):
                decoder.feed(b"x" * 7)
                fed += 7
        assert info.value.limit == "max_line_size"
        assert fed <= 64

    def test_endless_block_is_cut_off(self) -> None:
        """Lines that never reach a blank line raise before passing max_event_size."""
        decoder = Decoder(max_line_size=64, max_event_size=1_000)
        fed = 0
        with pytest.raises(SSELimitError) as info:
            for _ in range(10_000):
                decoder.feed(b"data: 0123456789\n")
                fed += 17
        assert info.value.limit == "max_event_size"
        assert fed <= 1_000

    def test_endless_stream_of_events_does_not_accumulate(self) -> None:
        """Complete events keep flowing past the limits: only a single block counts."""
        decoder = Decoder(max_line_size=32, max_event_size=64)
        count = 0
        for _ in range(5_000):
            count += len(decoder.feed(b"id: 1\ndata: 0123456789\n\n: ping\n\n"))
        assert count == 5_000

    @pytest.mark.parametrize(
        ("options", "exception"),
        [
            ({"max_line_size": 0}, ValueError),
            ({"max_event_size": -1}, ValueError),
            ({"max_line_size": 1.5}, TypeError),
            ({"max_event_size": "10"}, TypeError),
        ],
    )
    def test_bad_limits_are_refused(
        self, options: dict[str, Any], exception: type[Exception]
    ) -> None:
        """Limits must be ints of at least 1."""
        with pytest.raises(exception):
            Decoder(**options)


class TestEvent:
    def test_defaults(self) -> None:
        """A bare Event is a message with empty data and id and no retry."""
        assert Event() == Event(event="message", data="", id="", retry=None)

    def test_frozen(self) -> None:
        """Events cannot be changed, including the ones the decoder builds."""
        built = Event(data="x")
        decoded = Decoder().feed(b"data:x\n\n")[0]
        for event in (built, decoded):
            with pytest.raises(dataclasses.FrozenInstanceError):
                event.data = "y"  # type: ignore[misc]
            with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
                event.extra = 1  # type: ignore[attr-defined]
        assert decoded == built
        assert hash(decoded) == hash(built)
        assert repr(decoded) == repr(built)

    def test_decoded_events_are_ordinary_events(self) -> None:
        """Events from both decoding paths compare, hash, pickle and convert like built ones."""
        run = b"".join(b"data: v%d\n\n" % i for i in range(200))  # one-line blocks, cut in bulk
        decoded = Decoder().feed(b"event: e\nretry: 5\nid: 7\ndata: x\n\n" + run + b"data: y\n\n")
        assert len(decoded) == 202
        assert decoded[0] == Event(event="e", data="x", id="7", retry=5)
        assert decoded[100] == Event(data="v99", id="7")
        for event in (decoded[0], decoded[100], decoded[-1]):
            built = Event(event.event, event.data, event.id, event.retry)
            assert hash(event) == hash(built)
            assert repr(event) == repr(built)
            assert pickle.loads(pickle.dumps(event)) == built
            assert copy.copy(event) == built
            assert dataclasses.asdict(event) == dataclasses.asdict(built)
            assert dataclasses.astuple(event) == (event.event, event.data, event.id, event.retry)

    def test_replace_makes_a_new_event(self) -> None:
        """dataclasses.replace works on decoded events and leaves them alone."""
        decoded = Decoder().feed(b"id: 3\ndata:x\n\n")[0]
        changed = dataclasses.replace(decoded, data="y")
        assert (decoded.data, changed.data, changed.id) == ("x", "y", "3")

    def test_json(self) -> None:
        """json() parses the data, multi-line JSON included."""
        event = Decoder().feed(b'data: {"a": [1,\ndata: 2], "b": "\xc3\xa9"}\n\n')[0]
        assert event.json() == {"a": [1, 2], "b": "é"}

    def test_json_passes_keyword_arguments(self) -> None:
        """json(**kwargs) goes to json.loads."""
        assert Event(data='{"x": 1.10}').json(parse_float=Decimal) == {"x": Decimal("1.10")}

    def test_json_of_non_json_raises(self) -> None:
        """json() of data that is not JSON raises json.JSONDecodeError."""
        with pytest.raises(json.JSONDecodeError):
            Event(data="[DONE]").json()


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

LINE_ENDS = ["\n", "\r", "\r\n"]
FIELD_NAMES = ["data", "event", "id", "retry"]

#: Text allowed in a value: anything but CR and LF, with the awkward characters well represented.
value_text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
        st.sampled_from(list(" :\x00\ufeff\u2028\x85\té€😀日")),
    ),
    max_size=10,
)


@st.composite
def any_line(draw: st.DrawFn) -> str:
    """A line (without its end) of any kind: field, comment, unknown or bogus."""
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return ":" + draw(value_text)
    if kind == 1:
        return draw(st.sampled_from(FIELD_NAMES))
    if kind == 2:
        return "retry:" + draw(st.sampled_from(["0", " 15", "  7", "x", "-3", "٣", "0042", ""]))
    if kind == 3:
        return draw(st.sampled_from(["Data", "foo", " data", "data ", "", "\ufeffdata"])) + (
            ":" + draw(value_text)
        )
    name = draw(st.sampled_from(FIELD_NAMES))
    return name + ":" + draw(value_text)


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    """Random blocks of random lines with random line ends, BOMs and bad bytes."""
    parts = [draw(st.sampled_from(["", "", "\ufeff", "\ufeff\ufeff"]))]
    for _ in range(draw(st.integers(0, 6))):
        for line in draw(st.lists(any_line(), max_size=5)):
            parts.append(line + draw(st.sampled_from(LINE_ENDS)))
        parts.append(draw(st.sampled_from([*LINE_ENDS, ""])))
    if draw(st.booleans()):
        parts.append(draw(any_line()))
    data = "".join(parts).encode()
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        bad = draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80"]))
        data = data[:at] + bad + data[at:]
    return data


byte_soup = st.lists(
    st.sampled_from(
        [
            b"data",
            b"id",
            b"retry",
            b"event",
            b":",
            b" ",
            b"\r",
            b"\n",
            b"\r\n",
            b"7",
            b"x",
            b"\x00",
            b"\xef\xbb\xbf",
            b"\xe2\x82\xac",
            b"\xf0\x9f",
            b"\xff",
        ]
    ),
    max_size=60,
).map(b"".join)

cut_points = st.lists(st.integers(0, 10_000), max_size=12)


class EventBlock(NamedTuple):
    event: str  # "" means the line may be left out or written empty
    data_lines: list[str]
    id: str | None  # None: no id field; "" resets it
    retry: int | None


class Interlude(NamedTuple):
    id: str | None
    retry: int | None
    event: str | None


no_line_end = st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",))
id_text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
        st.sampled_from(list(" :…日😀")),
    ),
    max_size=8,
)
event_blocks = st.builds(
    EventBlock,
    event=st.one_of(st.just(""), st.just("message"), st.text(no_line_end, min_size=1, max_size=8)),
    data_lines=st.lists(value_text, min_size=1, max_size=4),
    id=st.none() | id_text,
    retry=st.none() | st.integers(0, 10**12),
)
interludes = st.builds(
    Interlude,
    id=st.none() | id_text,
    retry=st.none() | st.integers(0, 10**6),
    event=st.none() | st.text(no_line_end, max_size=5),
)
noise_lines = st.one_of(
    value_text.map(lambda text: ":" + text),
    st.sampled_from(["foo:bar", "Data:x", "data :x", " data:y", "ID:3", "unknown"]),
    st.sampled_from(["", "x", "-1", "  5", "5 ", "1.0", "١٢", "\uff11", "0x1", "+3"]).map(
        lambda bogus: "retry:" + bogus
    ),
    st.tuples(id_text, id_text).map(lambda pair: "id:" + pair[0] + "\x00" + pair[1]),
)


@st.composite
def encoded_events(draw: st.DrawFn) -> tuple[bytes, Outcome]:
    """A stream written from a model of events, with what the decoder must recover."""
    items = draw(st.lists(st.one_of(event_blocks, interludes), max_size=6))

    def field(name: str, value: str) -> str:
        if value == "":
            return draw(st.sampled_from([name, name + ":", name + ": "]))
        if value.startswith(" "):
            return name + ": " + value
        return name + draw(st.sampled_from([":", ": "])) + value

    lines: list[str] = []
    events: list[Event] = []
    last_id = ""
    reconnect: int | None = None
    for item in items:
        fields: list[str] = []
        if isinstance(item, EventBlock):
            if item.event or draw(st.booleans()):
                fields.append(field("event", item.event))
            if item.id is not None:
                fields.append(field("id", item.id))
            if item.retry is not None:
                fields.append(field("retry", str(item.retry)))
            data = [field("data", value) for value in item.data_lines]
        else:
            if item.id is not None:
                fields.append(field("id", item.id))
            if item.retry is not None:
                fields.append(field("retry", str(item.retry)))
            if item.event is not None:
                fields.append(field("event", item.event))
            data = []
        # Shuffle the other fields into the data lines (which keep their order), add noise.
        block = list(data)
        for line in fields:
            block.insert(draw(st.integers(0, len(block))), line)
        for line in draw(st.lists(noise_lines, max_size=3)):
            block.insert(draw(st.integers(0, len(block))), line)
        lines.extend(block)
        lines.append("")  # the blank line that dispatches
        if item.id is not None:
            last_id = item.id
        if item.retry is not None:
            reconnect = item.retry
        if isinstance(item, EventBlock):
            events.append(
                Event(
                    event=item.event or "message",
                    data="\n".join(item.data_lines),
                    id=last_id,
                    retry=item.retry,
                )
            )
    parts = [draw(st.sampled_from(["", "\ufeff"]))]
    previous_end = ""
    for line in lines:
        ends = LINE_ENDS
        if line == "" and previous_end == "\r":
            ends = ["\r", "\r\n"]  # a LF right after a CR would only finish that CR's line end
        previous_end = draw(st.sampled_from(ends))
        parts.append(line + previous_end)
    return "".join(parts).encode(), Outcome(events, last_id, reconnect)


def spec_reference(data: bytes) -> Outcome:
    """HTML §9.2.6 transcribed line by line, for bytes that end with a blank line."""
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    events: list[Event] = []
    data_buffer = ""
    type_buffer = ""
    id_buffer = ""
    last_id = ""
    reconnect: int | None = None
    block_retry: int | None = None
    for line in re.split(r"\r\n|\r|\n", text)[:-1]:  # the last piece has no line end
        if line == "":
            last_id = id_buffer
            if data_buffer:
                if data_buffer.endswith("\n"):
                    data_buffer = data_buffer[:-1]
                events.append(Event(type_buffer or "message", data_buffer, last_id, block_retry))
            data_buffer = type_buffer = ""
            block_retry = None
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            type_buffer = value
        elif name == "data":
            data_buffer += value + "\n"
        elif name == "id":
            if "\x00" not in value:
                id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            reconnect = block_retry = int(value)
    return Outcome(events, last_id, reconnect)


# Examples per property: measured with branch coverage of the decoder, 50 to 100 examples
# reach what 300 reach. The comparison with the spec's transcription, the oracle, keeps the
# most; the byte-by-byte feeds of long token streams, the costliest, the fewest.


class TestProperties:
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=sse_streams(), points=cut_points)
    def test_chunking_never_matters_for_generated_streams(
        self, data: bytes, points: list[int]
    ) -> None:
        """Any cut of a generated SSE stream gives what feeding it whole gives."""
        assert feed(cut_at(data, points)) == feed([data])

    @settings(max_examples=200, deadline=None)
    @given(data=byte_soup, points=cut_points)
    def test_chunking_never_matters_for_byte_soup(self, data: bytes, points: list[int]) -> None:
        """Any cut of a jumble of SSE tokens and bad bytes gives the whole-feed result."""
        whole = feed([data])
        assert feed(cut_at(data, points)) == whole
        assert feed(cut(data, (1,))) == whole

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(stream=encoded_events(), points=cut_points)
    def test_known_events_come_back(self, stream: tuple[bytes, Outcome], points: list[int]) -> None:
        """Events written with random line ends, spacing, order and noise are recovered."""
        data, expected = stream
        assert feed([data]) == expected
        assert feed(cut_at(data, points)) == expected

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.one_of(sse_streams(), byte_soup), points=cut_points)
    def test_agrees_with_the_spec_transcription(self, data: bytes, points: list[int]) -> None:
        """For streams that end in a blank line, the decoder does what §9.2.6 says."""
        data += b"\n\n"
        assert feed(cut_at(data, points)) == spec_reference(data)


@st.composite
def token_like_streams(draw: st.DrawFn) -> bytes:
    """Long runs of one-line ``data: `` blocks (LLM style) broken by blocks of any kind."""
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        for _ in range(draw(st.integers(0, 60))):
            parts.append("data: " + draw(value_text) + "x" * draw(st.integers(0, 40)) + "\n\n")
        noise = draw(st.lists(any_line(), max_size=4))
        end = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
        parts.append("".join(line + end for line in noise) + draw(st.sampled_from(["", end])))
    data = "".join(parts).encode()
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at] + draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xed\xa0\x80"])) + data[at:]
        )
    return data


class TestOneLineDataRuns:
    """Runs of one-line data blocks are cut in bulk when a chunk holds enough of them."""

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=token_like_streams(), sizes=st.lists(st.integers(1, 4000), min_size=1, max_size=5))
    def test_agrees_with_the_spec_in_any_chunking(self, data: bytes, sizes: list[int]) -> None:
        """Whole, byte by byte and in network-sized chunks: what §9.2.6 says, every time."""
        data += b"\n\n"
        expected = spec_reference(data)
        assert feed([data]) == expected
        assert feed(cut(data, tuple(sizes))) == expected
        assert feed(cut(data, (1,))) == expected

    def test_ids_types_and_odd_blocks_inside_a_run(self) -> None:
        """Blocks that are not one data line, inside a run, keep their order and fields."""
        filler = b"".join(b"data: f%d\n\n" % i for i in range(40))
        data = (
            filler
            + b"id: 1\ndata: a\n\n"  # an id with the data
            + filler
            + b"data:b\n\n"  # no space after the colon
            + b"data: \n\n"  # empty data
            + b"event: t\ndata: c\n\n"
            + b"data: d\ndata: e\n\n"  # two lines
            + b": comment\n\n\n\n"  # a comment block and blank lines
            + b"retry: 7\ndata: f\n\n"
            + b"data: \xe2\x82\xac \xff\n\n"  # UTF-8 and a bad byte
            + filler
        )
        events = Decoder().feed(data)
        named = [e for e in events if not e.data.startswith("f") or e.data == "f"]
        assert named == [
            ev("a", id="1"),
            ev("b", id="1"),
            ev("", id="1"),
            ev("c", event="t", id="1"),
            ev("d\ne", id="1"),
            ev("f", id="1", retry=7),
            ev("\u20ac \ufffd", id="1"),
        ]
        assert len(events) == 120 + 7
        assert events[-1] == ev("f39", id="1")
        assert feed(cut(data, (1,))) == feed([data])

    def test_small_limits_apply_inside_a_run(self) -> None:
        """A run longer than the limits is still checked line by line."""
        run = b"".join(b"data: %030d\n\n" % i for i in range(100))  # 36-character lines
        for sizes in (None, (1,), (700,), (5000,)):
            outcome = feed(cut(run, sizes), max_line_size=36, max_event_size=36)
            assert len(outcome.events) == 100
            with pytest.raises(SSELimitError) as info:
                feed(cut(run + b"data: %031d\n\n" % 1, sizes), max_line_size=36)
            assert info.value.limit == "max_line_size"
            with pytest.raises(SSELimitError) as info:
                feed(cut(run, sizes), max_event_size=35)
            assert info.value.limit == "max_event_size"

    def test_id_blocks_inside_a_run(self) -> None:
        """An id with the next data line is read in place; other shapes line by line."""
        filler = b"".join(b"data: f%d\n\n" % i for i in range(40))
        data = filler + b"data: z\n\n".join(
            [
                b"id: 1\ndata: a\n\n",  # the shape read in place
                b"id: 2\nevent: u\ndata: g\n\n",
                b"id: 3\x00\ndata: h\n\n",  # NUL: the id is ignored
                b"id: 4\ndata: i\ndata: j\n\n",
                b"id:5\ndata: k\n\n",
                b"id: 6\ndata: \xe2\x82\xac\n\n",
                filler,
            ]
        )
        events = Decoder().feed(data)
        assert events[40:52] == [
            ev("a", id="1"),
            ev("z", id="1"),
            ev("g", event="u", id="2"),
            ev("z", id="2"),
            ev("h", id="2"),
            ev("z", id="2"),
            ev("i\nj", id="4"),
            ev("z", id="4"),
            ev("k", id="5"),
            ev("z", id="5"),
            ev("\u20ac", id="6"),
            ev("z", id="6"),
        ]
        assert len(events) == 92
        assert feed(cut(data, (1,))) == feed([data]) == Outcome(events, "6", None)

    def test_run_after_an_odd_block(self) -> None:
        """A chunk whose first whole block is not a lone data line is read in order too."""
        filler = b"".join(b"data: f%d\n\n" % i for i in range(60))
        data = b"data: first\n\nid: 5\nevent: t\ndata: x\n\n" + filler + b"data: last"
        events = Decoder().feed(data)
        assert events[:3] == [ev("first"), ev("x", event="t", id="5"), ev("f0", id="5")]
        assert len(events) == 62
        assert feed(cut(data, (1,))).events == events

    def test_chunk_of_multi_line_blocks(self) -> None:
        """A large chunk of blocks that are not lone data lines is read line by line."""
        data = b"".join(b"event: e\ndata: %d\ndata: more\n\n" % i for i in range(100))
        events = Decoder().feed(data)
        assert events == [ev(f"{i}\nmore", event="e") for i in range(100)]
        assert feed(cut(data, (1,))).events == events

    def test_long_unfinished_line_after_a_run(self) -> None:
        """The unfinished line after a run cut in bulk is held to the limits as it grows."""
        run = b"".join(b"data: %030d\n\n" % i for i in range(20))  # 760 bytes
        tail = b"data: " + b"x" * 2000
        with pytest.raises(SSELimitError) as info:
            Decoder(max_line_size=1000).feed(run + tail)
        assert info.value.limit == "max_line_size"
        decoder = Decoder(max_line_size=3000)
        assert len(decoder.feed(run + tail)) == 20
        assert decoder.feed(b"\n\n") == [ev("x" * 2000)]


class TestMultiByteLimits:
    """Limits count characters, however the bytes of a long line arrive."""

    @pytest.mark.parametrize("sizes", [None, (1,), (2,), (5,), (4096,)])
    def test_line_of_three_byte_characters(self, sizes: tuple[int, ...] | None) -> None:
        """A line of 3-byte characters passes at the limit and fails one character over."""
        at_limit = b"data:" + "\u20ac".encode() * 995 + b"\n\n"  # 1,000 characters
        outcome = feed(cut(at_limit, sizes), max_line_size=1000)
        assert outcome.events == [ev("\u20ac" * 995)]
        with pytest.raises(SSELimitError) as info:
            feed(cut(at_limit.replace(b"data:", b"data:x"), sizes), max_line_size=1000)
        assert (info.value.limit, info.value.size) == ("max_line_size", 1001)

    @pytest.mark.parametrize("sizes", [None, (1,), (3,), (64,)])
    def test_block_of_four_byte_characters(self, sizes: tuple[int, ...] | None) -> None:
        """The event limit counts the characters of the unfinished line too."""
        line = b"data:" + "\U0001f600".encode() * 45 + b"\n"  # 50 characters, 185 bytes
        outcome = feed(cut(line * 4 + b"\n", sizes), max_event_size=203)
        assert outcome.events == [ev("\n".join(["\U0001f600" * 45] * 4))]
        with pytest.raises(SSELimitError) as info:
            feed(cut(line * 4 + b"\n", sizes), max_event_size=202)
        assert info.value.limit == "max_event_size"
        with pytest.raises(SSELimitError) as info:  # never ends: caught while it grows
            feed(cut(line * 3 + line[:-1] * 2, sizes), max_event_size=202)
        assert info.value.limit == "max_event_size"
