"""Every async test runs on asyncio, asyncio with uvloop (where installed) and trio."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

BACKENDS: list[Any] = [pytest.param("asyncio", id="asyncio")]
if importlib.util.find_spec("uvloop") is not None:
    BACKENDS.append(pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"))
BACKENDS.append(pytest.param("trio", id="trio"))


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param
