"""The Celery interop task: ``send_task("imagejobs.submit_job", args=[payload])`` to the worker."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from api.client import ImageJobsClient
from imagejobs.broker.names import QUEUE, SUBMIT_JOB
from imagejobs.broker.queue import JobQueue
from imagejobs.runtime import Runtime
from imagejobs.settings import get_settings
from imagejobs.store.blobs import DirectoryBlobStore
from imagejobs.store.db import session_scope
from imagejobs.store.models import Job
from imagejobs.store.producers import NewKey
from tests.api.conftest import png, wait_for
from tests.services import WorkerProcess
from worker.interop import submit_payload

pytestmark = pytest.mark.slow


def _job_id(producer_id: str, key: str) -> str | None:
    with session_scope(get_settings().effective_database_url) as session:
        return session.scalars(
            select(Job.id).where(Job.producer_id == producer_id, Job.idempotency_key == key)
        ).first()


def test_send_task_lands_in_the_same_path(
    client: ImageJobsClient, alpha: NewKey, worker: WorkerProcess
) -> None:
    blob = DirectoryBlobStore(get_settings().effective_blob_dir).put(png(30, 30, "blue"))
    key = f"celery-{uuid.uuid4().hex[:8]}"
    payload: dict[str, Any] = {
        "task": "compare",
        "images": [
            {"data": base64.b64encode(png()).decode(), "filename": "a.png"},
            {"sha256": blob},
        ],
        "producer": alpha.producer.name,
        "idempotency_key": key,
        "metadata": {"from": "celery"},
    }
    app = JobQueue(get_settings()).celery
    app.send_task(SUBMIT_JOB, args=[payload], queue=QUEUE)
    app.send_task(SUBMIT_JOB, args=[payload], queue=QUEUE)  # a retry: the same job
    job_id = wait_for(lambda: _job_id(alpha.producer.id, key), what="interop job row")
    done = client.wait(job_id, timeout=60)  # the producer sees it through the API
    assert done["status"] == "succeeded", done["error"]
    assert done["metadata"] == {"from": "celery"}
    assert [i["sha256"] for i in done["images"]][1] == blob
    with session_scope(get_settings().effective_database_url) as session:
        count = session.scalars(select(Job.id).where(Job.idempotency_key == key)).all()
    assert len(count) == 1


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ("not a dict", "payload: must be a JSON object"),
        ({"task": "caption", "images": [{"sha256": "abc"}]}, "images[0].sha256"),
        ({"task": "caption", "images": [{"sha256": "0" * 64}]}, "no stored image"),
        ({"task": "caption", "images": [{"url": "http://a/"}], "producer": "nobody-x"}, "nobody"),
        ({"task": "classify", "images": [{"url": "http://a/"}]}, "labels"),
        ({"task": "caption", "images": [{"url": "http://a/"}], "idempotency_key": 5}, "string"),
    ],
)
def test_bad_payloads_return_an_error_without_raising(
    database_url: str, payload: Any, words: str
) -> None:
    result = submit_payload(Runtime.from_settings(get_settings()), payload)
    assert set(result) == {"error"}
    assert result["error"]["status"] == 422
    assert words in result["error"]["detail"]
