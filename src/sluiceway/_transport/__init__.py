"""The HTTP layer under the sources: one adapter per client library (private).

``_httpx`` adapts httpx; ``_notice`` holds the retry notice that SSE and
pagination both hand to their callers. Nothing is imported here, so that
importing this package loads no client library: each source imports the
adapter it uses.
"""
