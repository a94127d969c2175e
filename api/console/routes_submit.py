"""The submit form: images and a task, through the API's own intake and submission path, so a
refusal reads exactly as ``POST /v1/jobs`` words it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console.auth import CSRF_FIELD, Viewer, check_csrf
from api.console.deps import PREFIX, ConsoleDep, SessionDep, ViewerDep
from api.console.render import page
from imagejobs.core.jobspec import TASKS
from imagejobs.intake.errors import FieldError, InvalidRequest, bad
from imagejobs.intake.jobs import Limits, check_image_bytes, parse_job
from imagejobs.runtime import Runtime
from imagejobs.submission import (
    ImageInput,
    ImagesRefused,
    ModelNotUsable,
    SubmissionRefused,
    submit_job,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

# The inputs each task reads (others are not sent even when the form holds them).
TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "caption": ("prompt",),
    "ask": ("question", "prompt"),
    "compare": ("question", "prompt"),
    "classify": ("labels", "multi_label", "prompt"),
    "detect": ("target", "prompt"),
    "segment": ("target", "prompt"),
}
TEXT_FIELDS = ("model", "prompt", "question", "labels", "target", "webhook_url")
MAX_FORM_FIELDS = 20
MAX_FORM_PART = 1024 * 1024


def job_body(values: dict[str, str]) -> dict[str, Any]:
    """The JSON job body the form stands for (``labels``: comma- or line-separated)."""
    task = values.get("task", "")
    body: dict[str, Any] = {"task": task}
    for name in ("model", "webhook_url"):
        if values.get(name):
            body[name] = values[name]
    for name in TASK_FIELDS.get(task, ()):
        if name == "multi_label":
            body["multi_label"] = values.get("multi_label") == "on"
        elif name == "labels":
            text = values.get("labels", "").replace("\n", ",")
            labels = [label.strip() for label in text.split(",") if label.strip()]
            if labels:
                body["labels"] = labels
        elif values.get(name):
            body[name] = values[name]
    return body


def _form_page(
    console: ConsoleDep,
    request: Request,
    viewer: Viewer,
    values: dict[str, str],
    refusal: InvalidRequest | None = None,
) -> HTMLResponse:
    errors: list[FieldError] = refusal.errors if refusal else []
    return page(
        console.templates,
        request,
        "submit.html",
        viewer,
        status_code=refusal.status if refusal else 200,
        tasks=TASKS,
        values=values,
        errors=errors,
        detail=refusal.detail if refusal else None,
        max_images=console.runtime.settings.max_images_per_job,
    )


@router.get("/submit", response_class=HTMLResponse)
def submit_form(
    request: Request, console: ConsoleDep, viewer: ViewerDep, task: str = "detect"
) -> Response:
    return _form_page(console, request, viewer, {"task": task if task in TASKS else "detect"})


async def _read_form(request: Request, lim: Limits) -> FormData:
    try:
        return await request.form(
            max_files=lim.max_images, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_PART
        )
    except StarletteHTTPException as exc:
        raise bad("images", f"the form could not be read: {exc.detail}", exc.status_code) from None


async def _uploads(form: FormData, lim: Limits) -> list[ImageInput]:
    """The chosen files, checked as the API checks uploaded images (an empty pick is none)."""
    uploads: list[ImageInput] = []
    for part in form.getlist("images"):
        if not isinstance(part, UploadFile):
            if not part:
                continue  # no file chosen, sent as an empty field
            raise bad("images", "must be a file part")
        data = await part.read()
        if not data and not part.filename:
            continue  # the browser sends one empty part when no file was chosen
        index = len(uploads)
        label = f"image {index + 1}" + (f" ({part.filename})" if part.filename else "")
        check_image_bytes(data, f"images[{index}]", label, lim)
        uploads.append(ImageInput(data=data, filename=part.filename or None))
    return uploads


def _submit(
    runtime: Runtime, body: dict[str, Any], uploads: list[ImageInput], viewer: Viewer
) -> str:
    parsed = parse_job(body, Limits.from_settings(runtime.settings), uploads=uploads)
    try:
        submitted = submit_job(runtime, parsed.spec, parsed.images, producer_id=viewer.producer_id)
    except ImagesRefused as exc:
        raise bad("images", str(exc)) from None
    except ModelNotUsable as exc:
        raise bad("model", str(exc)) from None
    except SubmissionRefused as exc:
        raise bad("job", str(exc)) from None
    return submitted.job_id


@router.post("/submit", response_class=HTMLResponse)
async def submit(
    request: Request, console: ConsoleDep, viewer: ViewerDep, data: SessionDep
) -> Response:
    lim = Limits.from_settings(console.runtime.settings)
    values: dict[str, str] = {"task": "detect"}
    try:
        form = await _read_form(request, lim)
        token = form.get(CSRF_FIELD)
        check_csrf(data, token if isinstance(token, str) else None)
        for name in ("task", "multi_label", *TEXT_FIELDS):
            value = form.get(name)
            if isinstance(value, str):
                values[name] = value.strip()
        uploads = await _uploads(form, lim)
        body = job_body(values)
        job_id = await run_in_threadpool(_submit, console.runtime, body, uploads, viewer)
    except InvalidRequest as refusal:
        return _form_page(console, request, viewer, values, refusal)
    return RedirectResponse(f"{PREFIX}/jobs/{job_id}", status_code=303)
