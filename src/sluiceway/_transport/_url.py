"""URL: an absolute URL as a string, with the query helpers pagination needs; no HTTP client.

The strategies, the paginator's positions and the error messages all work on
:class:`URL`, whichever client sends the requests. It is a ``str`` (the text
the request goes to), so it compares, hashes and serializes as one. The
query helpers change only the parameters they name: every other part of the
query stays as it was written, in its order and its encoding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urljoin, urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["URL", "QueryParams", "query_pairs", "url_text"]

#: Query parameters as given by a caller: a mapping or (name, value) pairs.
QueryParams = Any

_DEFAULT_PORTS = {"http": 80, "https": 443}


def query_pairs(params: QueryParams) -> list[tuple[str, str]]:
    """``params`` (a mapping, possibly of lists, or pairs) as (name, text) pairs, in order."""
    if not params:
        return []
    items: Iterable[Any] = params.items() if hasattr(params, "items") else params
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        values = cast("Iterable[object]", value) if isinstance(value, list | tuple) else [value]
        pairs.extend((str(name), _text(v)) for v in values)
    return pairs


def url_text(value: object, where: str) -> str:
    """A URL given as a string, an ``httpx.URL`` or a ``yarl.URL``, as text; else TypeError."""
    if isinstance(value, str):
        return value
    if type(value).__name__ == "URL" and type(value).__module__.partition(".")[0] in (
        "httpx",
        "yarl",
    ):
        return str(value)
    raise TypeError(f"{where} expects a URL string, got {type(value).__name__}")


def _text(value: object) -> str:
    """A parameter value as sent: booleans as JSON writes them, None as empty."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def _encode(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{quote_plus(name)}={quote_plus(value)}" for name, value in pairs)


def _name(segment: str) -> str:
    """The decoded name of one ``name=value`` segment of a query."""
    return unquote_plus(segment.partition("=")[0])


class URL(str):
    """An absolute (or, before joining, relative) URL, kept as written.

    ``copy_set_param``, ``copy_merge_params`` and ``copy_add_missing``
    return new URLs; ``urljoin`` resolves a link against this one.
    """

    __slots__ = ()

    @property
    def scheme(self) -> str:
        return urlsplit(self).scheme.lower()

    @property
    def host(self) -> str:
        return (urlsplit(self).hostname or "").lower()

    @property
    def port(self) -> int | None:
        """The port, or the scheme's default one (None if neither is known)."""
        try:
            port = urlsplit(self).port
        except ValueError:
            return None
        return port if port is not None else _DEFAULT_PORTS.get(self.scheme)

    @property
    def origin(self) -> tuple[str, str, int | None]:
        """(scheme, host, port): what the cross-origin check compares."""
        return (self.scheme, self.host, self.port)

    @property
    def is_absolute(self) -> bool:
        parts = urlsplit(self)
        return bool(parts.scheme and parts.netloc)

    @property
    def path(self) -> str:
        return urlsplit(self).path

    @property
    def query(self) -> str:
        """The raw query string, without ``?``."""
        return urlsplit(self).query

    @property
    def params(self) -> dict[str, str]:
        """The query's parameters, decoded: the first value of each name."""
        found: dict[str, str] = {}
        for name, value in self.query_pairs():
            found.setdefault(name, value)
        return found

    def query_pairs(self) -> list[tuple[str, str]]:
        """Every (name, value) of the query, decoded, in order."""
        return parse_qsl(self.query, keep_blank_values=True)

    def urljoin(self, target: str) -> URL:
        """``target`` (a link on the page at this URL) made absolute against it.

        (Not ``join``: a URL is a ``str``, whose ``join`` keeps its meaning.)
        """
        return URL(urljoin(self, target))

    def _with_query(self, query: str) -> URL:
        head, mark, rest = self.partition("#")
        fragment = mark + rest
        base = head.partition("?")[0]
        return URL(f"{base}?{query}{fragment}" if query else base + fragment)

    def _segments(self) -> list[str]:
        return [s for s in self.query.split("&") if s]

    def copy_set_param(self, name: str, value: object) -> URL:
        """This URL with ``name`` set to ``value``: its first place kept, other values dropped."""
        return self.copy_merge_params([(name, value)])

    def copy_merge_params(self, params: QueryParams) -> URL:
        """This URL with ``params`` in its query: a name given replaces every value of it.

        A replaced parameter takes the place of its first old value; new names
        come after the query, which otherwise stays as written.
        """
        given = query_pairs(params)
        if not given:
            return self
        by_name: dict[str, list[tuple[str, str]]] = {}
        for name, value in given:
            by_name.setdefault(name, []).append((name, value))
        out: list[str] = []
        for segment in self._segments():
            name = _name(segment)
            if name not in by_name:
                out.append(segment)
            elif by_name[name]:
                out.append(_encode(by_name[name]))
                by_name[name] = []  # its later old values are dropped
        out.extend(_encode(pairs) for pairs in by_name.values() if pairs)
        return self._with_query("&".join(out))

    def copy_add_missing(self, params: QueryParams) -> URL:
        """This URL with each of ``params`` whose name its query lacks (all values of that name)."""
        own = {_name(segment) for segment in self._segments()}
        extra = [(name, value) for name, value in query_pairs(params) if name not in own]
        if not extra:
            return self
        query = self.query
        return self._with_query(f"{query}&{_encode(extra)}" if query else _encode(extra))

    def __repr__(self) -> str:
        return f"URL({str.__repr__(self)})"
