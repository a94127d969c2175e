"""Messages waiting on the broker's imagejobs queue, for the queue-depth metric.

On Redis a queue with priorities is one list per priority step (``imagejobs``, ``imagejobs:1`` …
``imagejobs:9``, as :func:`imagejobs.broker.app.make_celery` sets them up); their lengths add
up to the messages not yet taken by a worker. Messages a worker already took (running, or held
for a countdown) are not in them. The embedded SQLite broker cannot be asked: unknown.
"""

from __future__ import annotations

import redis

from imagejobs.broker.names import QUEUE

PRIORITY_STEPS = range(10)  # make_celery's priority_steps
SEP = ":"  # make_celery's sep
QUEUE_LISTS = tuple(f"{QUEUE}{SEP}{step}" if step else QUEUE for step in PRIORITY_STEPS)


class BrokerDepth:
    """Asks a Redis broker how many messages wait on the imagejobs queue."""

    def __init__(self, url: str, *, timeout_s: float = 2.0) -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    @classmethod
    def for_broker(cls, url: str) -> BrokerDepth | None:
        """A reader for a Redis broker; None where the broker cannot tell (embedded SQLite)."""
        return cls(url) if url.startswith(("redis://", "rediss://")) else None

    def messages(self) -> int:
        """Messages waiting now; raises redis' error if the broker cannot be asked."""
        pipe = self.client.pipeline(transaction=False)
        for name in QUEUE_LISTS:
            pipe.llen(name)
        return sum(int(length) for length in pipe.execute())

    def close(self) -> None:
        self.client.close()
