"""Metrics after real jobs: a worker host of two processes (its supervisor serving their sum on
IMAGEJOBS_METRICS_PORT) and the API over HTTP, on a database and broker of this test alone, the
emulator answering; /metrics is scraped over HTTP on both and its values are checked against
what was submitted, what the emulator counted and what the webhook receiver got."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import update

from api.app import create_app
from api.client import ImageJobsClient
from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings, load_settings
from imagejobs.store.db import Database
from imagejobs.store.jobs import NewImage, create_job
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Job, utcnow
from imagejobs.store.producers import NewKey, create_key
from imagejobs.submission import ImageInput, submit_job
from tests.api.conftest import LocalHTTP, free_port, serve, wait_for
from tests.e2e.test_tasks import scene_a
from tests.services import WorkerProcess, claim_redis_db, fresh_database

pytestmark = pytest.mark.slow

ALLOWLIST = ["127.0.0.1", "localhost"]
PROCESSES = 2


class Samples:
    """One scrape: sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.rows = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def series(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        return [
            (have, value)
            for found, have, value in self.rows
            if found == name and all(have.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum over the series matching ``labels`` (0 when there is none)."""
        return sum(value for _, value in self.series(name, **labels))


def scrape(url: str, auth: tuple[str, str] | None = None) -> Samples:
    answer = httpx.get(url, auth=auth, timeout=10)
    assert answer.status_code == 200, answer.text
    return Samples(answer.text)


@dataclass
class Stack:
    settings: Settings
    worker: WorkerProcess
    worker_metrics: str
    api_url: str
    producer: NewKey

    @property
    def api_metrics(self) -> str:
        return f"{self.api_url}/metrics"


@pytest.fixture(scope="module")
def stack(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("metrics")
    database = fresh_database("metrics")
    migrate(database)
    broker = claim_redis_db()
    port = free_port()
    env = {
        "IMAGEJOBS_DATABASE_URL": database,
        "IMAGEJOBS_BROKER_URL": broker,
        "IMAGEJOBS_BLOB_DIR": str(folder / "blobs"),
        "IMAGEJOBS_GEMINI_BASE_URL": emulator.base_url,
        "IMAGEJOBS_METRICS_PORT": str(port),
        "IMAGEJOBS_INLINE_LIMIT_BYTES": "1",  # every image through the Files API
        "IMAGEJOBS_RETRY_BASE_S": "0.2",
        "IMAGEJOBS_SWEEP_INTERVAL_S": "0.5",
        "IMAGEJOBS_URL_ALLOWLIST": '["127.0.0.1", "localhost"]',
        "IMAGEJOBS_WEBHOOK_SCHEDULE_SCALE": "0.002",
    }
    settings = load_settings(
        database_url=database,
        broker_url=broker,
        blob_dir=folder / "blobs",
        url_allowlist=ALLOWLIST,
    )
    with Database(database).session() as session:
        producer = create_key(session, f"metrics-{uuid.uuid4().hex[:8]}")
    worker = WorkerProcess(env, folder / "worker.log", concurrency=4, processes=PROCESSES)
    worker.start()
    try:
        with serve(create_app(settings)) as api_url:
            yield Stack(settings, worker, f"http://127.0.0.1:{port}/metrics", api_url, producer)
    finally:
        worker.stop()


def every_child_swept(stack: Stack) -> bool:
    """Each child's sweeper swept once: the broker marker is set, so no later first look sends
    the queued jobs again (which would count as re-sends)."""
    swept = scrape(stack.worker_metrics).series("imagejobs_sweeper_last_sweep_timestamp_seconds")
    return len({labels.get("pid") for labels, at in swept if at > 0}) >= PROCESSES


def waiting_job(stack: Stack) -> str:
    """A queued job not due for an hour: counted as queued and waiting, sent by nobody."""
    with Runtime.from_settings(stack.settings).db.session() as session:
        job = create_job(
            session,
            JobSpec(task="caption"),
            [NewImage(source_url="http://127.0.0.1:9/never.png")],
            default_model=stack.settings.model,
        )
        later = utcnow() + timedelta(hours=1)
        session.execute(update(Job).where(Job.id == job.id).values(next_attempt_at=later))
        return job.id


@pytest.fixture
def receiver() -> Iterator[LocalHTTP]:
    local = LocalHTTP()
    yield local
    local.close()


def status_of(stack: Stack, job_id: str) -> str:
    with Database(stack.settings.effective_database_url).session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.status


def run_jobs(stack: Stack, emulator: EmulatorServer, receiver: LocalHTTP) -> str:
    """Four API jobs with webhooks (one delivery fails once, one call gets a 429) and one job
    the sweeper sends; returns once all are done and every webhook attempt was counted."""
    receiver.post_script.append((500, {}, b"try again"))  # one attempt fails, then 204s
    quota = {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "q", "retryDelay": "0.3s"}
    emulator.control.script([{"error": quota}])  # the first call is refused, its job retries
    image = scene_a().encode("PNG")
    with ImageJobsClient(stack.api_url, stack.producer.api_key, timeout=30) as client:
        jobs = [
            client.submit([image], task="caption", webhook_url=receiver.url("/hook"))
            for _ in range(4)
        ]
        swept = submit_job(  # no message: the sweeper sends it
            Runtime.from_settings(stack.settings),
            JobSpec(task="caption"),
            [ImageInput(data=image)],
            enqueue=False,
        ).job_id
        done = [client.wait(job["id"], timeout=60) for job in jobs]
        assert [job["status"] for job in done] == ["succeeded"] * 4
    wait_for(
        lambda: status_of(stack, swept) not in ("queued", "running"),
        what="the job the sweeper sent",
    )
    assert status_of(stack, swept) == "succeeded"
    wait_for(lambda: len(receiver.posts()) == 5, what="four webhooks, one of them twice")
    wait_for(
        lambda: scrape(stack.worker_metrics).value("imagejobs_webhook_attempts_total") == 5,
        what="the worker counting the fifth webhook attempt",
    )
    return str(done[0]["model"])


def check_worker(worker: Samples, calls: dict[str, Any], model: str) -> None:
    # Gemini: what the emulator answered, call for call (4 + 1 + the 429's retry)
    answered = calls["by_model"][model]
    assert answered["ok"] == 5 and answered["429"] == 1
    assert worker.value("imagejobs_gemini_calls_total", model=model, outcome="ok") == 5
    assert worker.value("imagejobs_gemini_calls_total", model=model, outcome="429") == 1
    assert worker.value("imagejobs_gemini_calls_total") == 6
    ok_latency = worker.value("imagejobs_gemini_call_duration_seconds_count", outcome="ok")
    assert ok_latency == 5
    assert worker.value("imagejobs_gemini_calls_in_flight", model=model) == 0
    # Files API: each call sent its image as an upload or as a reuse of one
    uploads = worker.value("imagejobs_files_uploads_total", outcome="ok")
    assert uploads == calls["calls"]["upload"] >= 1
    assert uploads + worker.value("imagejobs_files_reuses_total") == 6
    assert worker.value("imagejobs_files_uploads_total", outcome="error") == 0
    # Webhooks: four deliveries, one of which failed once
    assert worker.value("imagejobs_webhook_attempts_total", outcome="ok") == 4
    assert worker.value("imagejobs_webhook_attempts_total", outcome="5xx") == 1
    assert worker.value("imagejobs_webhook_deliveries_finished_total", status="succeeded") == 4
    # The sweeper sent the one job that had no message
    assert worker.value("imagejobs_sweeper_resends_total", kind="job") == 1
    assert worker.value("imagejobs_sweeper_errors_total") == 0
    # Jobs: five finished, each counted once with its run time; the queue wait of the four
    # finished by their first attempt (the 429'd one finished on its second); billed tokens
    finished = {"task": "caption", "model": model, "status": "succeeded", "error_code": "none"}
    assert worker.value("imagejobs_jobs_finished_total", **finished) == 5
    assert worker.value("imagejobs_jobs_finished_total") == 5
    timed = {"task": "caption", "model": model}
    assert worker.value("imagejobs_job_duration_seconds_count", **timed) == 5
    assert worker.value("imagejobs_job_queue_wait_seconds_count", **timed) == 4
    assert worker.value("imagejobs_tokens_total", model=model, kind="prompt") > 0
    assert worker.value("imagejobs_tokens_total", model=model, kind="estimated") > 0
    # Served once: the worker's endpoint has no queue depth
    assert worker.series("imagejobs_queue_jobs") == []


def check_api(api: Samples, before: Samples, producer: str) -> None:
    assert api.value("imagejobs_jobs_accepted_total", task="caption", producer=producer) == 4
    posted = {"method": "POST", "route": "/v1/jobs"}
    status = {**posted, "status": "202"}
    for name, labels in (
        ("imagejobs_http_requests_total", status),
        ("imagejobs_http_request_duration_seconds_count", posted),
    ):
        assert api.value(name, **labels) == before.value(name, **labels) + 4
    polled = {"method": "GET", "route": "/v1/jobs/{job_id}", "status": "200"}
    assert api.value("imagejobs_http_requests_total", **polled) >= 4
    # The queue depth: only the job that waits an hour is left; nothing on the broker
    assert api.value("imagejobs_queue_jobs", status="queued") == 1
    assert api.value("imagejobs_queue_jobs_waiting") == 1
    assert api.value("imagejobs_queue_jobs", status="running") == 0
    assert api.value("imagejobs_broker_messages", queue="imagejobs") == 0
    assert api.value("imagejobs_queue_depth_up", source="database") == 1
    assert api.value("imagejobs_queue_depth_up", source="broker") == 1


def test_metrics_after_real_jobs(
    stack: Stack, emulator: EmulatorServer, receiver: LocalHTTP
) -> None:
    wait_for(lambda: every_child_swept(stack), what="every worker process's first sweep")
    waiting_job(stack)
    before = scrape(stack.api_metrics)
    model = run_jobs(stack, emulator, receiver)
    check_worker(scrape(stack.worker_metrics), emulator.control.stats(), model)
    check_api(scrape(stack.api_metrics), before, stack.producer.producer.id)


def test_api_metrics_ask_for_basic_auth_when_it_is_set(stack: Stack) -> None:
    settings = stack.settings.model_copy(
        update={"metrics_basic_auth": SecretStr("prom:pw"), "metrics_queue_depth": False}
    )
    with serve(create_app(settings)) as url:
        refused = httpx.get(f"{url}/metrics", timeout=10)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic")
        wrong = "Basic " + base64.b64encode(b"prom:nope").decode()
        assert httpx.get(f"{url}/metrics", headers={"Authorization": wrong}).status_code == 401
        samples = scrape(f"{url}/metrics", auth=("prom", "pw"))
        assert samples.series("imagejobs_queue_jobs") == []  # turned off for this app
        assert samples.series("imagejobs_http_requests_total", route="/metrics", status="401")


def test_the_worker_endpoint_answers_only_metrics(stack: Stack) -> None:
    base = stack.worker_metrics.removesuffix("/metrics")
    assert httpx.get(f"{base}/", timeout=10).status_code == 404
    assert httpx.get(stack.worker_metrics, timeout=10).status_code == 200
