"""The engine's pipeline: a node and the stages fused after it, run once.

A :class:`Pipeline` is what a :class:`sluiceway.Stream` wraps, and what the
operators' nodes hold of the streams they read. It owns the state machine of
one run (new, running, done, taken over), the scope of its background work,
and closing: every node it owns is closed exactly once, however the run
ends. It knows no operator: stages and sinks bring their own code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from ..errors import CloseTimeoutError, StreamConsumedError, StreamNotEnteredError
from ._codegen import Sink, Stage, compile_pipeline, fusable_prefix
from ._lifecycle import Opened, beneath_sources
from ._nodes import Composite, Node
from ._scope import Scope, raise_first
from ._sinks import Batches, Items

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

__all__ = ["Pipeline"]

# States of a pipeline.
_NEW = 0  # built, not started: operators, terminals and iteration may use it
_RUNNING = 1  # being iterated or consumed by a terminal operation
_DONE = 2  # ended or closed: anext raises StopAsyncIteration
_MOVED = 3  # taken over by an operator; closing it closes the taker

_ITEMS = Items()
_BATCHES = Batches()


async def _stop_iteration() -> Any:
    raise StopAsyncIteration


class Pipeline:
    """One run of a node and the sequential stages after it."""

    __slots__ = (
        "aiter_done",
        "compiled",
        "generator",
        "node",
        "own_scope",
        "scope",
        "stages",
        "state",
        "successor",
    )

    node: Node
    stages: tuple[Stage, ...]
    state: int
    #: The iterator the run hands out, once started.
    generator: AsyncIterator[Any] | None
    #: The compiled async generator, unless the run hands out the node's own iterator.
    compiled: AsyncGenerator[Any, None] | None
    aiter_done: bool
    #: The pipeline that took this one over (an operator's): closing this closes it.
    successor: Pipeline | None
    scope: Scope | None
    own_scope: bool

    def __init__(self, node: Node, stages: tuple[Stage, ...] = ()) -> None:
        self.node = node
        self.stages = stages
        self.state = _NEW
        self.generator = None
        self.compiled = None
        self.aiter_done = False
        self.successor = None
        self.scope = None
        self.own_scope = False

    def describe(self) -> str:
        ops = "".join(f" | {type(stage).__name__.lower()}" for stage in self.stages)
        state = ("new", "running", "done", "moved")[self.state]
        return f"<Stream {self.node.describe()}{ops} ({state})>"

    __repr__ = describe

    @property
    def batched(self) -> bool:
        """Whether its node hands out batches (sequences of items)."""
        return self.node.batched

    @property
    def needs_scope(self) -> bool:
        return self.node.needs_scope

    @property
    def wants_scope(self) -> bool:
        """Whether a scope should be opened for it (it needs one, or would use one)."""
        node = self.node
        return node.needs_scope or node.wants_scope

    # -- ownership -------------------------------------------------------

    def check_new(self, what: str) -> None:
        if self.state != _NEW:
            how = {
                _RUNNING: "is already being iterated",
                _DONE: "was already consumed or closed",
                _MOVED: "was handed to an operator; use the stream that operator returned",
            }[self.state]
            raise StreamConsumedError(f"cannot {what}: this Stream {how}")

    def move(self, what: str) -> Pipeline:
        """Hand this pipeline to a new one; this one becomes unusable."""
        self.check_new(what)
        new = Pipeline(self.node, self.stages)
        new.scope = self.scope  # shared: the stream that entered it exits it
        self.state = _MOVED
        self.successor = new
        return new

    def then(self, stage: Stage) -> Pipeline:
        """This pipeline with ``stage`` added at its end."""
        new = self.move(f"apply an operator ({type(stage).__name__.lower()})")
        new.stages = (*new.stages, stage)
        return new

    def around(self, make: Callable[[Pipeline], Node], what: str) -> Pipeline:
        """A new pipeline whose node is built around this whole one."""
        inner = self.move(f"apply an operator ({what})")
        outer = Pipeline(make(inner))
        outer.scope = inner.scope
        self.successor = outer
        return outer

    def take_over(self, inputs: list[Pipeline]) -> None:
        """Make this pipeline the successor of ``inputs`` (already moved into its node).

        Closing any of them closes this one, and it shares the first scope one of them had.
        """
        for pipe in inputs:
            pipe.successor = self
            if self.scope is None:
                self.scope = pipe.scope

    def _fused(self) -> tuple[Node, tuple[Stage, ...]]:
        """The node and stages to compile; a very long chain is cut into segments."""
        node, stages = self.node, self.stages
        while (k := fusable_prefix(stages)) < len(stages):
            node, stages = _Segment([Pipeline(node, stages[:k])]), stages[k:]
        if node is not self.node:
            self.node = node  # closing the outer segment closes the ones inside
        return node, stages

    def start(self, batched: bool, scope: Scope | None, *, raw: bool = False) -> AsyncIterator[Any]:
        """Start the run; items (or lists of items) come out of the returned iterator.

        With ``raw`` (a pull from inside the engine, closed by its owner with
        ``aclose()``), a pipeline without stages hands out its node's own
        iterator: one hop less per item.
        """
        self.check_new("iterate it")
        node, stages = self._fused()
        if scope is None and node.needs_scope:
            raise StreamNotEnteredError(
                "this stream runs background tasks; iterate it inside `async with stream:` "
                "or consume it with a terminal operation such as to_list() or foreach()"
            )
        self.state = _RUNNING
        if not stages and not batched and not node.batched and (raw or node.hands_out_own):
            # The node's own iterator: aclose() leaves it to the node.
            self.generator = node.open(scope)
            return self.generator
        fn, args = compile_pipeline(node.batched, stages, _BATCHES if batched else _ITEMS)
        compiled: AsyncGenerator[Any, None] = fn(Opened(node.open(scope)), node.aclose, *args)
        self.generator = self.compiled = compiled
        return compiled

    def batches(self) -> Pipeline:
        """A new pipeline whose items are the lists this one's engine moves."""
        inner = self.move("take its batches")
        outer = Pipeline(_BatchesOf([inner]))
        self.successor = outer
        return outer

    # -- iteration and lifecycle ----------------------------------------

    def aiter(self) -> AsyncIterator[Any]:
        """``__aiter__`` of the stream: start it (once) and hand out its iterator."""
        if self.aiter_done:
            raise StreamConsumedError("cannot iterate this Stream twice")
        generator = self.generator if self.state == _RUNNING else None
        if generator is None:
            generator = self.start(False, self.scope)
        self.aiter_done = True
        return generator

    def anext(self) -> Awaitable[Any]:
        """``__anext__`` of the stream."""
        generator = self.generator
        if generator is None:
            if self.state == _DONE:
                return _stop_iteration()
            generator = self.start(False, self.scope)  # raises unless new
        return generator.__anext__()

    async def aclose(self) -> None:
        """Close the run and every node it owns; calling it again does nothing."""
        if self.successor is not None:
            await self.successor.aclose()
            return
        if self.state == _DONE:
            return
        self.state = _DONE
        compiled = self.compiled
        try:
            if compiled is not None:
                # Runs the compiled function's own finally, which closes the node (shielded).
                await compiled.aclose()
        finally:
            # For a pipeline that never started, its finally never ran.
            await self.node.aclose()

    async def finish(
        self, leaving: BaseException | None, errors: list[BaseException] | None = None
    ) -> None:
        """Close, end the scope this pipeline opened, and raise what was not delivered.

        With ``leaving`` (the consumer's own exception, already on its way
        out) every failure found here is attached to it as a note instead.
        ``errors``: failures of a close already made, raised first.
        """
        self.node.on_leave(leaving)
        errors = [] if errors is None else errors
        try:
            await self.aclose()
        except Exception as exc:
            errors.append(exc)
        scope = self.scope
        if scope is not None and self.own_scope:
            self.own_scope = False
            await scope.exit()  # waits for the background tasks (shielded)
            errors.extend(scope.undelivered)
            scope.undelivered.clear()
        raise_first(errors, leaving)

    async def enter(self) -> None:
        """``async with``: open the scope for the pipeline's background work, if it has any.

        A purely sequential pipeline opens no task group, so a generator of
        the user's may yield inside ``async with stream:`` safely.
        """
        last = self
        while last.successor is not None:  # operators may already have taken it over
            last = last.successor
        if self.scope is None and last.wants_scope:
            scope = Scope()
            await scope.enter()
            self.scope = scope
            self.own_scope = True
            taker = self.successor
            while taker is not None:
                if taker.scope is None:
                    taker.scope = scope
                taker = taker.successor

    async def run_to(self, sink: Sink, what: str) -> Any:
        """A terminal operation: run the pipeline into ``sink``, close it, return the result."""
        self.check_new(what)
        node, stages = self._fused()
        if self.scope is None and (node.needs_scope or node.wants_scope):
            await self.enter()
        self.state = _RUNNING
        fn, args = compile_pipeline(node.batched, stages, sink)
        failure: BaseException | None = None
        errors: list[BaseException] = []
        # The sources run in this task, above this scope, and are closed inside it:
        # closing them shields it instead of entering a scope above a cancel scope
        # a source holds across its yield (see close_within). No code of the
        # caller's runs inside.
        with anyio.CancelScope() as beneath, beneath_sources(beneath):
            try:
                result = await fn(Opened(node.open(self.scope)), *args)
            except BaseException as exc:
                failure = exc
            node.on_leave(failure)
            try:
                await self.aclose()
            except Exception as exc:
                errors.append(exc)
        if beneath.cancel_called and isinstance(failure, anyio.get_cancelled_exc_class()):
            # Cut short by the grace period of a close made before the end (warned).
            failure = CloseTimeoutError(
                f"sluiceway: could not {what}: a source closed before its end did not "
                "finish closing within the grace period"
            )
        await self.finish(failure, errors)
        if failure is not None:
            raise failure
        return result  # pyright: ignore[reportPossiblyUnboundVariable]  # set unless failure


class _Segment(Composite):
    """The first part of a chain too long to fuse in one piece, as a node."""

    __slots__ = ("batched",)

    def __init__(self, inputs: list[Pipeline]) -> None:
        super().__init__(inputs)
        self.batched = inputs[0].batched

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return self._inputs[0].start(self.batched, scope)

    def describe(self) -> str:
        return self._inputs[0].node.describe()


class _BatchesOf(Composite):
    """The lists a pipeline's engine moves, as the items of a new pipeline."""

    __slots__ = ()

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return self._inputs[0].start(True, scope)

    def describe(self) -> str:
        return f"{self._inputs[0]!r}.batches()"
