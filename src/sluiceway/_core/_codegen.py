"""Fusion: a chain of sequential stages compiled into one function.

A pipeline ``source -> stage 0 -> ... -> stage n-1 -> sink`` runs as a single
async function whose body is the loops and statements a person would write by
hand: ``map`` becomes ``x = f(x)``, ``filter`` an ``if``, ``flat_map`` an inner
``for``, ``take`` a counter, and the sink a ``yield`` (``async for``) or an
accumulator (a terminal operation). Every item costs one loop iteration, not
one coroutine hop per operator, and a batch source costs one ``await`` per
batch. The text depends only on the *shape* of the pipeline (which operators,
sync or async, which sink); the user's functions and numbers are parameters, so
each shape is compiled once per process and cached.

The compiler knows no operator: each stage writes its own statements through
:class:`CodeWriter` and names the objects its code uses (:meth:`Stage.names`).

How stages end the stream early: a stage that is done (``take``,
``take_while``, ``first()``) raises a private ``BaseException`` subclass. Each
stage that holds items (``batch(size)``) opens a *level*: a ``try`` around
everything upstream of it that catches the stops raised upstream, after which
the stage flushes what it holds downstream (:meth:`Stage.flush`); stops raised
downstream of every holding stage end the run. Stops are
``BaseException``s so that the ``except Exception`` handlers that deliver a
partial batch before an upstream error never see them, and they never pass
through user code.
"""

from __future__ import annotations

import linecache
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ._lifecycle import Opened
from ._nothing import NOTHING

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Hashable

__all__ = ["CodeWriter", "Sink", "Stage", "compile_pipeline", "fusable_prefix"]


class Stage:
    """One sequential step that the compiler can fuse with its neighbours."""

    __slots__ = ()

    #: Whether this stage holds items back (``batch``) and so opens a level.
    holds_items: bool = False
    #: Indentation levels this stage wraps the rest of the chain in.
    nesting: int = 0
    #: How many copies of the rest of the chain this stage's code contains.
    copies: int = 1

    def shape(self) -> Hashable:
        """What decides the generated text (operator, sync or async, options)."""
        raise NotImplementedError

    def params(self) -> dict[str, object]:
        """Values the generated code reads, by short name (``f``, ``n``, ...)."""
        return {}

    def names(self) -> dict[str, object]:
        """Objects the generated code refers to by name (helpers, not parameters)."""
        return {}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        """Write this stage's statements for the item in ``x``, then ``rest()``."""
        raise NotImplementedError

    def flush(self, g: CodeWriter, k: int, rest: Callable[[], None], before_error: bool) -> None:
        """A holding stage: hand what it holds downstream as ``x`` through ``rest()``.

        Written once for the end of the stage's level and, with
        ``before_error``, once inside the handler that runs before an upstream
        error propagates (where ``rest()`` ignores downstream stops).
        """
        raise NotImplementedError


class Sink:
    """Where the items leaving the last stage go."""

    __slots__ = ()

    #: An async generator (``yield``) rather than a coroutine (``return``).
    is_generator: bool = False
    #: Whether ``on_error`` has statements (items to hand over before an error).
    flushes_on_error: bool = False

    def shape(self) -> Hashable:
        raise NotImplementedError

    def params(self) -> dict[str, object]:
        return {}

    def names(self) -> dict[str, object]:
        """Objects the generated code refers to by name."""
        return {}

    def init(self, g: CodeWriter) -> None:
        """Statements before the loop."""

    def item(self, g: CodeWriter) -> None:
        """Statements that take the item in ``x``."""
        raise NotImplementedError

    def whole_batch(self, g: CodeWriter) -> bool:
        """Statements that take a whole batch ``_b`` at once; False if unsupported."""
        return False

    def unit_done(self, g: CodeWriter) -> None:
        """Statements after each item or batch pulled from the source."""

    def on_error(self, g: CodeWriter) -> None:
        """Statements run before an ``Exception`` from upstream propagates."""

    def finish(self, g: CodeWriter) -> None:
        """Statements after the loop (the result, or the last flush)."""


