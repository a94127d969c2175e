"""The write that ends an attempt: the job's guarded status change with what the attempt learnt
(each image's facts, how it was sent, the usage) and, for a success, its results, in one
transaction.

On Postgres, a first attempt's end is one statement: the guarded ``UPDATE … RETURNING`` of the
job as a CTE, and the sent images' update (one ``unnest`` of arrays for all of them), the usage
upsert and the results row each reading it, so none of them writes anything unless the guard
held. Four statements cost a worker about twice the CPU of that one. Detections and masks (one
executemany each), first-seen image facts and the webhook outbox row follow in the same
transaction. Elsewhere (SQLite, or a later attempt whose earlier results are replaced first)
the same writes go one statement after another.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, Table, bindparam, column, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from imagejobs.core.outcome import Outcome
from imagejobs.store.images import ImageFacts, SentImage, record_facts, record_sent_all
from imagejobs.store.jobs import (
    Finished,
    finish_job,
    finished,
    finishing_statement,
    finishing_values,
)
from imagejobs.store.models import Job, JobImage
from imagejobs.store.results import (
    BILLED_COLUMNS,
    QUOTE_COLUMNS,
    RESULT_COLUMNS,
    RESULTS,
    USAGE,
    UsageRecord,
    result_values,
    usage_values,
    write_boxes,
    write_outcome,
    write_usage,
)

_JOB_IMAGES: Table = JobImage.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class AttemptRecord:
    """What an attempt learnt, written whatever its end."""

    facts: list[tuple[str, ImageFacts]]  # (sha256, facts) of content seen for the first time
    sent: list[SentImage]
    usage: UsageRecord


def write_attempt(session: Session, job_id: str, record: AttemptRecord) -> None:
    """Each image's facts and how it was sent, and the usage (statement by statement)."""
    for sha256, facts in record.facts:
        record_facts(session, sha256, facts)
    record_sent_all(session, job_id, record.sent)
    write_usage(session, job_id, record.usage)


def finish_attempt(
    session: Session,
    job: Job,
    status: str,
    *,
    owner: str,
    attempt: AttemptRecord,
    outcome: Outcome | None = None,
    unless_canceled: bool = False,
    error_code: str | None = None,
    error_message: str | None = None,
    links: dict[str, str] | None = None,
    summary: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
) -> Finished:
    """End the attempt: :func:`imagejobs.store.jobs.finish_job` (the guard, the outbox row) with
    ``attempt`` and, for a success, ``outcome`` written in the same transaction. False if the
    guard refused (the lease is not ours, or, for success, the producer asked to cancel); then
    nothing was written."""
    replace = outcome is not None and job.attempts > 1
    if session.get_bind().dialect.name != "postgresql" or replace:
        done = finish_job(
            session,
            job,
            status,
            owner=owner,
            unless_canceled=unless_canceled,
            error_code=error_code,
            error_message=error_message,
            links=links,
            summary=summary,
            record=record,
        )
        if done:
            write_attempt(session, job.id, attempt)
            if outcome is not None:
                write_outcome(session, job.id, outcome, replace=replace)
        return done

    shape = _Shape(
        owned=True,
        unless_canceled=unless_canceled,
        record=tuple(sorted(record or ())),
        sent=bool(attempt.sent),
        billed=attempt.usage.usage is not None,
        results=outcome is not None,
    )
    params = finishing_values(job.id, owner, status, error_code, error_message, record)
    params.update(usage_values(job.id, attempt.usage, prefix="u_"))
    if attempt.sent:
        params.update(_sent_arrays(attempt.sent))
    if outcome is not None:
        params.update(result_values(job.id, outcome, prefix="r_"))
    if not session.execute(_one_statement(shape), params).scalar_one():
        return Finished(changed=False)
    for sha256, facts in attempt.facts:  # what the one statement does not write
        record_facts(session, sha256, facts)
    if outcome is not None:
        write_boxes(session, job.id, outcome)
    return finished(
        session,
        job,
        status,
        error_code=error_code,
        error_message=error_message,
        links=links,
        summary=summary,
    )


@dataclass(frozen=True)
class _Shape:
    owned: bool
    unless_canceled: bool
    record: tuple[str, ...]
    sent: bool
    billed: bool
    results: bool


_SENT = (  # (column, its array's element type) of the sent images' unnest
    ("position", Integer),
    ("sent_width", Integer),
    ("sent_height", Integer),
    ("sent_bytes", Integer),
    ("tokens_estimated", Integer),
    ("transport", String),
    ("uploaded_file_id", String),
)


def _sent_arrays(sent: list[SentImage]) -> dict[str, list[Any]]:
    return {f"s_{name}": [getattr(one, name) for one in sent] for name, _ in _SENT}


@functools.cache
def _one_statement(shape: _Shape) -> Any:
    """The one statement of a shape, built once: ``SELECT count(*)`` of the guarded job update,
    the other writes as CTEs joined to it."""
    finished = (
        finishing_statement(shape.owned, shape.unless_canceled, shape.record)
        .returning(Job.__table__.c.id)
        .cte("finished")
    )
    writes = []
    if shape.sent:
        arrays = [bindparam(f"s_{name}", type_=postgresql.ARRAY(kind)) for name, kind in _SENT]
        sent = (
            func.unnest(*arrays)
            .table_valued(*(column(name, kind) for name, kind in _SENT))
            .render_derived()
            .alias("sent")
        )
        images = _JOB_IMAGES.c
        writes.append(
            update(_JOB_IMAGES)
            .where(images.job_id == finished.c.id, images.position == sent.c.position)
            .values({name: sent.c[name] for name, _ in _SENT[1:]})
            .cte("sent_written")
        )
    columns = QUOTE_COLUMNS + BILLED_COLUMNS if shape.billed else QUOTE_COLUMNS
    usage = postgresql.insert(USAGE).from_select(
        ["job_id", *columns],
        select(
            finished.c.id, *(bindparam(f"u_{name}", type_=USAGE.c[name].type) for name in columns)
        ),
    )
    writes.append(
        usage.on_conflict_do_update(
            index_elements=[USAGE.c.job_id], set_={name: usage.excluded[name] for name in columns}
        ).cte("usage_written")
    )
    if shape.results:
        text_columns = [name for name in RESULT_COLUMNS if name != "job_id"]
        writes.append(
            insert(RESULTS)
            .from_select(
                ["job_id", *text_columns],
                select(
                    finished.c.id,
                    *(bindparam(f"r_{name}", type_=RESULTS.c[name].type) for name in text_columns),
                ),
            )
            .cte("results_written")
        )
    return select(func.count()).select_from(finished).add_cte(*writes)
