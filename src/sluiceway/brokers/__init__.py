"""Consumer groups as streams: many workers share one stream, each message at least once.

``redis_stream(client, stream, group=..., consumer=...)`` reads a Redis
Streams consumer group through redis-py's asyncio client
(``pip install 'sluiceway[redis]'``); ``jetstream(js, subject, durable=...)``
a NATS JetStream durable pull consumer through nats-py
(``pip install 'sluiceway[nats]'``); both run on asyncio only. Each item is
a :class:`Delivery`, acknowledged with ``await delivery.ack()`` or, a batch
at a time, ``await sluiceway.brokers.ack(batch)``. ``redis_stream_sink()``
and ``jetstream_sink()`` write messages out, every write confirmed.
Importing this package loads no client library.
"""

from ._delivery import Delivery as Delivery
from ._delivery import ack as ack
from ._jetstream import jetstream as jetstream
from ._jetstream_sink import jetstream_sink as jetstream_sink
from ._redis import redis_stream as redis_stream
from ._redis_sink import redis_stream_sink as redis_stream_sink
from ._stream import DeliveryStream as DeliveryStream

__all__ = [
    "Delivery",
    "DeliveryStream",
    "ack",
    "jetstream",
    "jetstream_sink",
    "redis_stream",
    "redis_stream_sink",
]
