"""One Redis client object per kombu channel, instead of a new one for every command.

kombu's Redis channel builds a ``redis.Redis`` for each operation that has no client at hand
(``Channel.conn_or_acquire``: acknowledging a message, recording it as unacknowledged,
publishing each task event), and redis-py fills a dict of some 200 reply callbacks in every
client it builds. On a busy worker that was the largest single cost of Celery's consumer
thread, the one thread that hands messages to the pool (``bench/perf.py``, issue 12).

The client built here is the same kombu would build, on the channel's own connection pool; it is
kept while the channel keeps that pool (a channel that reconnects builds a new pool, and so a new
client). A redis-py client may be shared between threads: every command takes a connection
from the pool for itself. The asynchronous client (BRPOP, the fan-out subscriber) is left as
kombu makes it.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis

from imagejobs.broker.kombu_patch import Method, wrap_once

_PATCHED = "_imagejobs_reuses_its_client"
_CACHE = "_imagejobs_client"


def install() -> None:
    """Wrap ``kombu.transport.redis.Channel._create_client`` (once per process)."""
    wrap_once(kombu_redis.Channel, "_create_client", _PATCHED, _reusing_its_client)


def _reusing_its_client(original: Method) -> Method:
    def _create_client(self: Any, asynchronous: bool = False) -> Any:
        if asynchronous:
            return original(self, asynchronous=True)
        pool = self.pool
        cached = self.__dict__.get(_CACHE)
        if cached is not None and cached[0] is pool:
            return cached[1]
        client = original(self, asynchronous=False)
        self.__dict__[_CACHE] = (pool, client)
        return client

    return _create_client
