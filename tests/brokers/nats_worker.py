"""A worker process of the JetStream crash test: consumes a subject and logs what it handled.

Usage: python nats_worker.py URL SUBJECT CONSUMER LOG MAX_IN_FLIGHT ACK_WAIT

Each delivery is handled by writing ``n attempt consumer time`` to LOG (flushed),
and acknowledged with its batch of up to 20, after the batch is written. All
workers share the durable consumer ``d``. It runs until killed or terminated.
"""

from __future__ import annotations

import sys
import time

import anyio

from sluiceway.brokers import ack, jetstream


async def main(
    url: str, subject: str, consumer: str, log: str, in_flight: int, ack_wait: float
) -> None:
    import nats

    nc = await nats.connect(url)
    deliveries = jetstream(
        nc.jetstream(),
        subject,
        durable="d",
        max_in_flight=in_flight,
        ack_wait=ack_wait,
        fetch_timeout=0.2,
    )
    with open(log, "a", encoding="utf-8") as out:  # noqa: ASYNC230  # a local file, flushed per line
        async with deliveries.batch(20, timeout=0.05) as batches:
            async for batch in batches:
                for delivery in batch:
                    n = int(delivery.value)
                    out.write(f"{n} {delivery.attempt} {consumer} {time.time()}\n")
                    out.flush()
                    await anyio.sleep(0.0002)  # some work, so that a kill lands mid-batch
                await ack(batch)


if __name__ == "__main__":
    url, subject, consumer, log, in_flight, ack_wait = sys.argv[1:7]
    anyio.run(main, url, subject, consumer, log, int(in_flight), float(ack_wait))
