"""repr(stream) shows the pipeline: its source, its stages, the operators around it, its state."""

from __future__ import annotations

import copy
import pickle
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.lowlevel
import pytest

import sluiceway as sw
from sluiceway._core._nothing import NOTHING


async def agen() -> AsyncIterator[int]:
    for i in range(3):
        await anyio.lowlevel.checkpoint()
        yield i


class TestRepr:
    @pytest.mark.parametrize(
        ("build", "expected"),
        [
            (
                lambda: sw.stream([1, 2]).map(str).filter(bool),
                "<Stream [1, 2] | map | filter (new)>",
            ),
            (lambda: sw.from_batches([[1]]), "<Stream from_batches([[1]]) (new)>"),
            (lambda: sw.stream(range(3)).take(2), "<Stream range(0, 3) | take (new)>"),
            (
                lambda: sw.merge([1], [2]),
                "<Stream merge(<Stream [1] (new)>, <Stream [2] (new)>, buffer=64) (new)>",
            ),
            (
                lambda: sw.zip([1], [2]),
                "<Stream zip(<Stream [1] (new)>, <Stream [2] (new)>) (new)>",
            ),
            (
                lambda: sw.concat([1], [2]),
                "<Stream concat(<Stream [1] (new)>, <Stream [2] (new)>) (new)>",
            ),
            (lambda: sw.stream([1]).prefetch(2), "<Stream <Stream [1] (new)> | prefetch(2) (new)>"),
            (
                lambda: sw.stream([1]).timeout(2.5),
                "<Stream <Stream [1] (new)> | timeout(2.5) (new)>",
            ),
            (
                lambda: sw.stream([1]).batch(2, timeout=1),
                "<Stream <Stream [1] (new)> | batch(2, timeout=1) (new)>",
            ),
            (
                lambda: sw.stream([1]).map(str, concurrency=2),
                "<Stream <Stream [1] (new)> | map(concurrency=2) (new)>",
            ),
            (lambda: sw.stream([1]).tee(2)[1], "<Stream <Stream [1] (new)> | tee child 1 (new)>"),
            (lambda: sw.stream([1]).batches(), "<Stream <Stream [1] (new)>.batches() (new)>"),
        ],
        ids=[
            "stages",
            "from_batches",
            "range",
            "merge",
            "zip",
            "concat",
            "prefetch",
            "timeout",
            "timed_batch",
            "concurrent_map",
            "tee",
            "batches",
        ],
    )
    def test_names_the_source_and_each_operator(
        self, build: Callable[[], sw.Stream[Any]], expected: str
    ) -> None:
        """Each operator appears with its arguments, around what it reads."""
        assert repr(build()) == expected

    def test_a_stream_taken_over_says_moved(self) -> None:
        """The stream an operator took over shows that it was moved."""
        s = sw.stream([1])
        s.map(str)
        assert repr(s) == "<Stream [1] (moved)>"

    async def test_running_and_done(self) -> None:
        """A stream being iterated says running; one closed says done."""
        s = sw.stream(agen()).map(str)
        async with s:
            assert await anext(s) == "0"
            assert repr(s).endswith("| map (running)>")
        assert repr(s).endswith("| map (done)>")

    async def test_a_chain_cut_into_segments(self) -> None:
        """A chain too long for one function is cut into segments; its repr names the source."""
        s = sw.stream(agen())
        for _ in range(100):
            s = s.filter(bool).map(lambda x: x)
        async with s:
            assert await anext(s) == 1
            assert repr(s).startswith("<Stream <async_generator object agen")
            assert repr(s).endswith("(running)>")

    def test_a_node_is_not_iterated_directly(self) -> None:
        """A node is the source of a Stream; iterating it directly says to wrap it."""
        node = sw.stream([1])._pipe.node
        with pytest.raises(TypeError, match=r"iterate a sluiceway.Stream over \[1\]"):
            aiter(node)
        assert not node.closed


class TestNothing:
    def test_one_object_even_copied_or_pickled(self) -> None:
        """The marker for 'no value' stays itself through copy and pickle, and says what it is."""
        assert copy.copy(NOTHING) is NOTHING
        assert copy.deepcopy(NOTHING) is NOTHING
        assert pickle.loads(pickle.dumps(NOTHING)) is NOTHING
        assert repr(NOTHING) == "<nothing>"
