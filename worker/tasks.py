"""Celery tasks: thin wrappers that load, call and let the runner decide on retries."""

from __future__ import annotations

from celery.signals import worker_ready

from imagejobs.settings import get_settings
from worker.celery_app import DELIVER_WEBHOOK, NOOP, RUN_JOB, app
from worker.deliveries import send_delivery
from worker.runner import run_job
from worker.runtime import get_runtime
from worker.sweeper import Sweeper


@app.task(name=RUN_JOB, ignore_result=True)
def run_job_task(job_id: str) -> str:
    return run_job(job_id)


@worker_ready.connect
def _on_worker_ready(**_: object) -> None:
    """Build the runtime now, so a wrong setting stops the worker at start, then start sweeping."""
    get_runtime()
    Sweeper(get_settings()).start()


@app.task(name=DELIVER_WEBHOOK, ignore_result=True)
def deliver_webhook_task(delivery_id: str) -> str:
    return send_delivery(delivery_id)


@app.task(name=NOOP, ignore_result=True)
def noop_task() -> None:
    """Nothing: the broker and worker overhead alone, for benchmarks."""


import worker.interop  # noqa: E402, F401  (the imagejobs.submit_job interop task)
