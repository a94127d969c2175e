"""The Celery application: JSON only, job ids only, at-least-once delivery.

``acks_late`` + ``reject_on_worker_lost`` + prefetch 1 mean a message is acknowledged only after
its task ran, and a crashed worker's message is delivered again; the job lease in Postgres makes
that second delivery harmless.

Nothing here is built at import: the API, the CLI and the worker each build their app from the
settings they read at start (:class:`imagejobs.broker.queue.JobQueue` for sending, the worker's
start-up for consuming), so every one of them talks to the broker with the same options.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from imagejobs.broker import redis_client_reuse, redis_close_fix
from imagejobs.broker.names import QUEUE
from imagejobs.broker.sent_event_name import ShadowNamedAMQP
from imagejobs.settings import Settings


def make_celery(settings: Settings, include: Sequence[str] = ()) -> Celery:
    """A Celery app for the settings' broker; ``include`` names the task modules (workers)."""
    app = Celery(
        "imagejobs",
        broker=settings.effective_broker_url,
        include=list(include),
        amqp=ShadowNamedAMQP,
    )
    transport_options: dict[str, object] = {}
    if settings.effective_broker_url.startswith(("redis://", "rediss://")):
        redis_close_fix.install()  # a Redis restart must not stop a worker (see the module)
        redis_client_reuse.install()  # one redis-py client per channel, not one per command
        # Longer than any job may run, so Redis does not hand a running job's message out again.
        transport_options["visibility_timeout"] = int(max(settings.lease_s * 2, 3600))
        # Job priority 0..9 maps onto Redis priority lists (0 is served first).
        transport_options["queue_order_strategy"] = "priority"
        transport_options["priority_steps"] = list(range(10))
        transport_options["sep"] = ":"
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # ride through a broker outage of any length
        worker_hijack_root_logger=False,
        worker_send_task_events=True,  # Flower shows tasks live
        task_send_sent_event=True,
        enable_utc=True,
    )
    return app
