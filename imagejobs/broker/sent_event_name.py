"""The ``task-sent`` event names a message as it is shown everywhere else (its shadow name).

Celery puts the task's registered name (``imagejobs.run_job``) in the ``task-sent`` event even
when the message is sent with a ``shadow`` name (``imagejobs.run_job caption``), which the worker's
own events carry. Flower merges a task's events by time, and a ``task-sent`` event that reaches it
after the task finished (the sender's event connection is slower than the worker's; it happens
under load) overwrites the name the worker reported. Naming the sent event like the message keeps
a job's kind in Flower whatever order its events arrive in.
"""

from __future__ import annotations

from typing import Any

from celery.app.amqp import AMQP


class ShadowNamedAMQP(AMQP):
    """Celery's message builder, with ``task-sent`` events named by the message's shadow."""

    def as_task_v2(self, task_id: str, name: str, *args: Any, **options: Any) -> Any:
        message = super().as_task_v2(task_id, name, *args, **options)
        shadow = message.headers.get("shadow")  # Celery passes it by position or by name
        if shadow and message.sent_event is not None:
            message.sent_event["name"] = shadow
        return message
