"""What travels on the broker: task names and the queue. Messages carry ids only (JSON)."""

from __future__ import annotations

RUN_JOB = "imagejobs.run_job"
SUBMIT_JOB = "imagejobs.submit_job"
DELIVER_WEBHOOK = "imagejobs.deliver_webhook"
NOOP = "imagejobs.noop"  # does nothing: a baseline for benchmarks and a liveness probe
QUEUE = "imagejobs"


def run_job_name(kind: str | None) -> str | None:
    """How a job's message is named in Flower and the logs: ``imagejobs.run_job detect``.

    Celery's ``shadow`` name; the job id is in the message's kwargs (``job_id=``). The job id
    is left out of the name so task names stay few (Flower groups and counts tasks by name).
    """
    return f"{RUN_JOB} {kind}" if kind else None
