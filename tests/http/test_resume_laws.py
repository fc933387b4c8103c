"""Resume laws over an in-memory API (httpx.MockTransport): stop anywhere, resume, miss nothing.

The real-server tests show each style end to end; these check the position's
promise for many shapes at once: whatever the page size, the style, the
read-ahead and the item the consumer stops at, the position covers only whole
pages it was given, and resuming from it gives exactly the items after them.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluiceway.http import (
    BodyCursor,
    LastItemCursor,
    LinkHeader,
    NextUrl,
    Offset,
    PageNumber,
    Strategy,
    paginate,
)

pytestmark = [pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]

LAWS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

STYLES: dict[str, Strategy] = {
    "body_cursor": BodyCursor(),
    "last_item_cursor": LastItemCursor(),
    "link_header": LinkHeader(),
    "next_url": NextUrl(items="data"),
    "page_number": PageNumber(),
    "offset": Offset(limit=1000),
}


def api(total: int, size: int) -> httpx.MockTransport:
    """Every style at once: the page is picked by whichever parameter the request has."""
    items = [{"id": n} for n in range(total)]

    def handle(request: httpx.Request) -> httpx.Response:
        q = request.url.params
        if "cursor" in q:
            start = int(q["cursor"])
        elif "starting_after" in q:
            start = int(q["starting_after"]) + 1
        elif "page" in q:
            start = (int(q["page"]) - 1) * size
        elif "offset" in q:
            start = int(q["offset"])
        else:
            start = int(q.get("at", "0"))
        end = min(start + size, total)
        more = end < total
        page = items[start:end]
        headers = {"link": f'</x?at={end}>; rel="next"'} if more else {}
        if q.get("style") == "link_header":
            return httpx.Response(200, json=page, headers=headers)
        body = {
            "data": page,
            "next_cursor": str(end) if more else None,
            "has_more": more,
            "next": f"/x?at={end}" if more else None,
        }
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


@given(
    total=st.integers(0, 40),
    size=st.integers(1, 7),
    style=st.sampled_from(sorted(STYLES)),
    prefetch=st.integers(0, 3),
    stop=st.integers(0, 45),
)
@LAWS
async def test_resume_after_stopping_anywhere(
    total: int, size: int, style: str, prefetch: int, stop: int
) -> None:
    """Stopped after any item, the position is whole pages received; the rest resumes exactly."""
    async with httpx.AsyncClient(transport=api(total, size)) as client:
        options: dict[str, Any] = {"strategy": STYLES[style], "params": {"style": style}}
        stream = paginate(client, "http://api.test/x", prefetch=prefetch, **options)
        got: list[Any] = []  # every item handed over, the one in hand at the break too
        async with stream:
            async for item in stream:
                got.append(item)
                if len(got) > stop:
                    break
        expected = [{"id": n} for n in range(total)]
        assert got == expected[: len(got)]
        position = json.loads(json.dumps(stream.position))
        done = position["items"]
        # Exactly the whole pages handed over: a page counts once its last item was.
        assert done == (total if len(got) == total else len(got) // size * size)
        rest = await paginate(client, "http://api.test/x", resume=position, **options).to_list()
        assert rest == expected[done:]


@given(total=st.integers(1, 40), size=st.integers(1, 7), limit=st.integers(1, 45))
@LAWS
async def test_max_items_then_resume(total: int, size: int, limit: int) -> None:
    """max_items stops inside a page; the resume skips into it: together, every item once."""
    async with httpx.AsyncClient(transport=api(total, size)) as client:
        first = paginate(client, "http://api.test/x", strategy=PageNumber(), max_items=limit)
        head = await first.to_list()
        rest = await paginate(
            client, "http://api.test/x", strategy=PageNumber(), resume=first.position
        ).to_list()
        assert head + rest == [{"id": n} for n in range(total)]
        assert len(head) == min(limit, total)
