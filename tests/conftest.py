"""Every async test runs on asyncio, asyncio with uvloop (where installed) and trio."""

from __future__ import annotations

from typing import Any

import pytest

from backends import BACKENDS
from clients import KINDS


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture(params=KINDS)
def client_kind(request: pytest.FixtureRequest) -> str:
    """The HTTP client a test sends with: httpx, then aiohttp (see tests/clients.py)."""
    return request.param


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """aiohttp runs on asyncio only: its cases on trio are deselected, not skipped."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(item, "callspec", None)
        params = params.params if params is not None else {}
        backend = params.get("anyio_backend")
        on_trio = backend == "trio" or (isinstance(backend, tuple) and backend[0] == "trio")
        (dropped if on_trio and params.get("client_kind") == "aiohttp" else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
