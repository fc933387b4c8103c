"""The benchmark harness: workloads and entries, timed runs, the command line.

A :class:`Workload` is one computation through several implementations, each
an :class:`Entry` whose ``run(n)`` is an ``async def`` returning a result that
is checked against the workload's expected value. :func:`bench` times every
entry with ``time.perf_counter`` around one complete run (building its source
included), after a ``gc.collect()``, draining the event loop of the tasks the
entry left behind; runs are interleaved (run 1 of every entry, then run 2, ...)
so machine noise spreads evenly, and :class:`Measurement` reports the median.
Before timing, every entry runs once on a small input, so a broken entry fails
in seconds. A peer that is not installed is skipped and shown as n/a, and so
is an entry whose ``probe`` gives a reason (a feature the installed sluiceway lacks).

:func:`argument_parser`, :func:`parse_args` and :func:`run` are the command
line shared by every workload (``--runs``, ``--n``, ``--loop``, ``--quick``,
``--workload``, ``--out-dir``); ``report.py`` renders the tables, results.md
and the chart. ``run.py`` gathers the workloads and hands them over.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import importlib.util
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import anyio

import report
import sluiceway as sw

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

HERE = Path(__file__).resolve().parent

# -- the registry ---------------------------------------------------------------------

Kind = Literal["sync", "baseline", "reference", "sluiceway", "peer"]
Unit = Literal["ns/item", "s", "ns/event"]


@dataclass(frozen=True)
class Entry:
    """One implementation of a workload."""

    name: str
    run: Callable[[int], Awaitable[object]]
    kind: Kind
    #: The import name of the peer library this entry needs, if any.
    requires: str | None = None
    #: The entry runs ``n // divisor`` items (for entries too slow for the full n).
    divisor: int = 1
    #: The entry's own expected result, when it computes less than the workload's.
    expected: Callable[[int], object] | None = None
    #: Compare with this entry instead of the workload's baseline (same work on both sides).
    versus: str | None = None
    #: For what an import cannot tell (a feature of the installed sluiceway): awaited once
    #: after the workloads' ``prepare``, it returns why the entry cannot run, or None.
    probe: Callable[[], Awaitable[str | None]] | None = None

    @property
    def api(self) -> str:
        """What the entry calls: the first line of its function's docstring."""
        doc = self.run.__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


