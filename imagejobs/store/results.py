"""Writing a job's results and usage: idempotent, so running a job twice cannot duplicate rows.

Plain Core statements on the tables (the hot path: no ORM unit of work), batched: one INSERT
for the text results, one executemany for the detections and one for the masks, one upsert for
the usage.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from imagejobs.core.outcome import Outcome
from imagejobs.core.token_usage import TokenUsage
from imagejobs.store.models import Detection, JobResult, Mask, Usage

RESULTS: Table = JobResult.__table__  # type: ignore[assignment]
DETECTIONS: Table = Detection.__table__  # type: ignore[assignment]
MASKS: Table = Mask.__table__  # type: ignore[assignment]
USAGE: Table = Usage.__table__  # type: ignore[assignment]


def clear_results(session: Session, job_id: str) -> None:
    """Remove any results of an earlier run, so writing them again cannot duplicate rows.

    Usage is not touched: it is written as an upsert, estimate first and billed usage after.
    """
    for table in (DETECTIONS, MASKS, RESULTS):
        session.execute(delete(table).where(table.c.job_id == job_id))


def write_outcome(session: Session, job_id: str, outcome: Outcome, *, replace: bool = True) -> None:
    """Write ``outcome`` as the job's results (inside the finishing transaction).

    Results are only ever written in the transaction that ends the job, so a first attempt has
    nothing to replace; later attempts (``replace``) clear first, and unique (job, seq) keys make
    a duplicate impossible either way.
    """
    if replace:
        clear_results(session, job_id)
    session.execute(_INSERT_RESULTS, result_values(job_id, outcome))
    write_boxes(session, job_id, outcome)


def result_values(job_id: str, outcome: Outcome, prefix: str = "") -> dict[str, Any]:
    """The text results row of ``outcome`` (its values named ``prefix`` + column)."""
    values = {
        "job_id": job_id,
        "caption": outcome.caption,
        "answer": outcome.answer,
        "labels": outcome.labels,
        "raw_text": "\n\n".join(outcome.raw_texts) or None,
        "finish_reason": ",".join(sorted(set(outcome.finish_reasons))) or None,
        "dropped_boxes": outcome.dropped_boxes,
        "notes": outcome.notes,
    }
    return {prefix + name: value for name, value in values.items()}


RESULT_COLUMNS = tuple(result_values("", Outcome()))


def write_boxes(session: Session, job_id: str, outcome: Outcome) -> None:
    """The detections and masks of ``outcome`` (one executemany each)."""
    if outcome.detections:
        session.execute(
            _INSERT_DETECTIONS,
            [
                {
                    "job_id": job_id,
                    "seq": seq,
                    "image_position": det.image_position,
                    "label": det.label,
                    "x0": det.box.x0,
                    "y0": det.box.y0,
                    "x1": det.box.x1,
                    "y1": det.box.y1,
                    "box_2d": list(det.box_2d),
                }
                for seq, det in enumerate(outcome.detections)
            ],
        )
    if outcome.masks:
        session.execute(
            _INSERT_MASKS,
            [
                {
                    "job_id": job_id,
                    "seq": seq,
                    "image_position": mask.image_position,
                    "label": mask.label,
                    "x0": mask.box.x0,
                    "y0": mask.box.y0,
                    "x1": mask.box.x1,
                    "y1": mask.box.y1,
                    "box_2d": list(mask.box_2d),
                    "area": mask.area,
                    "mask_png": mask.png,
                    "problem": mask.problem,
                }
                for seq, mask in enumerate(outcome.masks)
            ],
        )


@dataclass(frozen=True)
class UsageRecord:
    """The quote of an attempt and, once Gemini answered, the billed usage."""

    estimated_tokens: int | None
    estimated_image_tokens: int | None
    usage: TokenUsage | None  # None: nothing billed (no call, or a cached answer)
    calls: int
    cost_usd: float | None
    model_version: str | None


def write_usage(session: Session, job_id: str, record: UsageRecord) -> None:
    """Store the quote and, once there is one, the billed usage next to it (one upsert)."""
    dialect = session.get_bind().dialect.name
    statement = _usage_upsert(dialect, billed=record.usage is not None)
    session.execute(statement, usage_values(job_id, record))


def usage_values(job_id: str, record: UsageRecord, prefix: str = "") -> dict[str, Any]:
    """The usage row of ``record`` (values named ``prefix`` + column): the quote's columns,
    and the billed ones when there is billed usage."""
    values: dict[str, Any] = {
        "job_id": job_id,
        "estimated_tokens": record.estimated_tokens,
        "estimated_image_tokens": record.estimated_image_tokens,
        "calls": record.calls,
        "cost_usd": record.cost_usd,
        "model_version": record.model_version,
    }
    usage = record.usage
    if usage is not None:
        values.update(
            prompt_tokens=usage.prompt,
            candidates_tokens=usage.candidates,
            thoughts_tokens=usage.thoughts,
            total_tokens=usage.total,
            image_tokens=usage.image,
            text_tokens=usage.text,
        )
    return {prefix + name: value for name, value in values.items()}


QUOTE_COLUMNS = ("estimated_tokens", "estimated_image_tokens", "calls", "cost_usd", "model_version")
BILLED_COLUMNS = (
    "prompt_tokens",
    "candidates_tokens",
    "thoughts_tokens",
    "total_tokens",
    "image_tokens",
    "text_tokens",
)
# Built once: the results rows of a job are inserted with their values given at execution.
_INSERT_RESULTS = insert(RESULTS)
_INSERT_DETECTIONS = insert(DETECTIONS)
_INSERT_MASKS = insert(MASKS)


@functools.cache
def _usage_upsert(dialect_name: str, *, billed: bool) -> Any:
    """The usage upsert of a dialect, built once: the quote's columns, and the billed ones
    when there is billed usage (a quote alone leaves billed usage written before as it is)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    columns = QUOTE_COLUMNS + BILLED_COLUMNS if billed else QUOTE_COLUMNS
    statement = dialect.insert(USAGE).values(
        job_id=bindparam("job_id"), **{column: bindparam(column) for column in columns}
    )
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[USAGE.c.job_id], set_={column: excluded[column] for column in columns}
    )
