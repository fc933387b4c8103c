"""The anyio backends the async tests run on, and a virtual-time one for timing tests.

``BACKENDS``: asyncio, asyncio with uvloop (where installed) and trio; the
``anyio_backend`` fixture (tests/conftest.py) runs every async test on each.

``virtual_time``: a mark that runs a test on trio with
``MockClock(autojump_threshold=0)`` instead, the backend id ``trio-virtual``.
Time passes only while every task waits, and then jumps straight to the
next deadline: a test of throttle, timeout or a grace period takes no real
time, and may assert the exact time that passed (no real-time bound, which
a loaded machine would break).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

__all__ = ["BACKENDS", "TRIO_VIRTUAL", "virtual_time"]

BACKENDS: list[Any] = [pytest.param("asyncio", id="asyncio")]
if importlib.util.find_spec("uvloop") is not None:
    BACKENDS.append(pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"))
BACKENDS.append(pytest.param("trio", id="trio"))


def _trio_virtual() -> Any:
    if importlib.util.find_spec("trio") is None:
        return pytest.param("trio", id="trio-virtual", marks=pytest.mark.skip(reason="no trio"))
    from trio.testing import MockClock

    # One clock for every test: each run resynchronises it, and only differences matter.
    return pytest.param(("trio", {"clock": MockClock(autojump_threshold=0)}), id="trio-virtual")


TRIO_VIRTUAL = _trio_virtual()

virtual_time = pytest.mark.parametrize("anyio_backend", [TRIO_VIRTUAL])
