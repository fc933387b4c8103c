"""Consumer groups as streams: many workers share one stream, each message at least once.

``redis_stream(client, stream, group=..., consumer=...)`` reads a Redis
Streams consumer group through redis-py's asyncio client
(``pip install 'sluiceway[redis]'``, asyncio only); each item is a
:class:`Delivery`, acknowledged with ``await delivery.ack()`` or, a batch at
a time, ``await sluiceway.brokers.ack(batch)``. ``redis_stream_sink(messages,
client, stream)`` writes messages out, every write confirmed. Importing this
package loads no client library.
"""

from ._delivery import Delivery as Delivery
from ._delivery import ack as ack
from ._redis import redis_stream as redis_stream
from ._redis_sink import redis_stream_sink as redis_stream_sink

__all__ = ["Delivery", "ack", "redis_stream", "redis_stream_sink"]
