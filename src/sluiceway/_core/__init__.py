"""The engine: pipelines, nodes, fusion, channels, scopes, lifecycle. It knows no operator.

Private: use the public API from ``sluiceway``. Imports flow one way:
``_core`` <- ``ops`` <- the stream layer (``sluiceway._stream``) <- sources.
"""
