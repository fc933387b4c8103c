"""Every exception sluiceway raises, under one root.

The hierarchy::

    SluicewayError
    ├── StreamConsumedError (also RuntimeError)
    │       you used a Stream a second time: it was already iterated,
    │       handed to an operator or closed
    ├── StreamNotEnteredError (also RuntimeError)
    │       a stream with background work (merge, prefetch, ...) was
    │       iterated outside ``async with stream:``
    └── EmptyStreamError (also ValueError)
            first(), last() or reduce() without an initial value
            met a stream with no items

Argument errors are the builtin ``ValueError`` (a number out of range, such
as ``take(-1)``) and ``TypeError`` (a value of the wrong kind, such as
``map(42)``), raised at the call that received them. Timeouts are the builtin
``TimeoutError``. Errors raised by a source or by a function you passed in
reach you unchanged: the same exception object, never wrapped.
"""

from __future__ import annotations

__all__ = ["EmptyStreamError", "SluicewayError", "StreamConsumedError", "StreamNotEnteredError"]


class SluicewayError(Exception):
    """The root of every exception defined by sluiceway."""


class StreamConsumedError(SluicewayError, RuntimeError):
    """A Stream was used after it was iterated, handed to an operator or closed.

    A Stream is a one-shot pipeline: iterating it, passing it to an operator
    (``s.map(...)`` takes ``s`` over) or closing it uses it up. Build a new
    Stream from the source instead, or use ``tee()`` to read one source twice.
    Calling ``__anext__`` after the end or after ``aclose()`` is not an error:
    it raises ``StopAsyncIteration``, like any exhausted async iterator.
    """


class StreamNotEnteredError(SluicewayError, RuntimeError):
    """A stream that runs background tasks was iterated outside ``async with``.

    ``merge``, ``map(concurrency=n)``, ``prefetch``, ``batch(timeout=...)``
    and ``foreach(concurrency=n)`` run tasks that must belong to a scope the
    consumer controls. Iterate such a stream inside ``async with stream:``,
    or consume it with a terminal operation (``to_list()``, ``foreach()``,
    ...), which opens the scope itself. Raised before the first item.
    """


class EmptyStreamError(SluicewayError, ValueError):
    """A terminal operation needed at least one item and the stream had none."""
