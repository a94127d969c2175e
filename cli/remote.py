"""``submit``, ``show`` and ``watch`` through a remote imagejobs API (``--api URL --key KEY``).

Their failures (an API that is down, a 4xx answer, a wait that timed out) are printed as one
line by the root command (:mod:`cli.errors`).
"""

from __future__ import annotations

import sys
from itertools import islice
from pathlib import Path
from typing import Any

from rich.console import Console

from api.client import ImageJobsClient
from cli.errors import require_file
from cli.tables import print_final, print_job
from imagejobs.core.jobspec import fields_from_flags

console = Console()
err = Console(stderr=True)


def remote_submit(
    images: list[str],
    *,
    task: str,
    api: str,
    key: str,
    prompt: str | None = None,
    question: str | None = None,
    labels: str | None = None,
    model: str | None = None,
    webhook_url: str | None = None,
    fallback_models: list[str] | None = None,
    cache: bool = True,
    on_budget: str | None = None,
    idempotency_key: str | None = None,
    wait: bool = False,
    as_json: bool = False,
) -> None:
    """Submit a job to a remote API; prints its id (or, with ``wait``, its result)."""
    fields = fields_from_flags(
        task,
        prompt=prompt,
        question=question,
        labels=labels,
        model=model,
        webhook_url=webhook_url,
        fallback_models=fallback_models,
        cache=cache,
        on_budget=on_budget,
    )
    sources: list[str | Path] = [
        s if s.startswith(("http://", "https://")) else Path(s) for s in images
    ]
    for source in sources:
        if isinstance(source, Path):
            require_file(source)
    with ImageJobsClient(api, key) as client:
        job = client.submit(sources, task=task, idempotency_key=idempotency_key, **fields)
        if wait:
            job = client.wait(job["id"])
    if not wait:
        sys.stdout.write(job["id"] + "\n")
        return
    print_final(console, job, as_json)


def remote_show(job_id: str, *, api: str, key: str, as_json: bool = False) -> None:
    """Show a job from a remote API."""
    with ImageJobsClient(api, key) as client:
        job = client.get(job_id)
    print_job(console, job, as_json)


def remote_watch(
    job_id: str, *, api: str, key: str, timeout: float = 3600.0, as_json: bool = False
) -> None:
    """Follow a job on a remote API until it is final, printing each status change."""
    seen: list[str] = []

    def progress(job: dict[str, Any]) -> None:
        state = job["status"] + (f" (attempt {job['attempts']})" if job["attempts"] > 1 else "")
        if not seen or seen[-1] != state:
            seen.append(state)
            err.print(f"job {job['id']}: {state}")

    with ImageJobsClient(api, key) as client:
        job = client.wait(job_id, timeout=timeout, progress=progress)
    print_final(console, job, as_json)


def remote_list(
    *, api: str, key: str, status: str | None, task: str | None, limit: int
) -> list[dict[str, Any]]:
    """The key's producer's jobs through the API, newest first."""
    filters = {name: value for name, value in (("status", status), ("task", task)) if value}
    with ImageJobsClient(api, key) as client:  # the API pages by at most 100
        return list(islice(client.list(page_size=min(limit, 100), **filters), limit))
