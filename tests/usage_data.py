"""Finished jobs with known usage, written straight into the store, and the report they make.

Two producers (``a``, ``b``) and jobs of no producer, around one base day ``D``: a fallback that
answered on another model, a cache hit whose usage row must not count, a failed job with calls
but no billed tokens, a canceled job with no usage row, a job still queued, and jobs on both
sides of midnight UTC and outside the period. ``expected_rows`` is the report of ``[D, D+1]``
written out by hand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from imagejobs.store.models import Job, Usage

M1 = "gemini-3.8-flash"
M2 = "gemini-2.5-flash"  # answered a's detect job after a fallback
M3 = "gemini-2.5-flash-lite"


@dataclass(frozen=True)
class Written:
    day: date  # D
    a: str | None  # producer ids (None: jobs of no producer)
    b: str | None
    a_name: str | None
    b_name: str | None
    ids: dict[str, str]  # label -> job id


def at(day: date, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second, micro), tzinfo=UTC)


def add_job(
    session: Session,
    *,
    producer_id: str | None,
    finished_at: datetime | None,
    status: str = "succeeded",
    model: str = M1,
    answered_model: str | None = None,
    cached_from: str | None = None,
    usage: dict[str, Any] | None = None,
    task: str = "caption",
    created_at: datetime | None = None,
) -> str:
    job_id = uuid.uuid4().hex
    created = created_at or (finished_at or datetime.now(UTC)) - timedelta(minutes=5)
    session.add(
        Job(
            id=job_id,
            producer_id=producer_id,
            task=task,
            model=model,
            status=status,
            answered_model=answered_model,
            cached_from=cached_from,
            created_at=created,
            finished_at=finished_at,
        )
    )
    session.flush()
    if usage is not None:
        session.add(Usage(job_id=job_id, **usage))
        session.flush()
    return job_id


def write_dataset(
    session: Session, day: date, a: tuple[str, str] | None, b: tuple[str, str] | None
) -> Written:
    """The jobs described above; ``a`` and ``b`` are (producer id, name)."""
    a_id, a_name = a or (None, None)
    b_id, b_name = b or (None, None)
    d0, d1 = day, day + timedelta(days=1)
    ids: dict[str, str] = {}
    one = {"estimated_tokens": 300, "prompt_tokens": 310, "candidates_tokens": 20}
    ids["a_caption"] = add_job(
        session,
        producer_id=a_id,
        finished_at=at(d0, 10),
        usage={**one, "thoughts_tokens": 5, "calls": 1, "cost_usd": 0.000125},
    )
    ids["a_fallback"] = add_job(  # the last moment of D
        session,
        producer_id=a_id,
        finished_at=at(d0, 23, 59, 59, 999_000),
        answered_model=M2,
        task="detect",
        usage={
            "estimated_tokens": 1200,
            "prompt_tokens": 1250,
            "candidates_tokens": 300,
            "thoughts_tokens": None,
            "calls": 2,
            "cost_usd": 0.0011,
        },
    )
    ids["a_cached"] = add_job(  # the first moment of D+1; a copied usage row must not count
        session,
        producer_id=a_id,
        finished_at=at(d1, 0, 0, 0, 1000),
        cached_from=ids["a_caption"],
        usage={**one, "thoughts_tokens": 5, "calls": 1, "cost_usd": 0.000125},
    )
    ids["a_failed"] = add_job(
        session,
        producer_id=a_id,
        finished_at=at(d1, 8),
        status="failed",
        usage={"estimated_tokens": 400, "calls": 3, "cost_usd": None},
    )
    ids["a_canceled"] = add_job(session, producer_id=a_id, finished_at=at(d1, 9), status="canceled")
    ids["a_queued"] = add_job(session, producer_id=a_id, finished_at=None, status="queued")
    ids["a_before"] = add_job(
        session,
        producer_id=a_id,
        finished_at=at(d0 - timedelta(days=1), 23, 59, 59, 999_999),
        usage={**one, "calls": 1, "cost_usd": 0.5},
    )
    ids["a_after"] = add_job(
        session,
        producer_id=a_id,
        finished_at=at(d1 + timedelta(days=1), 0),
        usage={**one, "calls": 1, "cost_usd": 0.5},
    )
    ids["b_caption"] = add_job(
        session,
        producer_id=b_id,
        finished_at=at(d0, 12),
        usage={
            "estimated_tokens": 500,
            "prompt_tokens": 480,
            "candidates_tokens": 40,
            "thoughts_tokens": 60,
            "calls": 1,
            "cost_usd": 0.0007,
        },
    )
    ids["b_lite"] = add_job(
        session,
        producer_id=b_id,
        finished_at=at(d1, 13),
        model=M3,
        usage={
            "estimated_tokens": 250,
            "prompt_tokens": 260,
            "candidates_tokens": 10,
            "calls": 1,
            "cost_usd": 0.00003,
        },
    )
    return Written(day, a_id, b_id, a_name, b_name, ids)


def figures(
    jobs: int,
    calls: int = 0,
    estimated: int = 0,
    prompt: int = 0,
    output: int = 0,
    cost: float = 0.0,
    hits: int = 0,
) -> dict[str, Any]:
    return {
        "jobs": jobs,
        "calls": calls,
        "estimated_tokens": estimated,
        "prompt_tokens": prompt,
        "output_tokens": output,
        "cost_usd": cost,
        "cache_hits": hits,
    }


def expected_rows(written: Written) -> dict[str, list[dict[str, Any]]]:
    """The report of ``[D, D+1]`` grouped by producer, model and day (ordered by day, producer,
    model: gemini-2.5 before gemini-3.8), for ``a`` and for ``b``."""
    d0, d1 = written.day.isoformat(), (written.day + timedelta(days=1)).isoformat()
    a, b = written.a_name, written.b_name
    return {
        "a": [
            {"producer": a, "model": M2, "day": d0, **figures(1, 2, 1200, 1250, 300, 0.0011)},
            {"producer": a, "model": M1, "day": d0, **figures(1, 1, 300, 310, 25, 0.000125)},
            # the cache hit, the failed and the canceled job
            {"producer": a, "model": M1, "day": d1, **figures(3, 3, 400, hits=1)},
        ],
        "b": [
            {"producer": b, "model": M1, "day": d0, **figures(1, 1, 500, 480, 100, 0.0007)},
            {"producer": b, "model": M3, "day": d1, **figures(1, 1, 250, 260, 10, 0.00003)},
        ],
    }


A_TOTALS = figures(5, 6, 1900, 1560, 325, 0.001225, 1)
B_TOTALS = figures(2, 2, 750, 740, 110, 0.00073)


def approx_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``cost_usd`` rounded (sums of floats in SQL may differ in the last bits)."""
    return [{**row, "cost_usd": round(row["cost_usd"], 12)} for row in rows]
