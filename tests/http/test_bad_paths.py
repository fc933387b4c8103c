"""A path a strategy needs that is missing or of the wrong kind: always BadPageError.

The strategies raise an internal ``PathError`` (they know the path, not the
URL or the body); the fetch loop turns every one into
:class:`~sluiceway.errors.BadPageError`. Each place a strategy raises one is
reached here through ``paginate()``, and none may escape as it is.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sluiceway.errors import BadPageError
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
from sluiceway.http._strategies import PathError

URL = "https://api.test/items"

#: (strategy, the first page's body, concurrency, the path BadPageError names, its reason).
CASES: list[Any] = [
    pytest.param(BodyCursor(items="data.list"), {"data": {}}, 1, "data.list", "no such path",
                 id="items-missing"),
    pytest.param(BodyCursor(), {"data": {"a": 1}}, 1, "data", "not a JSON list",
                 id="items-not-a-list"),
    pytest.param(LinkHeader(), {"a": 1}, 1, "", "the body is a dict", id="body-not-a-list"),
    pytest.param(BodyCursor(cursor="next"), {"data": [1], "next": {"a": 1}}, 1, "next",
                 "string or a number", id="cursor-not-a-scalar"),
    pytest.param(LastItemCursor(), {"data": [{"id": 1}]}, 1, "has_more", "no such path",
                 id="has-more-missing"),
    pytest.param(LastItemCursor(), {"data": [{"x": 1}], "has_more": True}, 1, "data[-1].id",
                 "no key", id="last-key-missing"),
    pytest.param(NextUrl(), {"results": [1], "next": 5}, 1, "next", "URL string",
                 id="next-url-not-a-string"),
    pytest.param(PageNumber(total="meta.total"), {"data": [1]}, 1, "meta.total",
                 "no such path", id="total-missing"),
    pytest.param(PageNumber(total_pages="pages"), {"data": [1], "pages": "many"}, 1, "pages",
                 "expected a number", id="total-pages-not-a-number"),
    pytest.param(Offset(total="total"), {"data": [1], "total": True}, 1, "total",
                 "expected a number", id="total-a-bool"),
    pytest.param(PageNumber(total="total"), {"data": [1], "total": None}, 3, "total",
                 "expected a number", id="total-with-parallel-pages"),
]  # fmt: skip


def answering(body: object) -> httpx.AsyncClient:
    """A client whose every request gets ``body`` as JSON."""
    raw = json.dumps(body).encode()

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, content=raw)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


class TestBadPaths:
    @pytest.mark.parametrize(("strategy", "body", "concurrency", "path", "reason"), CASES)
    async def test_a_bad_path_is_a_bad_page_error(
        self, strategy: Strategy, body: object, concurrency: int, path: str, reason: str
    ) -> None:
        """The error is BadPageError with the URL, the path and the body, and no PathError."""
        async with answering(body) as client:
            stream = paginate(client, URL, strategy=strategy, concurrency=concurrency)
            with pytest.raises(BadPageError) as caught:
                await stream.to_list()
        error = caught.value
        assert not isinstance(error, PathError)
        assert error.path == path
        assert reason in str(error)
        assert error.url.startswith(URL)
        assert error.body == json.dumps(body)
        # Raised from None: the internal error is not even in the traceback.
        assert error.__suppress_context__
        assert error.__cause__ is None
