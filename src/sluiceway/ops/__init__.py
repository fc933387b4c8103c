"""Operators by family: the nodes and stages behind the methods of :class:`sluiceway.Stream`.

``_transform``, ``_slicing``, ``_batch``, ``_flow``, ``_fanout``, ``_workers``
and ``_combine`` hold the stages and nodes; ``_terminal`` the terminal
operations' sinks. The engine (``sluiceway._core``) knows none of them; the
stream layer (``sluiceway._stream``) builds them. Use the functions at the
top level (``sluiceway.merge``, ``sluiceway.zip``, ``sluiceway.concat``).
"""

__all__: list[str] = []
