"""Streaming I/O with async iterators.

Composable operators that never leak a task, a connection or an error, a
pipeline engine that fuses sequential stages and moves batches whole, on
asyncio (uvloop too) and trio::

    import sluiceway as sw

    total = await sw.stream(range(10)).map(lambda x: x * x).filter(lambda x: x % 2).reduce(
        lambda a, b: a + b, 0
    )
"""

from . import errors as errors
from ._core._lifecycle import grace_period as grace_period
from ._stream import Stream as Stream
from ._stream import borrow as borrow
from ._stream import concat as concat
from ._stream import from_batches as from_batches
from ._stream import merge as merge
from ._stream import stream as stream
from ._stream import zip as zip
from .errors import EmptyStreamError as EmptyStreamError
from .errors import SluicewayError as SluicewayError
from .errors import StreamConsumedError as StreamConsumedError
from .errors import StreamNotEnteredError as StreamNotEnteredError

__version__ = "0.1.0.dev0"

__all__ = [
    "EmptyStreamError",
    "SluicewayError",
    "Stream",
    "StreamConsumedError",
    "StreamNotEnteredError",
    "borrow",
    "concat",
    "errors",
    "from_batches",
    "grace_period",
    "merge",
    "stream",
    "zip",
]

for _name in (
    "Stream",
    "borrow",
    "from_batches",
    "grace_period",
    "stream",
    "concat",
    "merge",
    "zip",
):
    globals()[_name].__module__ = __name__
del _name
