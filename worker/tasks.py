"""Celery tasks: thin wrappers that load, call and let the runner decide on retries.

The tasks are shared tasks: the worker's start-up (:mod:`worker.main`) builds the Celery app and
binds the process's runtime before the first message is taken.
"""

from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.signals import worker_ready
from sqlalchemy.exc import InterfaceError, OperationalError

from imagejobs.broker.names import DELIVER_WEBHOOK, NOOP, RUN_JOB
from imagejobs.execution.deliveries import send_delivery
from imagejobs.execution.runner import JobFailed, run_job
from imagejobs.execution.sweeper import Sweeper
from imagejobs.runtime import Runtime

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

_runtime: Runtime | None = None


def bind(runtime: Runtime) -> None:
    """The runtime every task of this process uses (set once by the worker's start-up)."""
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no runtime bound: start workers with `imagejobs worker`")
    return _runtime


@shared_task(name=RUN_JOB, throws=(JobFailed,), **RETRY_WHILE_DB_UNAVAILABLE)
def run_job_task(job_id: str) -> str:
    """Run one job. Messages carry ``job_id=`` (older clients: the id as the only argument).

    A job that failed ends the task in FAILURE with ``JobFailed("<code>: <message>")``, raised
    after the failure is stored: Flower then counts it as failed. It is an expected error
    (``throws``): logged without a traceback, never retried, and its message is acknowledged.
    """
    ended = run_job(runtime(), job_id)
    if ended.error is not None:
        raise JobFailed(*ended.error)
    if ended.job_id is not None and ended.job_id != job_id:  # fair shares picked another job
        return f"{ended.status}: ran job {ended.job_id}"
    return ended.status


@shared_task(name=DELIVER_WEBHOOK, **RETRY_WHILE_DB_UNAVAILABLE)
def deliver_webhook_task(delivery_id: str) -> str:
    return send_delivery(runtime(), delivery_id)


@shared_task(name=NOOP, ignore_result=True)
def noop_task() -> None:
    """Nothing: the broker and worker overhead alone, for benchmarks."""


@worker_ready.connect
def _on_worker_ready(sender: object = None, **_: object) -> None:
    """Start sweeping once the worker consumes, and say so in the ready folder if one is set."""
    for name in ("httpx", "httpx2", "httpcore"):  # one INFO line per Gemini request is noise
        logging.getLogger(name).setLevel(logging.WARNING)
    current = runtime()
    Sweeper(current).start()
    ready_dir = current.settings.ready_dir
    if ready_dir is not None:
        ready_dir.mkdir(parents=True, exist_ok=True)
        node = str(getattr(sender, "hostname", None) or os.getpid())
        (ready_dir / node).write_text(str(os.getpid()))
