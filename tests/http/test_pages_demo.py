"""The demo's paginated-API part runs end to end against its own loopback server."""

from __future__ import annotations

import io

from sluiceway._demo import PARTS, _pages


async def test_demo_part() -> None:
    """Part 8 reads ahead, waits out its 429 and resumes with nothing lost or repeated."""
    out = io.StringIO()
    await _pages.part(out)
    text = out.getvalue()
    assert "\n8. Paginated API:" in text
    assert "6 pages, 20 ms each" in text
    assert "a 429 with Retry-After: 1 on page 4 was waited out" in text
    assert "next /items?run=throttled&cursor=20" in text
    assert "10 more items; 30 in all, none lost or repeated" in text


def test_demo_runs_it_after_sse() -> None:
    """The part is listed right after the SSE part."""
    names = [f"{part.__module__}.{part.__name__}" for part in PARTS]
    assert (
        names.index("sluiceway._demo._pages.part") == names.index("sluiceway._demo._sse.part") + 1
    )
