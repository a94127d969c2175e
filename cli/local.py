"""The commands that work on this deployment's database and blob store: ``migrate``, ``submit``,
``show``, ``watch`` and ``overlay``. Given ``--api`` (or ``IMAGEJOBS_API_URL``), ``submit``,
``show`` and ``watch`` go through that API instead (:mod:`cli.remote`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cli.errors import CliError, require_file, safe_url
from cli.invocation import invocation
from cli.remote import remote_list, remote_show, remote_submit, remote_watch
from cli.tables import print_final, print_job, print_jobs
from imagejobs.core.imageinfo import ImageRejected, check_upload
from imagejobs.core.jobspec import JOB_STATUSES, TASKS, JobSpec, fields_from_flags, job_error
from imagejobs.core.times import iso
from imagejobs.results.overlay_image import render_overlay
from imagejobs.results.view import job_view
from imagejobs.runtime import Runtime
from imagejobs.store.job_lookup import JobFilter, list_jobs
from imagejobs.store.jobs import get_job
from imagejobs.store.migrate import migrate as run_migrations
from imagejobs.store.models import FINAL_STATUSES
from imagejobs.submission import ImageInput, SubmissionRefused, submit_job

console = Console()
err = Console(stderr=True)

RemoteApi = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="IMAGEJOBS_API_URL",
        help="Use a remote imagejobs API (e.g. http://host:8000)",
    ),
]
RemoteKey = Annotated[
    str | None,
    typer.Option("--key", envvar="IMAGEJOBS_API_KEY", help="API key for --api", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the job as JSON")]


def migrate(ctx: typer.Context) -> None:
    """Create or upgrade the database schema (Alembic)."""
    url = invocation(ctx).settings.effective_database_url
    run_migrations(url)
    console.print(f"database is at the latest schema ({safe_url(url)})")


def submit(
    ctx: typer.Context,
    images: Annotated[
        list[str], typer.Argument(help="Image files (PNG, JPEG, WEBP, HEIC, HEIF); URLs with --api")
    ],
    task: Annotated[str, typer.Option(help="caption|ask|classify|detect|segment|compare")],
    prompt: Annotated[str | None, typer.Option(help="Custom prompt, or what to detect")] = None,
    question: Annotated[str | None, typer.Option(help="The question (ask, compare)")] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels (classify)")] = None,
    model: Annotated[str | None, typer.Option()] = None,
    webhook_url: Annotated[str | None, typer.Option(help="Callback URL (with --api)")] = None,
    fallback_model: Annotated[
        list[str] | None,
        typer.Option(help="A model to run on when the job's is overloaded (repeatable, in order)"),
    ] = None,
    cache: Annotated[
        bool, typer.Option(help="Let an equal earlier job's results answer (no call, no cost)")
    ] = True,
    on_budget: Annotated[
        str | None, typer.Option(help="fail|wait: when the producer's budget is spent")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait and print the result")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --wait: print JSON")] = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """Submit a job; prints its id (or, with --wait, its result)."""
    flags: dict[str, Any] = {
        "prompt": prompt,
        "question": question,
        "labels": labels,
        "model": model,
        "webhook_url": webhook_url,
        "fallback_models": fallback_model,
        "cache": cache,
        "on_budget": on_budget,
    }
    if on_budget not in (None, "fail", "wait"):
        raise CliError(f"--on-budget: must be fail or wait, got {on_budget!r}", 2)
    if api:
        remote_submit(
            images, task=task, api=api, key=_need_key(key), wait=wait, as_json=as_json, **flags
        )
        return
    runtime = invocation(ctx).runtime
    inputs = _read_images(images, runtime.settings.max_image_bytes)
    fields = fields_from_flags(task, **flags)
    spec = JobSpec(**{k: v for k, v in {"task": task, **fields}.items() if v is not None})
    try:
        submitted = submit_job(runtime, spec, inputs)
    except SubmissionRefused as exc:  # bad input, named by submit_job (image count, empty image)
        raise CliError(str(exc), 2) from None
    if not wait:
        console.print(submitted.job_id)
        return
    print_final(console, wait_for_job(runtime, submitted.job_id), as_json)


def show(
    ctx: typer.Context,
    job_id: str,
    as_json: AsJson = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """Show a job: status, results and usage."""
    if api:
        remote_show(job_id, api=api, key=_need_key(key), as_json=as_json)
        return
    with invocation(ctx).runtime.db.session() as session:
        view = job_view(session, job_id)
    print_job(console, view, as_json)


def list_command(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help=f"Only jobs in this status: {', '.join(JOB_STATUSES)}")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help=f"Only jobs of this task: {', '.join(TASKS)}")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="At most this many, newest first")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the jobs as JSON")] = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """List jobs, newest first (every producer's locally; the key's producer's with --api)."""
    if status is not None and status not in JOB_STATUSES:
        raise CliError(f"--status: unknown status {status!r}; one of {', '.join(JOB_STATUSES)}", 2)
    if task is not None and task not in TASKS:
        raise CliError(f"--task: unknown task {task!r}; one of {', '.join(TASKS)}", 2)
    if api:
        items = remote_list(api=api, key=_need_key(key), status=status, task=task, limit=limit)
    else:
        with invocation(ctx).runtime.db.session() as session:
            rows, _more = list_jobs(session, None, JobFilter(status=status, task=task), limit=limit)
            items = [
                {
                    "id": job.id,
                    "status": job.status,
                    "task": job.task,
                    "model": job.model,
                    "created_at": iso(job.created_at),
                    "error": job_error(job.status, job.error_code, job.error_message),
                }
                for job in rows
            ]
    print_jobs(console, items, as_json)


def watch(
    ctx: typer.Context,
    job_id: str,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 3600.0,
    as_json: AsJson = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """Follow a job until it is final, then print it."""
    if api:
        remote_watch(job_id, api=api, key=_need_key(key), timeout=timeout, as_json=as_json)
        return
    print_final(console, wait_for_job(invocation(ctx).runtime, job_id, timeout_s=timeout), as_json)


def overlay(
    ctx: typer.Context,
    job_id: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write")],
    image: Annotated[int, typer.Option(help="Which image of the job (0-based)")] = 0,
) -> None:
    """Draw a job's boxes and masks on its upright image."""
    if output.is_dir():
        raise CliError(f"cannot write {output}: it is a directory (give a file name)", 2)
    if not output.parent.is_dir():
        raise CliError(f"cannot write {output}: there is no folder {output.parent}", 2)
    runtime = invocation(ctx).runtime
    with runtime.db.session() as session:
        get_job(session, job_id)  # an unknown id says "no job", not "no stored image"
    output.write_bytes(render_overlay(runtime.db, runtime.blobs, job_id, image))
    console.print(f"wrote {output}")


def wait_for_job(runtime: Runtime, job_id: str, *, timeout_s: float = 3600.0) -> dict[str, Any]:
    """Poll the database with backoff, showing progress, until the job is final."""
    delay = 0.2
    deadline = time.monotonic() + timeout_s
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        bar = progress.add_task(f"job {job_id}: queued", total=None)
        while True:
            with runtime.db.session() as session:
                view = job_view(session, job_id, include_masks=True)
            status = view["status"]
            note = f" (attempt {view['attempts']})" if view["attempts"] > 1 else ""
            progress.update(bar, description=f"job {job_id}: {status}{note}")
            if status in FINAL_STATUSES or time.monotonic() > deadline:
                return view
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def _need_key(key: str | None) -> str:
    if not key:
        raise CliError("--api needs an API key (--key or IMAGEJOBS_API_KEY)", 2)
    return key


def _read_images(names: list[str], max_bytes: int) -> list[ImageInput]:
    """The image files, checked as the API checks an upload before anything is stored."""
    inputs = []
    for name in names:
        path = Path(name)
        require_file(path)
        data = path.read_bytes()
        try:
            check_upload(data, max_bytes=max_bytes)
        except ImageRejected as exc:
            raise CliError(f"{path}: {exc}", 2) from None
        inputs.append(ImageInput(data=data, filename=path.name))
    return inputs
