"""Operators by family.

The operators themselves are methods of :class:`sluiceway.Stream`; this
package holds their implementations (``_transform``, ``_slicing``, ``_batch``)
and the functions that build one stream from several.
"""

from ._combine import concat as concat
from ._combine import merge as merge
from ._combine import zip as zip

__all__ = ["concat", "merge", "zip"]
