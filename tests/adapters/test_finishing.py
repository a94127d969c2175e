"""The write ending an attempt on real Postgres: the one statement a first attempt's end is
writes what the statement-by-statement path writes, and nothing when the guard refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from imagejobs.core.geometry import PixelBox
from imagejobs.core.jobspec import JobSpec
from imagejobs.core.outcome import DetectionOut, Outcome
from imagejobs.core.token_usage import TokenUsage
from imagejobs.store.blobs import DirectoryBlobStore
from imagejobs.store.claims import claim_in_own_transaction
from imagejobs.store.db import Database, get_engine, session_scope
from imagejobs.store.finishing import AttemptRecord, finish_attempt, write_attempt
from imagejobs.store.images import ImageFacts, SentImage
from imagejobs.store.jobs import finish_job
from imagejobs.store.models import Detection, Image, Job, JobImage, JobResult, Usage
from imagejobs.store.results import UsageRecord, write_outcome

OUTCOME = Outcome(
    caption="two cats",
    labels=["cat"],
    detections=[
        DetectionOut(0, "cat", PixelBox(1, 2, 30, 40), (5, 1, 40, 30)),
        DetectionOut(1, "cat", PixelBox(0, 0, 9, 9), (0, 0, 999, 999)),
    ],
    dropped_boxes=1,
    notes=["a box was out of the image"],
    raw_texts=["```json\n[]\n```"],
    finish_reasons=["STOP"],
)


def attempt(shas: list[str], *, billed: bool = True) -> AttemptRecord:
    sent = [
        SentImage(n, 640 + n, 480, 10_000 + n, 258, "inline" if n else "file", None)
        for n in range(len(shas))
    ]
    usage = UsageRecord(
        estimated_tokens=600,
        estimated_image_tokens=516,
        usage=TokenUsage(prompt=590, candidates=20, total=610, image=516, text=74)
        if billed
        else None,
        calls=1 if billed else 0,
        cost_usd=0.0012 if billed else None,
        model_version="gemini-2.5-flash-001" if billed else None,
    )
    return AttemptRecord([(shas[0], ImageFacts("image/png", 640, 480, 1, 10_000))], sent, usage)


def claimed_job(database_url: str, tmp_path: Path, name: str) -> tuple[Job, list[str]]:
    blobs = DirectoryBlobStore(tmp_path)
    shas = [blobs.put(f"{name} {n}".encode()) for n in range(2)]
    from imagejobs.store.jobs import NewImage, create_job

    with session_scope(database_url) as session:
        job = create_job(
            session,
            JobSpec(task="detect", target="cats", webhook_url="http://127.0.0.1:9/hook"),
            [NewImage(sha, 7) for sha in shas],
            default_model="gemini-2.5-flash",
        )
    claim = claim_in_own_transaction(Database(database_url), job.id, "w", lease_s=60)
    assert claim is not None
    return claim.job, shas


def written(database_url: str, job_id: str, shas: list[str]) -> dict[str, Any]:
    """What the end wrote, without what differs between two jobs (ids, times)."""
    with session_scope(database_url) as session:
        job = session.get_one(Job, job_id)
        images = session.scalars(
            select(JobImage).where(JobImage.job_id == job_id).order_by(JobImage.position)
        ).all()
        usage = session.get(Usage, job_id)
        result = session.get(JobResult, job_id)
        detections = session.scalars(
            select(Detection).where(Detection.job_id == job_id).order_by(Detection.seq)
        ).all()
        facts = session.get_one(Image, shas[0])

        def row(obj: Any, *skip: str) -> dict[str, Any] | None:
            if obj is None:
                return None
            names = [c.key for c in obj.__table__.columns if c.key not in skip]
            return {name: getattr(obj, name) for name in names}

        return {
            "job": (job.status, job.lease_owner, job.finished_at is not None, job.answered_model),
            "images": [row(image, "job_id", "sha256") for image in images],
            "usage": row(usage, "job_id"),
            "result": row(result, "job_id"),
            "detections": [row(d, "id", "job_id") for d in detections],
            "facts": (facts.mime, facts.width, facts.height, facts.orientation),
        }


def one_by_one(session: Any, job: Job, record: AttemptRecord, outcome: Outcome | None) -> bool:
    done = finish_job(
        session, job, "succeeded", owner="w", unless_canceled=True, record={"answered_model": "m"}
    )
    if done:
        write_attempt(session, job.id, record)
        if outcome is not None:
            write_outcome(session, job.id, outcome, replace=False)
    return bool(done)


@pytest.mark.parametrize("billed", [True, False])
def test_one_statement_writes_what_the_statements_one_by_one_write(
    database_url: str, tmp_path: Path, billed: bool
) -> None:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 3)[:3][-1])

    fast, fast_shas = claimed_job(database_url, tmp_path, "fast")
    slow, slow_shas = claimed_job(database_url, tmp_path, "slow")
    engine = get_engine(database_url)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session_scope(database_url) as session:
            done = finish_attempt(
                session,
                fast,
                "succeeded",
                owner="w",
                attempt=attempt(fast_shas, billed=billed),
                outcome=OUTCOME,
                unless_canceled=True,
                record={"answered_model": "m"},
            )
            assert done and done.delivery_id is not None  # the webhook's outbox row too
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    with session_scope(database_url) as session:
        assert one_by_one(session, slow, attempt(slow_shas, billed=billed), OUTCOME)
    assert written(database_url, fast.id, fast_shas) == written(database_url, slow.id, slow_shas)
    got = written(database_url, fast.id, fast_shas)
    assert got["images"][1]["transport"] == "inline" and got["result"]["caption"] == "two cats"
    assert len(got["detections"]) == 2 and got["facts"] == ("image/png", 640, 480, 1)
    assert (got["usage"]["prompt_tokens"] is not None) == billed
    # the guard, the images, usage and results in one; then the image facts, the detections
    # and the outbox row (the producer lookup is skipped: no producer)
    assert len(statements) == 4, statements


def test_a_refused_guard_writes_nothing(database_url: str, tmp_path: Path) -> None:
    job, shas = claimed_job(database_url, tmp_path, "lost")
    with session_scope(database_url) as session:
        done = finish_attempt(
            session, job, "succeeded", owner="someone else", attempt=attempt(shas), outcome=OUTCOME
        )
        assert not done
    got = written(database_url, job.id, shas)
    assert got["job"][0] == "running" and got["usage"] is None and got["result"] is None
    assert got["detections"] == [] and got["images"][0]["sent_width"] is None
