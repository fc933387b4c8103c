"""The one backoff of the library: how long to wait before one more try.

Pagination's retries and SSE's reconnects both wait what :func:`backoff_delay`
says when the server named no time. It lives beside the transport, below both
sources, so that neither imports the other; it imports no HTTP client. The
random source (``rand``) is a parameter, so tests pass their own.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["backoff_delay"]


def backoff_delay(
    attempt: int, initial: float, maximum: float, rand: Callable[[], float] = random.random
) -> float:
    """The capped exponential backoff with jitter before try number ``attempt`` (1, 2, ...).

    Between half and all of the ceiling ``min(maximum, initial * 2 ** (attempt - 1))``:
    ``ceiling / 2 + rand() * ceiling / 2``, where ``rand()`` is in [0, 1).
    However many tries failed in a row, the ceiling stays ``maximum``.
    """
    try:
        grown = math.ldexp(initial, attempt - 1)  # initial * 2 ** (attempt - 1), exactly
    except OverflowError:  # past 2 ** 1023: far beyond any maximum
        grown = math.inf
    ceiling = min(maximum, grown)
    return ceiling / 2 + rand() * ceiling / 2
