"""The jobs list, a job's page, its overlay images, and replaying a webhook delivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.auth import CSRF_FIELD, ConsoleError, check_csrf
from api.console.deps import PREFIX, ConsoleDep, SessionDep, ViewerDep, is_fragment
from api.console.filters import read_query
from api.console.job_page import job_context, visible_delivery, visible_job
from api.console.overlay import NoStoredImage, render_console_overlay, unreadable_image
from api.console.render import page
from api.paging import encode_cursor
from imagejobs.core.imageinfo import ImageRejected
from imagejobs.core.jobspec import FINAL_STATUSES, JOB_STATUSES, TASKS
from imagejobs.store.blobs import BlobNotFound
from imagejobs.store.console_queries import JobRow, console_jobs
from imagejobs.store.outbox import replay

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def known_models(console: ConsoleDep) -> list[str]:
    """Models to suggest in the filter: the configured defaults and the priced ones."""
    settings = console.runtime.settings
    names = {settings.model, *settings.task_models.values(), *settings.prices}
    if settings.segment_model:
        names.add(settings.segment_model)
    return sorted(names)


@router.get("", include_in_schema=False)
def console_home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/jobs", status_code=303)


@router.get("/jobs", response_class=HTMLResponse)
def jobs_list(
    request: Request,
    console: ConsoleDep,
    viewer: ViewerDep,
    status: str | None = None,
    task: str | None = None,
    model: str | None = None,
    since: str | None = None,
    until: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> Response:
    query = read_query(status, task, model, since, until, cursor, limit)
    rows: list[JobRow] = []
    next_link: str | None = None
    if not query.errors:
        with console.runtime.db.session() as session:
            rows, more = console_jobs(
                session,
                viewer.producer_id,
                query.where,
                model=query.model or None,
                limit=query.limit,
            )
        if more:
            last = rows[-1].job
            next_link = query.link(cursor=encode_cursor(last.created_at, last.id))
    live = any(row.job.status not in FINAL_STATUSES for row in rows)
    return page(
        console.templates,
        request,
        "jobs_table.html" if is_fragment(request) else "jobs.html",
        viewer,
        status_code=400 if query.errors else 200,
        query=query,
        rows=rows,
        next_link=next_link,
        live=live,
        statuses=JOB_STATUSES,
        tasks=TASKS,
        models=known_models(console),
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, console: ConsoleDep, viewer: ViewerDep, job_id: str) -> Response:
    with console.runtime.db.session() as session:
        context = job_context(session, viewer, job_id)
        name = "job_live.html" if is_fragment(request) else "job.html"
        return page(console.templates, request, name, viewer, **context)


@router.get("/jobs/{job_id}/images/{position}/overlay.png")
def overlay_png(console: ConsoleDep, viewer: ViewerDep, job_id: str, position: int) -> Response:
    with console.runtime.db.session() as session:
        job = visible_job(session, viewer, job_id)
        final = job.status in FINAL_STATUSES
    try:
        png = render_console_overlay(console.runtime.db, console.runtime.blobs, job_id, position)
    except (NoStoredImage, BlobNotFound) as exc:
        raise ConsoleError(404, str(exc)) from None
    except ImageRejected as exc:  # stored, but it does not decode (the job failed on it)
        png = unreadable_image(str(exc))
    # A finished job's overlay never changes (the page asks with its status in the URL).
    cache = "private, max-age=86400" if final else "no-store"
    return Response(png, media_type="image/png", headers={"Cache-Control": cache})


@router.post("/deliveries/{delivery_id}/replay")
def replay_delivery(
    console: ConsoleDep,
    viewer: ViewerDep,
    data: SessionDep,
    delivery_id: str,
    csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
) -> Response:
    """Send a delivery again (what ``POST /v1/deliveries/{id}/replay`` does), then back to its
    job's page."""
    check_csrf(data, csrf_token)
    with console.runtime.db.session() as session:
        row = visible_delivery(session, viewer, delivery_id)
        job_id = row.job_id
        replay(session, row)
    console.runtime.queue.enqueue_delivery(delivery_id)
    return RedirectResponse(f"{PREFIX}/jobs/{job_id}#deliveries", status_code=303)
