"""sluiceway against hand-written async generators, sync loops and the peer libraries.

Every workload runs the same computation through several implementations in
one process: a plain sync for-loop (calling the same functions, and with the
arithmetic inlined), hand-written async generators, sluiceway, aiostream,
asyncstdlib and aioitertools. Each entry is timed with ``time.perf_counter``
around one complete run (building its source included), after a
``gc.collect()``; runs are interleaved (run 1 of every entry, then run 2, ...)
so machine noise spreads evenly, and the median is reported.

How to read the ratios: ``x async`` is an entry's median over the median of
the workload's hand-written async baseline (1.00): for the pipelines an async
generator, the cost of plain async iteration that a library can at best
match, or beat by doing less per item (fusing stages, moving batches); for
merge4 an ``asyncio.Queue`` + ``TaskGroup`` merge; for amap_conc and
prefetch_overlap a sequential ``await`` loop. prefetch_overlap is paced by
sleeps and reports seconds per run instead of ns/item. ``x sync`` is the same over the
sync for-loop that calls the same functions: how far from "just a for-loop"
an entry is. Absolute ns/item move with the machine (run-to-run noise of 1.5x
or more on small shared VMs); compare ratios within one run.

The Server-Sent Events workloads (``sse_decoder`` and ``sse_http``) compare
sluiceway.sse with httpx-sse on generated streams: the decoders alone, and end
to end from a loopback server through httpx and aiohttp (with
aiohttp-sse-client2 too). They report ns/event, events/s and the speedup over
httpx-sse (1.00), and say whether the project's acceptance targets are met.

Every entry's result is checked against the expected value, so a broken entry
stops the run instead of reporting a fast wrong answer. A peer that is not
installed is skipped and shown as n/a.

Usage::

    python benchmarks/run.py [--runs 5] [--n 300000] [--loop asyncio|uvloop] [--quick]
        [--workload NAME] [--sse-server process|thread]

Writes ``benchmarks/results.md`` and ``benchmarks/results.png`` (``--quick``
writes them to a temporary directory unless ``--out-dir`` is given).

This file only gathers the workloads, one module per family, in the order of
the tables; ``harness.py`` times them and ``report.py`` writes the results.
Adding a workload: write its entries as ``async def run(n: int) -> object``
functions in its family's module and add a :class:`harness.Workload` to that
module's ``WORKLOADS``.
"""

from __future__ import annotations

import brokers_bench
import concurrency_bench
import db_bench
import harness
import pages_bench
import pipelines_bench
import sse_bench
import sse_decoder_bench

#: Import names of the peer libraries, in the order of the results' header line.
PEERS = (
    "aiostream",
    "asyncstdlib",
    "aioitertools",
    "httpx",
    "httpx_sse",
    "aiohttp",
    "aiohttp_sse_client2",
    "redis",
    "nats",
)

WORKLOADS: dict[str, harness.Workload] = {
    **pipelines_bench.WORKLOADS,  # pipe_async_for, pipe_batched_reduce, amap_seq, batch100
    **concurrency_bench.WORKLOADS,  # merge4, amap_conc, prefetch_overlap
    **sse_decoder_bench.WORKLOADS,  # sse_decoder:<stream>:<chunking>
    **sse_bench.WORKLOADS,  # sse_http:<stream>:<chunking>
    **pages_bench.WORKLOADS,  # pages
    **db_bench.WORKLOADS,  # db:asyncpg, db:psycopg, db:aiosqlite
    **brokers_bench.WORKLOADS,  # broker:redis, broker:jetstream
}


def main(argv: list[str] | None = None) -> None:
    parser = harness.argument_parser(WORKLOADS, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sse-server",
        choices=("process", "thread"),
        default="process",
        help="where sse_http's loopback server runs (default: a process of its own)",
    )
    args = harness.parse_args(parser, argv)
    sse_bench.server_mode = args.sse_server
    harness.run(WORKLOADS, args, PEERS)


if __name__ == "__main__":
    main()
