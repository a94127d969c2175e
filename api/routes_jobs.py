"""``/v1/jobs``: submit, read, list, cancel, overlay."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import ProducerDep, RuntimeDep
from api.paging import BadCursor, decode_cursor, encode_cursor
from api.problems import Problem, ProblemError
from api.resources import job_resource, job_summary, links, owned_job
from api.schemas import JobPage, JobResource, JobStatus
from imagejobs.core.jobspec import Task
from imagejobs.core.times import as_utc
from imagejobs.execution.deliveries import enqueue_pending
from imagejobs.intake.errors import bad
from imagejobs.intake.jobs import (
    Limits,
    ParsedJob,
    check_idempotency_key,
    check_image_bytes,
    parse_job,
)
from imagejobs.intake.jsonbody import load_json
from imagejobs.observability.metrics import observe_job_accepted
from imagejobs.results.overlay_image import OverlayUnavailable, render_overlay
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings
from imagejobs.store import job_lookup
from imagejobs.store.blobs import BlobNotFound
from imagejobs.store.db import Database
from imagejobs.store.jobs import request_cancel
from imagejobs.submission import IdempotencyConflict, ImageInput, ImagesRefused, submit_job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = logging.getLogger(__name__)


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem}


# The app's OpenAPI builder moves these to application/problem+json (see api.app).
P401: dict[int | str, dict[str, Any]] = {401: problem("Missing, unknown or revoked API key")}
P404: dict[int | str, dict[str, Any]] = {404: problem("No such job for this producer")}
P422: dict[int | str, dict[str, Any]] = {
    422: problem("A field is invalid; `errors` names each one")
}

JOB_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["job"],
                    "properties": {
                        "job": {
                            "type": "string",
                            "description": "The JobRequest as a JSON string",
                        },
                        "images": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Image files, in order, before any JSON images",
                        },
                    },
                }
            },
        },
    }
}


MAX_FORM_FIELDS = 10  # non-file parts: 'job', and room to name a stray one
MAX_FORM_PART = 1024 * 1024  # the 'job' part (images are files, bounded by their own limit)


def limits(settings: Settings) -> Limits:
    return Limits.from_settings(settings)


async def _read_form(request: Request, lim: Limits) -> FormData:
    """The multipart form; Starlette's own limits answer 413 naming what is over (not 400)."""
    try:
        return await request.form(
            max_files=lim.max_images, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_PART
        )
    except StarletteHTTPException as exc:
        detail = str(exc.detail)
        if detail.startswith("Too many files"):
            raise bad("images", f"at most {lim.max_images} image files per job", 413) from None
        if detail.startswith("Too many fields"):
            raise bad(
                "body",
                f"more than {MAX_FORM_FIELDS} form fields; send one 'job' field and 'images' files",
                413,
            ) from None
        if detail.startswith(("Part exceeded", "Field exceeded")):
            raise bad(
                "job",
                f"a form field is over {MAX_FORM_PART // 1024} KiB (only 'images' files may be)",
                413,
            ) from None
        raise ProblemError(exc.status_code, f"multipart body: {detail}") from None


async def _read_request(request: Request, settings: Settings) -> ParsedJob:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    lim = limits(settings)
    if content_type == "application/json":
        body = load_json(await request.body())
        return await run_in_threadpool(parse_job, body, lim)
    if content_type == "multipart/form-data":
        form = await _read_form(request, lim)
        job_fields = [v for v in form.getlist("job") if isinstance(v, str)]
        if len(job_fields) != 1:
            raise bad("job", "send exactly one 'job' form field holding the JSON job body")
        body = load_json(job_fields[0], "job")
        uploads: list[ImageInput] = []
        for index, part in enumerate(form.getlist("images")):
            field = f"images[{index}]"
            if not isinstance(part, UploadFile):
                raise bad(field, "must be a file part")
            data = await part.read()
            label = f"image {index + 1}" + (f" ({part.filename})" if part.filename else "")
            check_image_bytes(data, field, label, lim)
            uploads.append(ImageInput(data=data, filename=part.filename or None))
        unknown = sorted(set(form.keys()) - {"job", "images"})
        if unknown:
            raise bad(unknown[0], "unknown form field; send 'job' and 'images'")
        return await run_in_threadpool(parse_job, body, lim, uploads=uploads)
    raise ProblemError(
        415, "send application/json or multipart/form-data (a 'job' field and 'images' files)"
    )


@router.post(
    "",
    status_code=202,
    response_model=JobResource,
    summary="Submit a job",
    responses={
        202: {"description": "Accepted; Location names the job"},
        **P401,
        413: problem("The request, an image, or the image count is over its limit"),
        415: problem("Not JSON nor multipart"),
        **P422,
    },
    openapi_extra=JOB_BODY_DOC,
)
async def create_job(
    request: Request,
    runtime: RuntimeDep,
    producer: ProducerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="A retry with the same key and body returns the same job",
            min_length=1,
            max_length=200,
            pattern=r"^[!-~]+$",
        ),
    ] = None,
) -> JSONResponse:
    key = check_idempotency_key(idempotency_key)
    parsed = await _read_request(request, runtime.settings)
    resource, created = await run_in_threadpool(_submit, runtime, parsed, producer.id, key)
    headers = {"Location": resource["links"]["self"]}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(resource, status_code=202, headers=headers)


