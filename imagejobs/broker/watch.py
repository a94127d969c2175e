"""Noticing a broker that lost its messages (Redis restarted without persistence, flushed, or
failed over to an empty replica), so the sweeper sends every queued job again at once."""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)


class BrokerWatch:
    """Notices that the broker's Redis lost its data, with a marker key in the broker's database.

    The key is named after the server's ``run_id`` (new at every Redis start): it is missing
    after a restart, a flush or a failover to an empty replica. It is set again only after the
    queued jobs were marked for sending, so a sweep that fails half way is done again. A missing
    key at the first look (a new broker, or one wiped while no worker ran) counts too: sending
    again costs duplicates only, which the job claim makes harmless.
    """

    KEY = "_imagejobs.broker_marker:{run_id}"

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.key: str | None = None

    @classmethod
    def for_broker(cls, url: str) -> BrokerWatch | None:
        """A watch for a Redis broker; None for brokers without one (the embedded SQLite)."""
        return cls(url) if url.startswith(("redis://", "rediss://")) else None

    def lost_messages(self) -> bool | None:
        """True if the broker lost its data since the marker was set; None if it cannot be
        asked now (the sends will fail too, and the next sweep asks again)."""
        try:
            try:
                run_id = str(self.client.info("server").get("run_id", ""))
            except redis.ResponseError:  # INFO refused (a proxy): the key alone tells a flush
                run_id = ""
            self.key = self.KEY.format(run_id=run_id)
            return not self.client.exists(self.key)
        except redis.RedisError as exc:
            log.warning("sweeper: cannot ask the broker whether it kept its messages (%r)", exc)
            return None

    def remember(self) -> None:
        """Set the marker: the jobs the broker lost are marked for sending."""
        if self.key is not None:
            self.client.set(self.key, "1")

    def close(self) -> None:
        self.client.close()
