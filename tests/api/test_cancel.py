"""Canceling over HTTP: a running job ends canceled without its late results, a parked one
at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from standardwebhooks import Webhook

from api.client import ImageJobsClient, ImageJobsError
from imagejobs.emulator import EmulatorServer
from imagejobs.store.producers import NewKey
from tests.api.conftest import LocalHTTP, png, scene_png, wait_for
from tests.services import WorkerProcess

pytestmark = pytest.mark.slow


def test_cancel_while_running_drops_late_results(
    client: ImageJobsClient, emulator: EmulatorServer, worker: WorkerProcess
) -> None:
    emulator.control.set_faults(latency_s=3)
    job = client.submit([scene_png()], task="detect")
    wait_for(lambda: client.get(job["id"])["status"] == "running", what="job running")
    canceling = client.cancel(job["id"])
    assert canceling["status"] == "running"  # the worker ends it
    done = client.wait(job["id"], timeout=30)
    assert done["status"] == "canceled"
    assert done["error"]["code"] == "canceled"
    assert done["detections"] == [] and done["caption"] is None
    assert emulator.control.stats()["calls"]["generateContent"] == 1


def test_cancel_a_parked_job_ends_it_at_once_with_a_webhook(
    client: ImageJobsClient,
    alpha: NewKey,
    emulator: EmulatorServer,
    worker: WorkerProcess,
    local_http: Callable[..., LocalHTTP],
) -> None:
    receiver = local_http()
    quota = {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota", "retryDelay": "30s"}
    emulator.control.script([{"error": quota}])
    job = client.submit([png()], task="caption", webhook_url=receiver.url("/hook"))
    parked = wait_for(
        lambda: (j := client.get(job["id"]))["next_attempt_at"] and j["status"] == "queued" and j,
        what="job parked",
    )
    assert parked["error"]["code"] == "gemini_429"
    canceled = client.cancel(job["id"])
    assert canceled["status"] == "canceled"
    posts = wait_for(receiver.posts, what="job.canceled webhook")
    event = Webhook(alpha.producer.webhook_secrets[0]).verify(posts[0].body, posts[0].headers)
    assert event["type"] == "job.canceled" and event["data"]["id"] == job["id"]
    assert client.cancel(job["id"])["status"] == "canceled"  # canceling again is harmless
    assert emulator.control.stats()["calls"]["generateContent"] == 1


def test_cancel_a_finished_job_is_409(client: ImageJobsClient, worker: WorkerProcess) -> None:
    job = client.submit([png()], task="caption")
    assert client.wait(job["id"], timeout=60)["status"] == "succeeded"
    with pytest.raises(ImageJobsError) as caught:
        client.cancel(job["id"])
    assert caught.value.status == 409
    assert "already succeeded" in caught.value.problem["detail"]
