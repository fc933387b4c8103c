"""`sluiceway demo`: the engine's parts and the SSE part run end to end and show what they say.

(The paginated-API and database parts have their tests beside their sources:
tests/http/test_pages_demo.py, tests/db/test_demo_rows.py.)
"""

from __future__ import annotations

import importlib.util
import io
import re

from backends import virtual_time
from sluiceway._demo import PARTS, _engine, _sse


@virtual_time
async def test_basics() -> None:
    """Parts 1-3: an endless source closed when left, the batched engine, combinators."""
    out = io.StringIO()
    await _engine.basics(out)
    text = out.getvalue()
    assert text.count("   batch of 4: #") == 3
    assert re.search(r"the sensor feed closed after \d+ readings", text)
    assert re.search(r"sluiceway      : 499999000000 in .* ms  \([\d.]+x the for-loop\)", text)
    assert "zip: [('a', 1), ('b', 4), ('c', 9), ('d', 16)]" in text
    assert "concat: ['ONE', 'TWO', 'THREE', 'FOUR', 'FIVE']" in text


@virtual_time
async def test_concurrency() -> None:
    """Parts 4-6: merge holds the fast feed back, prefetch overlaps, map keeps the order."""
    out = io.StringIO()
    await _engine.concurrency(out)
    text = out.getvalue()
    aheads = [int(n) for n in re.findall(r"read ahead: (\d+) <= 4 \+ 3", text)]
    assert len(aheads) == 4
    assert max(aheads) <= 4 + 3
    assert "the fast feed waited for the reader" in text
    assert "with prefetch(2):" in text
    assert "50 results in input order" in text


async def test_server_sent_events() -> None:
    """Part 7: the client resumes after the server hangs up mid-event, losing nothing."""
    out = io.StringIO()
    await _sse.part(out)
    text = out.getvalue()
    if importlib.util.find_spec("httpx") is None:
        assert "7. Server-Sent Events: skipped (pip install 'sluiceway[http]')" in text
        return
    words = "streams arrive over time and a good client never loses one of them"
    assert f"   {words}\n" in text
    assert "13 tokens, none lost or repeated; 2 connections" in text
    assert "resumed with Last-Event-ID '4'" in text


def test_the_parts_in_order() -> None:
    """The demo runs the engine's parts first, then the sources'."""
    assert PARTS[:3] == (_engine.basics, _engine.concurrency, _sse.part)
