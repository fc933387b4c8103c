"""Paginated HTTP APIs as streams: every common style, read ahead, retried, resumable.

``paginate(client, url, strategy=...)`` gives the items of every page as one
:class:`~sluiceway.Stream`; ``pages(...)`` (or ``paginate(...).pages()``) the
whole pages with their responses. Requests go through httpx or aiohttp,
whichever client you pass (``pip install 'sluiceway[http]'`` or
``'sluiceway[aiohttp]'``); importing this package loads neither, and
``import sluiceway`` does not load it.
"""

import warnings
from typing import Any

from .._transport._base import Request as Request
from .._transport._notice import RetryNotice as RetryNotice
from .._transport._url import URL as URL
from ._fetch import Page as Page
from ._paginate import DEFAULT_MAX_EMPTY_PAGES as DEFAULT_MAX_EMPTY_PAGES
from ._paginate import DEFAULT_MAX_PAGE_SIZE as DEFAULT_MAX_PAGE_SIZE
from ._paginate import PaginatedStream as PaginatedStream
from ._paginate import pages as pages
from ._paginate import paginate as paginate
from ._policy import RateLimiter as RateLimiter
from ._policy import Retry as Retry
from ._policy import parse_retry_after as parse_retry_after
from ._policy import rate_limit_wait as rate_limit_wait
from ._strategies import BodyCursor as BodyCursor
from ._strategies import Custom as Custom
from ._strategies import LastItemCursor as LastItemCursor
from ._strategies import LinkHeader as LinkHeader
from ._strategies import NextUrl as NextUrl
from ._strategies import Offset as Offset
from ._strategies import PageNumber as PageNumber
from ._strategies import Reply as Reply
from ._strategies import Strategy as Strategy
from ._strategies import get_path as get_path
from ._strategies import parse_link_header as parse_link_header

__all__ = [
    "DEFAULT_MAX_EMPTY_PAGES",
    "DEFAULT_MAX_PAGE_SIZE",
    "URL",
    "BodyCursor",
    "Custom",
    "LastItemCursor",
    "LinkHeader",
    "NextUrl",
    "Offset",
    "Page",
    "PageNumber",
    "PaginatedStream",
    "RateLimiter",
    "Reply",
    "Request",
    "Retry",
    "RetryNotice",
    "Strategy",
    "get_path",
    "pages",
    "paginate",
    "parse_link_header",
    "parse_retry_after",
    "rate_limit_wait",
]


def __getattr__(name: str) -> Any:
    if name == "Retrying":
        warnings.warn(
            "sluiceway.http.Retrying is deprecated: use sluiceway.http.RetryNotice "
            "(the same class, shared with sluiceway.sse)",
            DeprecationWarning,
            stacklevel=2,
        )
        return RetryNotice
    raise AttributeError(f"module 'sluiceway.http' has no attribute {name!r}")
