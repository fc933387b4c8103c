"""Types infer through chains. Type-checked by mypy --strict and pyright strict, never run."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator
from typing import Any, TypeGuard, assert_type

import sluiceway as sw


async def numbers() -> AsyncIterator[int]:
    yield 1


async def fetch(n: int) -> str:
    return str(n)


async def is_even(n: int) -> bool:
    return n % 2 == 0


def words(n: int) -> list[str]:
    return [str(n)] * n


async def letters(s: str) -> AsyncIterator[str]:
    yield s


def is_str(x: int | str) -> TypeGuard[str]:
    return isinstance(x, str)


def is_truthy(x: int | str) -> bool:
    return bool(x)


async def sources() -> None:
    assert_type(sw.stream(numbers()), sw.Stream[int])
    assert_type(sw.stream([1, 2]), sw.Stream[int])
    assert_type(sw.stream(range(3)), sw.Stream[int])
    assert_type(sw.from_batches([[1, 2], [3]]), sw.Stream[int])
    assert_type(sw.borrow(numbers()), sw.Stream[int])


async def transforms() -> None:
    s = sw.stream(numbers())
    assert_type(s.map(str), sw.Stream[str])
    assert_type(sw.stream(numbers()).map(fetch), sw.Stream[str])
    assert_type(sw.stream(numbers()).map(lambda x: x * 1.5), sw.Stream[float])
    assert_type(sw.stream(numbers()).filter(is_even), sw.Stream[int])
    assert_type(sw.stream(numbers()).filter(lambda x: x > 1), sw.Stream[int])
    assert_type(sw.stream(numbers()).flat_map(words), sw.Stream[str])
    assert_type(sw.stream(["a"]).flat_map(letters), sw.Stream[str])
    assert_type(sw.stream([[1, 2], [3]]).flatten(), sw.Stream[int])
    assert_type(sw.stream(numbers()).scan(operator.add, 0), sw.Stream[int])
    assert_type(sw.stream(numbers()).scan(lambda acc, x: [*acc, x], [0]), sw.Stream[list[int]])
    assert_type(sw.stream(numbers()).scan(operator.add), sw.Stream[int])
    assert_type(sw.stream(numbers()).enumerate(), sw.Stream[tuple[int, int]])
    assert_type(sw.stream(numbers()).distinct(), sw.Stream[int])
    assert_type(sw.stream(numbers()).distinct(key=str), sw.Stream[int])


async def slicing_and_batches() -> None:
    assert_type(sw.stream(numbers()).take(3), sw.Stream[int])
    assert_type(sw.stream(numbers()).skip(3), sw.Stream[int])
    assert_type(sw.stream(numbers()).take_while(lambda x: x < 3), sw.Stream[int])
    assert_type(sw.stream(numbers()).drop_while(is_even), sw.Stream[int])
    assert_type(sw.stream(numbers()).batch(10), sw.Stream[list[int]])
    assert_type(sw.stream(numbers()).batches(), sw.Stream[list[int]])
    assert_type(sw.stream(numbers()).map(fetch).batch(2), sw.Stream[list[str]])


async def combining() -> None:
    assert_type(sw.zip(numbers(), ["a"]), sw.Stream[tuple[int, str]])
    assert_type(sw.zip(numbers(), ["a"], [1.0]), sw.Stream[tuple[int, str, float]])
    assert_type(sw.zip(numbers(), [b""], [1.0], [1], [2], [3]), sw.Stream[tuple[Any, ...]])
    assert_type(sw.concat(numbers(), [2, 3]), sw.Stream[int])
    assert_type(sw.stream(numbers()).chain(["a"]), sw.Stream[int | str])


async def terminals() -> None:
    assert_type(await sw.stream(numbers()).to_list(), list[int])
    assert_type(await sw.stream(numbers()).map(fetch).first(), str)
    assert_type(await sw.stream(numbers()).last(), int)
    assert_type(await sw.stream(numbers()).count(), int)
    assert_type(await sw.stream(numbers()).reduce(operator.add, 0), int)
    assert_type(await sw.stream(numbers()).reduce(lambda acc, x: acc + str(x), ""), str)
    assert_type(await sw.stream(numbers()).reduce(max), int)
    assert_type(await sw.stream(numbers()).foreach(print), None)


async def iteration() -> None:
    async with sw.stream(numbers()).map(fetch) as s:
        assert_type(s, sw.Stream[str])
        async for item in s:
            assert_type(item, str)
    assert_type(await anext(sw.stream(numbers())), int)


async def typeguards() -> None:
    mixed: list[int | str] = [1, "a"]
    assert_type(sw.stream(mixed).filter(is_str), sw.Stream[str])
    assert_type(sw.stream(mixed).filter(is_truthy), sw.Stream[int | str])


async def concurrency() -> None:
    assert_type(sw.merge(numbers(), ["a"]), sw.Stream[int | str])
    assert_type(sw.merge(numbers(), numbers(), buffer=0), sw.Stream[int])
    assert_type(sw.stream(numbers()).map(fetch, concurrency=8), sw.Stream[str])
    assert_type(sw.stream(numbers()).map(fetch, concurrency=8, ordered=False), sw.Stream[str])
    assert_type(sw.stream(numbers()).prefetch(4), sw.Stream[int])
    assert_type(sw.stream(numbers()).batch(10, timeout=0.5), sw.Stream[list[int]])
    assert_type(sw.stream(numbers()).throttle(10, per=1.0), sw.Stream[int])
    assert_type(sw.stream(numbers()).timeout(2.0), sw.Stream[int])
    assert_type(sw.stream(numbers()).tee(2), tuple[sw.Stream[int], ...])
    assert_type(await sw.stream(numbers()).foreach(fetch, concurrency=4), None)
    with sw.grace_period(1.0):
        pass


async def pagination() -> None:
    import httpx

    from sluiceway.http import (
        URL,
        LinkHeader,
        Page,
        PaginatedStream,
        Reply,
        Request,
        pages,
        paginate,
    )

    def follow(reply: Reply) -> Request | None:
        assert_type(reply.url, URL)
        assert_type(reply.url.copy_set_param("page", 2), URL)
        return None if reply.status != 200 else Request(reply.url.urljoin("?page=2"))

    async with httpx.AsyncClient() as client:
        items = paginate(client, "https://api.example.com/x", strategy=LinkHeader())
        assert_type(items, PaginatedStream[Any])
        assert_type(items.position, dict[str, Any])
        assert_type(items.pages(), PaginatedStream[Page])
        assert_type(paginate(None, "https://x", strategy=follow).map(str), sw.Stream[str])
        whole = pages(client, "https://api.example.com/x", strategy=LinkHeader())
        async for page in whole:
            assert_type(page, Page)
            assert_type(page.items, list[Any])
            assert_type(page.response, Reply)
