"""A fix for kombu's Redis channel, so a Redis restart cannot stop a worker.

The fault (kombu 5.7, redis-py 8.1, celery 5.7): when the consumer loses its Redis connection,
Celery calls ``connection.collect()`` and then ``connection.close()``. kombu's Redis
``Channel.close`` first reads the reply of a BRPOP still in flight (``_brpop_read``, so a
message Redis already popped is not lost), and only then marks the channel closed. While Redis
is still down that read raises ``ConnectionError``, so ``close`` stops half way: the channel
stays open, yet ``collect()`` goes on and clears the transport's ``client``. The
``connection.close()`` that follows closes that same (default) channel again; having dropped its
connection pool, the channel builds a new one to give back its unacknowledged messages, reads
the host from the cleared ``client`` and raises ``AttributeError: 'NoneType' object has no
attribute 'hostname'``. That is no connection error, so Celery does not reconnect: the worker
logs ``Unrecoverable error`` and stops.

The fix reads the pending BRPOP reply as kombu does, but a connection error there (the reply
went down with the connection) no longer interrupts ``close``: the channel is closed in one go,
while the transport still knows its server. Unacknowledged messages Redis still holds come back
through its visibility timeout, and the sweeper re-sends jobs whose messages Redis lost.
"""

from __future__ import annotations

from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis

from imagejobs.broker.kombu_patch import Method, wrap_once

_PATCHED = "_imagejobs_close_survives_lost_connection"


def install() -> None:
    """Wrap ``kombu.transport.redis.Channel.close`` (once per process)."""
    wrap_once(kombu_redis.Channel, "close", _PATCHED, _surviving_lost_connection)


def _surviving_lost_connection(original: Method) -> Method:
    def close(self: Any) -> None:
        if self._in_poll:
            try:
                self._brpop_read()  # delivers a message the pending BRPOP popped, as kombu does
            except Empty:
                pass
            except self.connection_errors:
                pass  # the reply is gone with the connection; close the rest without it
        original(self)

    return close