@dataclass(frozen=True)
class Workload:
    """The same computation through several implementations."""

    title: str
    expected: Callable[[int], object]
    entries: tuple[Entry, ...]
    #: Name of the baseline entry (ratio 1.00): a hand-written loop or generator, or a peer.
    baseline: str
    #: Name of the sync for-loop that calls the same functions, if the workload has one.
    sync_baseline: str | None = None
    #: Items per run regardless of ``--n`` (sleep-paced workloads, the SSE streams' events).
    fixed_n: int | None = None
    #: Items per run in ``--quick`` for a ``fixed_n`` workload (default ``QUICK_FIXED_N``).
    quick_n: int | None = None
    #: Items of the result check before timing (default: 3 when sleep-paced, else 2,000).
    check_n: int | None = None
    #: What the table reports: ns per item, seconds per run (sleep-paced workloads), or
    #: ns per event with events/s and the speedup over the baseline (the SSE workloads).
    unit: Unit = "ns/item"
    #: ``--workload`` also selects a workload by its group (e.g. all of ``sse_http``).
    group: str | None = None
    #: Called with the items of a run before any check or timing (not timed): builds
    #: inputs, starts servers, checks what can be checked once.
    prepare: Callable[[int], Awaitable[None]] | None = None
    #: Called once after the last run (closes clients, stops servers).
    cleanup: Callable[[], Awaitable[None]] | None = None
    #: A line under the title, from the items of a run (what the input was).
    detail: Callable[[int], str] | None = None
    #: At most this many timed runs, whatever ``--runs`` says (for heavy workloads).
    max_runs: int | None = None
    #: An acceptance target: (entry, least speedup over the baseline).
    target: tuple[str, float] | None = None
    #: More targets: (entry, the entry it is compared with (None: the baseline), least speedup).
    targets: tuple[tuple[str, str | None, float], ...] = ()
    #: If set, the targets are reported under this heading, one a line, as
    #: "entry / versus: ratio (target >= least, met or not met)".
    targets_label: str | None = None
    #: What the ratio columns call the baseline.
    baseline_label: str = "async baseline"

    def items(self, n: int, entry: Entry, *, quick: bool = False) -> int:
        """How many items ``entry`` runs when the command line asks for ``n``.

        A ``fixed_n`` workload runs its ``fixed_n`` items, or fewer in a
        ``--quick`` smoke run (a sleep-paced one's seconds are then not the real figure).
        """
        if self.fixed_n is not None:
            if quick:
                return min(self.fixed_n, self.quick_n or QUICK_FIXED_N)
            return self.fixed_n
        return max(n // entry.divisor, 1)

    def check_items(self, items: int) -> int:
        """A small input for the result check before timing (a few items when sleep-paced)."""
        if self.check_n is not None:
            return min(items, self.check_n)
        return min(items, 3 if self.unit == "s" else 2_000)

    def runs(self, runs: int) -> int:
        return min(runs, self.max_runs) if self.max_runs else runs

    def expected_for(self, entry: Entry, n: int) -> object:
        return (entry.expected or self.expected)(n)


#: Items of a sleep-paced (``fixed_n``) workload in a ``--quick`` run.
QUICK_FIXED_N = 5


def sync(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    """A plain sync for-loop calling the same functions (the "x sync" column's 1.00)."""
    return Entry(name, run, "sync")


def base(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    """The workload's hand-written baseline (ratio 1.00)."""
    return Entry(name, run, "baseline")


def ref(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    """A hand-written reference point that is not the baseline (e.g. a sequential chain)."""
    return Entry(name, run, "reference")


def ours(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    return Entry(name, run, "sluiceway")


def peer(name: str, run: Callable[[int], Awaitable[object]], divisor: int = 1) -> Entry:
    """An entry that needs the peer library named by the first word of ``name``."""
    return Entry(name, run, "peer", requires=name.split()[0], divisor=divisor)


# -- running --------------------------------------------------------------------------


class Unavailable(Exception):
    """A workload's ``prepare`` cannot get what it needs (a database); its entries are skipped."""


class WrongResult(AssertionError):
    """An entry computed something other than the expected value."""


@dataclass
class Measurement:
    entry: Entry
    n: int
    seconds: list[float] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ns_per_item(self) -> float | None:
        if not self.seconds:
            return None
        return statistics.median(self.seconds) / self.n * 1e9

    def value(self, unit: Unit) -> float | None:
        """The median in ``unit``: ns per item, or seconds per run."""
        if unit != "s":
            return self.ns_per_item
        return statistics.median(self.seconds) if self.seconds else None


@dataclass
class Environment:
    python: str
    loop: str
    n: int
    runs: int
    date: str
    versions: dict[str, str | None]
    sluiceway: str


#: Distributions whose import name differs.
DISTRIBUTIONS = {"nats": "nats-py"}


def peer_versions(peers: Iterable[str]) -> dict[str, str | None]:
    """Each peer's version, or None when it cannot be imported."""
    found: dict[str, str | None] = {}
    for name in peers:
        try:
            importlib.import_module(name)
        except ImportError:
            found[name] = None
            print(f"note: {name} is not installed; its entries are skipped (n/a)", file=sys.stderr)
            continue
        try:
            found[name] = version(DISTRIBUTIONS.get(name, name))
        except PackageNotFoundError:
            found[name] = "?"
    return found


def sluiceway_version() -> str:
    described = sw.__version__
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        described += f" (git {sha}{', src/ modified' if dirty else ''})"
    return described


#: At most this many loop iterations to drain; a peer that never settles stops counting here.
_DRAIN_LIMIT = 10_000


async def drain() -> None:
    """Let the event loop finish the work an entry left behind.

    An async generator abandoned without ``aclose()`` (aioitertools' ``islice``
    leaves one per chunk) is finalized by asyncio in a new task on a later
    loop iteration. Without this, those tasks run inside whichever later entry
    first yields to the loop (sluiceway checkpoints between batches of a sync
    source) and are charged to it.
    """
    current = asyncio.current_task()
    for i in range(_DRAIN_LIMIT):
        await asyncio.sleep(0)
        if i >= 2 and all(t is current for t in asyncio.all_tasks()):
            return


async def run_once(workload: Workload, m: Measurement) -> float:
    """One timed, checked run of one entry.

    The time includes draining the loop of the tasks the entry scheduled (cleanup
    of abandoned async generators), so that work is charged to the entry that
    caused it; the ``gc.collect()`` before and after is not timed.
    """
    gc.collect()
    await drain()
    start = time.perf_counter()
    result = await m.entry.run(m.n)
    await drain()
    elapsed = time.perf_counter() - start
    gc.collect()
    await drain()
    expected = workload.expected_for(m.entry, m.n)
    if result != expected:
        raise WrongResult(f"{m.entry.name} computed {result!r} for n={m.n}, expected {expected!r}")
    return elapsed


async def bench(
    workloads: dict[str, Workload],
    n: int,
    runs: int,
    versions: dict[str, str | None],
    quick: bool = False,
) -> tuple[dict[str, list[Measurement]], str]:
    """Run every entry ``runs`` times, interleaved; returns measurements and the loop's name."""
    loop = type(asyncio.get_running_loop())
    loop_name = f"{loop.__module__}.{loop.__qualname__}"
    table: dict[str, list[Measurement]] = {}
    for key, workload in workloads.items():
        row: list[Measurement] = []
        for entry in workload.entries:
            m = Measurement(entry, workload.items(n, entry, quick=quick))
            if entry.requires is not None and versions.get(entry.requires) is None:
                m.skipped = f"{entry.requires} not installed"
            row.append(m)
        table[key] = row

    cleanups = list({id(w.cleanup): w.cleanup for w in workloads.values() if w.cleanup}.values())
    try:
        # Inputs that take building (the SSE streams, the server) are made before timing.
        for key, workload in workloads.items():
            if workload.prepare is not None and any(m.skipped is None for m in table[key]):
                print(f"preparing {key}...", file=sys.stderr)
                sizes = {m.n for m in table[key]} | {workload.check_items(m.n) for m in table[key]}
                try:
                    for size in sorted(sizes):
                        await workload.prepare(size)
                except Unavailable as exc:  # a database that is not there
                    print(f"note: {key} skipped: {exc}", file=sys.stderr)
                    for m in table[key]:
                        m.skipped = m.skipped or str(exc)

        # Probed after prepare, which may start what the probe talks to; one probe
        # shared by several workloads runs once.
        probed: dict[object, str | None] = {}
        for measurements in table.values():
            for m in measurements:
                probe = m.entry.probe
                if probe is None or m.skipped is not None:
                    continue
                if probe not in probed:
                    probed[probe] = await probe()
                    if probed[probe]:
                        print(f"note: {m.entry.name} skipped: {probed[probe]}", file=sys.stderr)
                m.skipped = probed[probe]

        # Check every entry on a small input first (this also compiles sluiceway's
        # pipelines), so a wrong entry fails in seconds rather than after minutes.
        print("checking results on a small input...", file=sys.stderr)
        for key, workload in workloads.items():
            for m in table[key]:
                if m.skipped is None:
                    await run_once(workload, Measurement(m.entry, workload.check_items(m.n)))

        for run in range(1, runs + 1):
            started = time.perf_counter()
            for key, workload in workloads.items():
                if run > workload.runs(runs):
                    continue  # a heavy workload that has had its runs
                for m in table[key]:
                    if m.skipped is None:
                        m.seconds.append(await run_once(workload, m))
            took = time.perf_counter() - started
            print(f"run {run}/{runs} done in {took:.1f} s", file=sys.stderr)
    finally:
        for cleanup in cleanups:
            await cleanup()
    return table, loop_name


# -- command line ---------------------------------------------------------------------


def argument_parser(
    workloads: dict[str, Workload], description: str | None = None
) -> argparse.ArgumentParser:
    """The options every run has; a caller adds its workloads' own before :func:`parse_args`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=None, help="timed runs per entry (default 5)")
    parser.add_argument("--n", type=int, default=None, help="items per run (default 300000)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--quick", action="store_true", help="smoke run: N=20000, 1 run")
    names = sorted(workloads.keys() | {w.group for w in workloads.values() if w.group})
    parser.add_argument(
        "--workload",
        action="append",
        choices=names,
        metavar="NAME",
        help="run only this workload or group of workloads (repeatable): " + ", ".join(names),
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="where results.md and results.png go (default benchmarks/; --quick: a temp dir)",
    )
    return parser


def parse_args(
    parser: argparse.ArgumentParser, argv: list[str] | None = None
) -> argparse.Namespace:
    """Parse ``argv`` and fill in the defaults that depend on ``--quick``."""
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 5
    if args.n is None:
        args.n = 20_000 if args.quick else 300_000
    if args.runs < 1 or args.n < 1:
        parser.error("--runs and --n must be at least 1")
    if args.out_dir is None:
        args.out_dir = Path(tempfile.mkdtemp(prefix="sluiceway-bench-")) if args.quick else HERE
    return args


def run(workloads: dict[str, Workload], args: argparse.Namespace, peers: Iterable[str]) -> None:
    """Run the workloads ``--workload`` chose, print the tables, write results.md and .png.

    Args:
        workloads: every workload, by name, in the order of the tables.
        args: from :func:`parse_args`.
        peers: import names of the peer libraries, for the header and the skip notes.
    """
    chosen = args.workload
    workloads = {
        k: w for k, w in workloads.items() if not chosen or k in chosen or w.group in chosen
    }
    versions = peer_versions(peers)
    backend_options: dict[str, object] = {}
    if args.loop == "uvloop":
        try:
            importlib.import_module("uvloop")
        except ImportError:
            sys.exit("--loop uvloop needs uvloop: pip install uvloop")
        backend_options["use_uvloop"] = True
    print(
        f"N={args.n:,}, {args.runs} run(s), loop {args.loop}, {len(workloads)} workload(s)",
        file=sys.stderr,
    )
    table, loop_name = anyio.run(
        bench,
        workloads,
        args.n,
        args.runs,
        versions,
        args.quick,
        backend="asyncio",
        backend_options=backend_options,
    )
    loop = args.loop + (f" {version('uvloop')}" if args.loop == "uvloop" else "")
    env = Environment(
        python=platform.python_version(),
        loop=f"{loop} ({loop_name})",
        n=args.n,
        runs=args.runs,
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=versions,
        sluiceway=sluiceway_version(),
    )
    report.print_tables(workloads, table, env)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    md_path = args.out_dir / "results.md"
    md_path.write_text(report.markdown(workloads, table, env), encoding="utf-8")
    png_path = args.out_dir / "results.png"
    # The chart is the one part that needs matplotlib: without it the tables and
    # results.md are still worth having, so a run does not end in a traceback.
    if importlib.util.find_spec("matplotlib") is None:
        print(f"\nwrote {md_path}; no chart: matplotlib is not installed", file=sys.stderr)
        return
    report.chart(workloads, table, env, png_path)
    print(f"\nwrote {md_path} and {png_path}", file=sys.stderr)
