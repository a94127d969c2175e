"""A job as producers see it (``imagejobs show --json`` and the HTTP API)."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.orm import Session

from imagejobs.core.jobspec import MODEL_NOTES_PARAM, REQUESTED_MODEL_PARAM, job_error
from imagejobs.core.times import iso
from imagejobs.store.jobs import get_job
from imagejobs.store.models import Detection, Image, Job, JobImage, Mask, Usage
from imagejobs.store.views import job_rows


def job_view(session: Session, job_id: str, *, include_masks: bool = True) -> dict[str, Any]:
    job = get_job(session, job_id)
    return render_job(session, job, include_masks=include_masks)


def render_job(session: Session, job: Job, *, include_masks: bool = True) -> dict[str, Any]:
    rows = job_rows(session, job)
    result = rows.result
    params = dict(job.params or {})
    requested_model = params.pop(REQUESTED_MODEL_PARAM, None)
    model_notes = list(params.pop(MODEL_NOTES_PARAM, None) or [])
    return {
        "id": job.id,
        "status": job.status,
        "error": job_error(job.status, job.error_code, job.error_message),
        "task": job.task,
        "model": job.model,  # the model that answers (after routing)
        "requested_model": requested_model,  # the model asked for, when routed elsewhere
        "answered_model": job.answered_model,  # the model(s) that did answer (a fallback)
        "fallback_models": list(job.fallback_models or []),
        "cache": job.use_cache,
        "cached_from": job.cached_from,  # answered from this earlier job's results, at no cost
        "on_budget": job.on_budget,
        "params": {k: v for k, v in params.items() if v not in (None, False)},
        "options": job.options,
        "metadata": job.job_metadata,
        "attempts": job.attempts,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "next_attempt_at": iso(job.next_attempt_at) if job.status == "queued" else None,
        "images": [_image(ji, img) for ji, img in rows.images],
        "caption": result.caption if result else None,
        "answer": result.answer if result else None,
        "labels": result.labels if result else None,
        "detections": [_detection(d) for d in rows.detections],
        "masks": [_mask(m, include_masks) for m in rows.masks],
        "dropped_boxes": result.dropped_boxes if result else 0,
        "notes": [*model_notes, *(result.notes if result else [])],
        "usage": _usage(rows.usage),
    }


def _image(ji: JobImage, img: Image | None) -> dict[str, Any]:
    return {
        "sha256": ji.sha256,
        "source_url": ji.source_url,
        "filename": ji.filename,
        "width": img.width if img else None,
        "height": img.height if img else None,
        "mime": img.mime if img else None,
        "transport": ji.transport,
        "sent_width": ji.sent_width,
        "sent_height": ji.sent_height,
        "tokens_estimated": ji.tokens_estimated,
    }


def _detection(d: Detection) -> dict[str, Any]:
    return {
        "label": d.label,
        "box": [d.x0, d.y0, d.x1, d.y1],
        "box_2d": d.box_2d,
        "image": d.image_position,
    }


def _mask(m: Mask, include_png: bool) -> dict[str, Any]:
    return {
        "label": m.label,
        "box": [m.x0, m.y0, m.x1, m.y1],
        "box_2d": m.box_2d,
        "image": m.image_position,
        "area": m.area,
        **(
            {"mask_png": base64.b64encode(m.mask_png).decode() if m.mask_png else None}
            if include_png
            else {}
        ),
        "problem": m.problem,
    }


def _usage(usage: Usage | None) -> dict[str, Any]:
    return {
        "estimated_tokens": usage.estimated_tokens if usage else None,
        "estimated_image_tokens": usage.estimated_image_tokens if usage else None,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "candidates_tokens": usage.candidates_tokens if usage else None,
        "thoughts_tokens": usage.thoughts_tokens if usage else None,
        "total_tokens": usage.total_tokens if usage else None,
        "image_tokens": usage.image_tokens if usage else None,
        "cost_usd": usage.cost_usd if usage else None,
        "calls": usage.calls if usage else 0,
    }
