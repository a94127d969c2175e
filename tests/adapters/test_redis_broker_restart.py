"""The broker connection of our Celery app on a Redis that goes away (a Redis of its own).

Celery's consumer, on a lost connection, calls ``collect()`` then ``close()`` on it. With a BRPOP
in flight, an unacknowledged message and a second channel that cannot close (a fanout queue to
delete, like Celery's pidbox), kombu 5.7 raised ``AttributeError: 'NoneType' object has no
attribute 'hostname'`` from that ``close()``, and the worker stopped (see
``imagejobs/broker/redis_close_fix.py``). And the one redis-py client a channel keeps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kombu import Consumer, Exchange, Message, Producer, Queue

from imagejobs.broker.app import make_celery
from imagejobs.settings import load_settings
from tests.own_redis import RedisServer, running_redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


def test_connection_closes_cleanly_after_redis_died_mid_poll(redis_server: RedisServer) -> None:
    app = make_celery(load_settings(broker_url=redis_server.url))
    connection = app.connection_for_read()
    tasks = Queue("t", Exchange("t"), "t")
    with Producer(connection) as producer:
        producer.publish({"job": 1}, exchange=tasks.exchange, routing_key="t", declare=[tasks])
    received: list[Message] = []
    Consumer(connection, [tasks], callbacks=[lambda _body, m: received.append(m)]).consume()
    connection.drain_events(timeout=5)  # delivered, not acknowledged (acks_late)
    fanout = Queue("bcast", Exchange("bcast", type="fanout"), auto_delete=True)
    Consumer(connection.channel(), [fanout], callbacks=[lambda _body, _m: None]).consume()
    with contextlib.suppress(TimeoutError):
        connection.drain_events(timeout=0.2)  # nothing to deliver: a BRPOP stays in flight
    channel = connection.default_channel
    assert received and channel._in_poll

    redis_server.kill()
    connection.collect(socket_timeout=2)  # what Celery's consumer does on a lost connection...
    connection.close()  # ...and then this, which raised AttributeError
    assert channel.closed


def test_a_channel_reuses_one_client_until_its_pool_changes(redis_server: RedisServer) -> None:
    """kombu built a redis-py client per command (``imagejobs/broker/redis_client_reuse.py``);
    one client now serves the channel, from many threads, and a new pool gets a new client."""
    app = make_celery(load_settings(broker_url=redis_server.url))
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        assert channel._create_client(asynchronous=True) is not first  # BRPOP's: kombu's own

        def count(_: int) -> None:
            for _ in range(50):
                with channel.conn_or_acquire() as client:
                    client.incr("shared-client-count")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(count, range(8)))
        assert int(first.get("shared-client-count")) == 400

        channel._pool.disconnect()
        channel._pool = None  # as a channel that reconnects gets
        again = channel._create_client()
        assert again is not first and again.connection_pool is channel.pool
        assert int(again.get("shared-client-count")) == 400
