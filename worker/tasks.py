"""Celery tasks: thin wrappers that load, call and let the runner decide on retries."""

from __future__ import annotations

import logging
import os

from celery.signals import worker_ready
from sqlalchemy.exc import InterfaceError, OperationalError

from imagejobs.settings import get_settings
from worker.celery_app import DELIVER_WEBHOOK, NOOP, RUN_JOB, app
from worker.deliveries import send_delivery
from worker.runner import JobFailed, run_job
from worker.runtime import get_runtime
from worker.sweeper import Sweeper

# A database that is briefly unreachable (restart, too many clients) must not lose the message:
# the task is sent again with backoff until the job can be claimed.
RETRY_WHILE_DB_UNAVAILABLE = {
    "ignore_result": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": None,
}


@app.task(name=RUN_JOB, throws=(JobFailed,), **RETRY_WHILE_DB_UNAVAILABLE)
def run_job_task(job_id: str) -> str:
    """Run one job. Messages carry ``job_id=`` (older clients: the id as the only argument).

    A job that failed ends the task in FAILURE with ``JobFailed("<code>: <message>")``, raised
    after the failure is stored: Flower then counts it as failed. It is an expected error
    (``throws``): logged without a traceback, never retried, and its message is acknowledged.
    """
    ended = run_job(job_id)
    if ended.error is not None:
        raise JobFailed(*ended.error)
    return ended.status


@worker_ready.connect
def _on_worker_ready(sender: object = None, **_: object) -> None:
    """Build the runtime now, so a wrong setting stops the worker at start, then start sweeping."""
    for name in ("httpx", "httpx2", "httpcore"):  # one INFO line per Gemini request is noise
        logging.getLogger(name).setLevel(logging.WARNING)
    get_runtime()
    settings = get_settings()
    Sweeper(settings).start()
    if settings.ready_dir is not None:
        settings.ready_dir.mkdir(parents=True, exist_ok=True)
        node = str(getattr(sender, "hostname", None) or os.getpid())
        (settings.ready_dir / node).write_text(str(os.getpid()))


@app.task(name=DELIVER_WEBHOOK, **RETRY_WHILE_DB_UNAVAILABLE)
def deliver_webhook_task(delivery_id: str) -> str:
    return send_delivery(delivery_id)


@app.task(name=NOOP, ignore_result=True)
def noop_task() -> None:
    """Nothing: the broker and worker overhead alone, for benchmarks."""


import worker.interop  # noqa: E402, F401  (the imagejobs.submit_job interop task)
