"""The one marker for 'no value' across the package (``None`` is a value like any other)."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["NOTHING"]


class _Nothing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<nothing>"

    def __reduce__(self) -> str:
        return "NOTHING"  # pickles and copies as the same object


#: No value yet, no such path, no initial value: compare with ``is``.
NOTHING: Final[Any] = _Nothing()