class CodeWriter:
    """A small code writer with per-stage names."""

    def __init__(self, n_levels: int) -> None:
        self.lines: list[str] = []
        # dicts as ordered sets: flush paths emit a stage's code more than once
        self.inits: dict[str, None] = {}
        self.pre: dict[str, None] = {}
        self.args: list[str] = []
        self.depth = 1
        self.n_levels = n_levels
        #: Index of the stop class a stage at position k raises (set by the compiler).
        self.stop_level: list[int] = []

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextmanager
    def block(self, header: str) -> Generator[None, None, None]:
        self.line(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    @staticmethod
    def call(is_async: bool, fn: str, *args: str) -> str:
        """The expression that calls ``fn`` and, for an async function, awaits it."""
        return f"{'await ' if is_async else ''}{fn}({', '.join(args)})"

    def init(self, text: str) -> None:
        """A statement at the top of the function (state set-up)."""
        self.inits[text] = None

    def check(self, text: str) -> None:
        """A statement inside every level, before the loop (may raise a stop)."""
        self.pre[text] = None

    def stop(self, k: int) -> str:
        """The name of the stop class that stage k raises to end its level."""
        return f"_Stop{self.stop_level[k]}"

    def stop_all(self) -> str:
        """The name of the stop class that ends the whole run (a sink that is done)."""
        return f"_Stop{self.n_levels - 1}"


#: Stop classes are BaseExceptions so ``except Exception`` never catches them.
class _Stop(BaseException):
    pass


def _stop_classes(n: int) -> dict[str, type[BaseException]]:
    return {f"_Stop{i}": type(f"_Stop{i}", (_Stop,), {}) for i in range(n)}


# One generated function stays well inside CPython's limits (100 indentation
# levels, 20 nested blocks) and grows linearly with the number of stages.
_MAX_NESTING = 40
_MAX_COPIES = 16


def fusable_prefix(stages: tuple[Stage, ...]) -> int:
    """How many leading stages fit in one generated function (at least one)."""
    nesting = copies = 1
    for k, stage in enumerate(stages):
        nesting += stage.nesting
        copies *= stage.copies
        if k and (nesting > _MAX_NESTING or copies > _MAX_COPIES):
            return k
    return len(stages)


_cache: dict[Hashable, Callable[..., Any]] = {}
_counter = 0


def compile_pipeline(
    batched: bool, stages: tuple[Stage, ...], sink: Sink
) -> tuple[Callable[..., Any], tuple[object, ...]]:
    """Return the compiled function for this pipeline and the arguments to call it with.

    The function is called as ``fn(source, *args)`` (a coroutine function) or,
    for a generator sink, ``fn(source, close, *args)`` (an async generator
    function that awaits ``close()`` however it ends). ``source`` is an async
    iterable of items (``batched=False``) or of item sequences.
    """
    key = (batched, tuple(s.shape() for s in stages), sink.shape())
    args: list[object] = []
    for stage in stages:
        args.extend(stage.params().values())
    args.extend(sink.params().values())
    fn = _cache.get(key)
    if fn is None:
        fn = _build(batched, stages, sink)
        _cache[key] = fn
    return fn, tuple(args)


def _build(batched: bool, stages: tuple[Stage, ...], sink: Sink) -> Callable[..., Any]:
    global _counter
    holders = [k for k, s in enumerate(stages) if s.holds_items]
    # Level i belongs to the i-th holding stage; the last level is the whole run.
    n_levels = len(holders) + 1
    g = CodeWriter(n_levels)
    for k in range(len(stages)):
        g.stop_level.append(next((i for i, h in enumerate(holders) if h > k), len(holders)))

    for k, stage in enumerate(stages):
        g.args.extend(f"{name}{k}" for name in stage.params())
    g.args.extend(f"_{name}" for name in sink.params())

    def chain(k: int) -> Callable[[], None]:
        def rest() -> None:
            if k == len(stages):
                sink.item(g)
            else:
                stages[k].emit(g, k, chain(k + 1))

        return rest

    def loop() -> None:
        # The stages' checks go here, but are only known once they are emitted.
        mark, indent = len(g.lines), "    " * g.depth
        if batched:
            with g.block("async for _b in _src:"):
                # Without stages a sink may take the batch whole (extend, len).
                if stages or not sink.whole_batch(g):
                    with g.block("for x in _b:"):
                        chain(0)()
                sink.unit_done(g)
        else:
            with g.block("async for x in _src:"):
                chain(0)()
                sink.unit_done(g)
        g.lines[mark:mark] = [indent + text for text in g.pre]

    def level(i: int) -> None:
        """Level i wraps levels 0..i-1; a holding stage flushes after them."""
        if i < 0:
            loop()
            return
        with g.block("try:"):
            level(i - 1)
        with g.block(f"except _Stop{i}:"):
            g.line("pass")
        if i == len(holders):
            if sink.flushes_on_error:
                with g.block("except Exception:"):
                    sink.on_error(g)
                    g.line("raise")
            return
        k = holders[i]

        def guarded() -> None:
            # A downstream stop (take, first) met by this last flush does not
            # hide the error: the error happened and is raised.
            with g.block("try:"):
                chain(k + 1)()
            with g.block("except _Stop:"):
                g.line("pass")

        with g.block("except Exception:"):
            stages[k].flush(g, k, guarded, before_error=True)
            g.line("raise")
        stages[k].flush(g, k, chain(k + 1), before_error=False)

    sink.init(g)
    level(len(holders))
    sink.finish(g)

    params = ["_src", *(["_close"] if sink.is_generator else []), *g.args]
    body = ["    " + text for text in g.inits]
    if sink.is_generator:
        # The consumer may stop at any yield; the sources close on every way out.
        body += ["    try:", *("    " + text for text in g.lines)]
        body += ["    finally:", "        await _close()"]
    else:
        body += g.lines
    source = "\n".join([f"async def _run({', '.join(params)}):", *body]) + "\n"

    _counter += 1
    filename = f"<sluiceway pipeline {_counter}>"
    namespace: dict[str, Any] = {"NOTHING": NOTHING, "_Opened": Opened, "_Stop": _Stop}
    for stage in stages:
        namespace.update(stage.names())
    namespace.update(sink.names())
    namespace.update(_stop_classes(n_levels))
    exec(compile(source, filename, "exec"), namespace)
    # Keep the text so tracebacks through the pipeline show real lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    fn: Callable[..., Any] = namespace["_run"]
    fn.__qualname__ = fn.__name__ = "pipeline"
    return fn
