"""A job's message is named by its kind in every event Flower reads, also the ``task-sent``
event the sender publishes (real Redis broker, Celery's own event receiver and task state).

The worker's events name a task by its shadow (``imagejobs.run_job caption``); Celery's
``task-sent`` named it ``imagejobs.run_job``, and Flower took that name whenever the sent
event reached it after the task had finished (seen in the full test run, under load).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from celery.events.state import State

from imagejobs.broker.app import make_celery
from imagejobs.broker.queue import JobQueue
from imagejobs.settings import load_settings


def sent_events(redis_url: str, send: Any) -> list[dict[str, Any]]:
    """The ``task-sent`` events published on the broker while ``send()`` runs."""
    app = make_celery(load_settings(broker_url=redis_url))
    events: list[dict[str, Any]] = []
    with app.connection_for_read() as connection:
        receiver = app.events.Receiver(
            connection, handlers={"task-sent": events.append}, node_id="sent-event-test"
        )

        thread = threading.Thread(target=receiver.capture, kwargs={"timeout": 10}, daemon=True)
        thread.start()
        time.sleep(0.5)  # the receiver's queue is bound: Redis events are a fan-out
        send()
        deadline = time.monotonic() + 10
        while not events and time.monotonic() < deadline:
            time.sleep(0.05)
        receiver.should_stop = True
        thread.join(timeout=5)
    return events


def test_the_sent_event_names_the_jobs_kind_and_a_late_one_keeps_it(redis_url: str) -> None:
    queue = JobQueue(load_settings(broker_url=redis_url))
    try:
        events = sent_events(redis_url, lambda: queue.enqueue_job("job-1", kind="caption"))
    finally:
        queue.close()
    assert len(events) == 1, events
    sent = events[0]
    assert sent["name"] == "imagejobs.run_job caption"
    assert "job-1" in sent["kwargs"]

    # Flower's task state, the worker's events first and the sender's last (the order seen).
    state = State()
    now = time.time()
    worker = {"uuid": sent["uuid"], "hostname": "w@h", "clock": 1, "timestamp": now}
    worker["local_received"] = now
    state.event({**worker, "type": "task-received", "name": "imagejobs.run_job caption"})
    state.event({**worker, "type": "task-succeeded", "result": "'succeeded'", "runtime": 0.1})
    state.event({**sent, "local_received": time.time()})
    task = state.tasks[sent["uuid"]]
    assert task.state == "SUCCESS" and task.name == "imagejobs.run_job caption"
