"""Every async test runs on asyncio, asyncio with uvloop (where installed) and trio."""

from __future__ import annotations

from typing import Any

import pytest

from backends import BACKENDS


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param
