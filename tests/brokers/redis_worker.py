"""A worker process of the crash test: consumes a Redis stream and logs what it handled.

Usage: python redis_worker.py URL STREAM CONSUMER LOG MAX_IN_FLIGHT CLAIM_IDLE

Each delivery is handled by writing ``n attempt consumer time`` to LOG (flushed),
and acknowledged with its batch of up to 20, after the batch is written. It
runs until it is killed or terminated.
"""

from __future__ import annotations

import sys
import time

import anyio

from sluiceway.brokers import ack, redis_stream


async def main(url: str, stream: str, consumer: str, log: str, in_flight: int, idle: float) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    deliveries = redis_stream(
        client,
        stream,
        group="g",
        consumer=consumer,
        max_in_flight=in_flight,
        claim_idle=idle,
        block=0.2,
    )
    with open(log, "a", encoding="utf-8") as out:  # noqa: ASYNC230  # a local file, flushed per line
        async with deliveries.batch(20, timeout=0.05) as batches:
            async for batch in batches:
                for delivery in batch:
                    out.write(
                        f"{delivery.value['n']} {delivery.attempt} {consumer} {time.time()}\n"
                    )
                    out.flush()
                    await anyio.sleep(0.0002)  # some work, so that a kill lands mid-batch
                await ack(batch)


if __name__ == "__main__":
    url, stream, consumer, log, in_flight, idle = sys.argv[1:7]
    anyio.run(main, url, stream, consumer, log, int(in_flight), float(idle))