def _submit(
    runtime: Runtime, parsed: ParsedJob, producer_id: str, key: str | None
) -> tuple[dict[str, Any], bool]:
    try:
        submitted = submit_job(
            runtime,
            parsed.spec,
            parsed.images,
            producer_id=producer_id,
            idempotency_key=key,
        )
    except IdempotencyConflict as exc:
        raise bad("Idempotency-Key", str(exc)) from None
    except ImagesRefused as exc:
        raise bad("images", str(exc)) from None
    if submitted.created:
        observe_job_accepted(parsed.spec.task, producer_id)
    resource = accepted_resource(runtime.db, submitted.job_id, producer_id, submitted.created)
    return resource, submitted.created


def accepted_resource(db: Database, job_id: str, producer_id: str, created: bool) -> dict[str, Any]:
    """The stored job as a resource; if that fails, a minimal one (id, links, and the status
    when the job was created just now).

    The job is committed by now, so the answer must be a 202 whatever happens: a 500 here would
    make a client without an Idempotency-Key submit the same job again.
    """
    try:
        with db.session() as session:
            return job_resource(session, owned_job(session, job_id, producer_id))
    except Exception:
        log.exception("job %s was stored, but its resource could not be built", job_id)
        stub: dict[str, Any] = {"id": job_id, "links": links(job_id)}
        if created:
            stub["status"] = "queued"
        return stub


@router.get(
    "",
    response_model=JobPage,
    summary="List this producer's jobs, newest first",
    responses={**P401, **P422},
)
def list_jobs(
    runtime: RuntimeDep,
    producer: ProducerDep,
    status: Annotated[JobStatus | None, Query()] = None,
    task: Annotated[Task | None, Query()] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    created_before: Annotated[datetime | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except BadCursor as exc:
        raise bad("cursor", str(exc)) from None
    where = job_lookup.JobFilter(
        status=status,
        task=task,
        created_after=as_utc(created_after) if created_after is not None else None,
        created_before=as_utc(created_before) if created_before is not None else None,
        after=after,
    )
    with runtime.db.session() as session:
        rows, more = job_lookup.list_jobs(session, producer.id, where, limit=limit)
        items = [job_summary(job) for job in rows]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/{job_id}",
    response_model=JobResource,
    summary="A job: status, results, usage, per-image transport",
    responses={**P401, **P404},
)
def get_job(job_id: str, runtime: RuntimeDep, producer: ProducerDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        return job_resource(session, owned_job(session, job_id, producer.id))


@router.post(
    "/{job_id}/cancel",
    response_model=JobResource,
    summary="Cancel a job",
    description=(
        "Queued or parked jobs end as canceled at once (200). A running job is asked to stop "
        "(202): it ends as canceled before its next Gemini call or before writing results, "
        "and late results are not kept. Canceling a finished job is 409."
    ),
    responses={
        202: {"model": JobResource, "description": "Running: the worker will cancel it"},
        **P401,
        **P404,
        409: problem("The job already succeeded or failed"),
    },
)
def cancel_job(job_id: str, runtime: RuntimeDep, producer: ProducerDep) -> JSONResponse:
    with runtime.db.session() as session:
        job = owned_job(session, job_id, producer.id)
        before = job.status
        if before in ("succeeded", "failed"):
            raise ProblemError(409, f"job {job_id} already {before}; it cannot be canceled")
        request_cancel(session, job, links=links(job.id), summary={})
    enqueue_pending(runtime, job_id)
    with runtime.db.session() as session:
        resource = job_resource(session, owned_job(session, job_id, producer.id))
    code = 200 if resource["status"] == "canceled" else 202
    return JSONResponse(resource, status_code=code)


@router.get(
    "/{job_id}/overlay.png",
    summary="The job's boxes and masks drawn on its upright image",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
        **P401,
        404: problem("No such job, or no stored image at that position"),
    },
)
def overlay(
    job_id: str,
    runtime: RuntimeDep,
    producer: ProducerDep,
    image: Annotated[int, Query(ge=0, le=3599, description="Which image (0-based)")] = 0,
) -> Response:
    with runtime.db.session() as session:
        owned_job(session, job_id, producer.id)
    try:
        png = render_overlay(runtime.db, runtime.blobs, job_id, image)
    except (OverlayUnavailable, BlobNotFound) as exc:
        raise ProblemError(404, f"job {job_id} has no stored image {image}: {exc}") from None
    return Response(png, media_type="image/png")
