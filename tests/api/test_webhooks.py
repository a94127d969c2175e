"""Webhooks end to end: signed deliveries verified by the standardwebhooks library, retries on
the scaled schedule with one webhook-id, 410, redirects, the address guard, replay, rotation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from api.client import ImageJobsClient, verify_webhook
from imagejobs.runtime import Runtime
from imagejobs.settings import DEFAULT_WEBHOOK_SCHEDULE, get_settings
from imagejobs.store.producers import NewKey
from tests.api.conftest import (
    LocalHTTP,
    Request,
    api_settings,
    event_of,
    png,
    scene_png,
    serve,
    wait_for,
)
from tests.services import WorkerProcess
from worker.interop import submit_payload

if TYPE_CHECKING:
    from imagejobs.emulator import EmulatorServer

pytestmark = pytest.mark.slow

SCALE = 0.002  # the worker fixture's IMAGEJOBS_WEBHOOK_SCHEDULE_SCALE
JITTER = 0.1


def verifying(receiver: LocalHTTP, secrets: list[str]) -> list[tuple[str, int]]:
    """Make ``receiver`` answer 401 unless a signature verifies; returns (event, secret #) seen."""
    verified: list[tuple[str, int]] = []

    def check(request: Request) -> tuple[int, dict[str, str], bytes] | None:
        matched = False
        for index, secret in enumerate(secrets):
            try:
                event = Webhook(secret).verify(request.body, request.headers)
            except WebhookVerificationError:
                continue
            verified.append((event["type"], index))
            matched = True
        return None if matched else (401, {}, b"bad signature")

    receiver.on_post = check
    return verified


def test_events_are_signed_and_verify(
    client: ImageJobsClient,
    alpha: NewKey,
    worker: WorkerProcess,
    local_http: Callable[..., LocalHTTP],
) -> None:
    receiver = local_http()
    verified = verifying(receiver, alpha.producer.webhook_secrets)
    job = client.submit(
        [png()],
        task="caption",
        metadata={"order": "A-1"},
        webhook_url=receiver.url("/hook"),
        webhook_events=["job.started", "job.succeeded"],
    )
    assert client.wait(job["id"], timeout=60)["status"] == "succeeded"
    wait_for(lambda: len(verified) == 2, what="two verified webhooks")
    assert sorted(verified) == [("job.started", 0), ("job.succeeded", 0)]
    succeeded = next(r for r in receiver.posts() if event_of(r)["type"] == "job.succeeded")
    event = verify_webhook(succeeded.headers, succeeded.body, alpha.producer.webhook_secrets[0])
    assert event["data"]["id"] == job["id"]
    assert event["data"]["metadata"] == {"order": "A-1"}
    assert event["data"]["links"]["self"] == f"/v1/jobs/{job['id']}"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(
            succeeded.headers,
            succeeded.body.replace(b"A-1", b"A-2"),
            alpha.producer.webhook_secrets[0],
        )


class EventError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str


class EventLinks(BaseModel):
    model_config = ConfigDict(extra="allow")

    self: str


class EventData(BaseModel):
    """README, "4. Webhooks": data is {id, status, task, model, error, links, metadata,
    results} (results summarised, the full job behind links.self)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: Literal["running", "succeeded", "failed", "canceled"]
    task: Literal["caption", "ask", "classify", "detect", "segment", "compare"]
    model: str = Field(min_length=1)
    error: EventError | None
    links: EventLinks
    metadata: dict[str, Any]
    results: dict[str, Any]


class Event(BaseModel):
    """README, "4. Webhooks": the body is {"type", "timestamp", "data"}."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["job.started", "job.succeeded", "job.failed", "job.canceled"]
    timestamp: datetime
    data: EventData


def test_delivered_bodies_match_the_readme_schema(
    client: ImageJobsClient,
    alpha: NewKey,
    emulator: EmulatorServer,
    worker: WorkerProcess,
    local_http: Callable[..., LocalHTTP],
) -> None:
    receiver = local_http()
    secret = alpha.producer.webhook_secrets[0]
    ok = client.submit(
        [scene_png()], task="detect", metadata={"order": 1}, webhook_url=receiver.url("/ok")
    )
    assert client.wait(ok["id"], timeout=60)["status"] == "succeeded"
    bad = {"code": 400, "status": "INVALID_ARGUMENT", "message": "Unable to process input image"}
    emulator.control.script([{"error": bad}])
    failed = client.submit(
        [png()], task="caption", metadata={"order": 2}, webhook_url=receiver.url("/failed")
    )
    done = client.wait(failed["id"], timeout=60)
    assert done["status"] == "failed" and done["error"]["code"] == "gemini_400", done["error"]
    posts = wait_for(lambda: len(receiver.posts()) >= 2 and receiver.posts(), what="2 webhooks")
    events = {
        post.path: Event.model_validate(verify_webhook(post.headers, post.body, secret))
        for post in posts
    }
    succeeded, failure = events["/ok"], events["/failed"]
    assert succeeded.type == "job.succeeded" and succeeded.data.id == ok["id"]
    assert (succeeded.data.task, succeeded.data.model) == ("detect", ok["model"])
    assert succeeded.data.error is None and succeeded.data.metadata == {"order": 1}
    assert succeeded.data.results["detection_count"] == 5  # a summary of the detections
    assert failure.type == "job.failed" and failure.data.status == "failed"
    assert (failure.data.task, failure.data.model) == ("caption", failed["model"])
    assert failure.data.error is not None
    assert failure.data.error.code == "gemini_400"
    assert "Unable to process input image" in failure.data.error.message
    assert failure.data.links.self == f"/v1/jobs/{failed['id']}"


def test_three_500s_then_200_four_attempts_one_id_on_schedule(
    client: ImageJobsClient, worker: WorkerProcess, local_http: Callable[..., LocalHTTP]
) -> None:
    receiver = local_http()
    none: dict[str, str] = {}
    receiver.post_script = [(500, none, b"oops")] * 3 + [(200, none, b"ok")]
    job = client.submit([png()], task="caption", webhook_url=receiver.url("/hook"))
    client.wait(job["id"], timeout=60)
    deliveries = wait_for(
        lambda: [d for d in client.deliveries(job["id"]) if d["status"] == "succeeded"],
        what="delivery to succeed",
    )
    posts = receiver.posts()
    assert len(posts) == 4
    assert len({p.headers["webhook-id"] for p in posts}) == 1
    assert posts[0].headers["webhook-id"] == deliveries[0]["webhook_id"]
    assert [a["status_code"] for a in deliveries[0]["attempt_log"]] == [500, 500, 500, 200]
    assert deliveries[0]["attempts"] == 4
    for index in range(1, 4):  # each gap is at least the scheduled delay less its jitter
        gap = posts[index].at - posts[index - 1].at
        assert gap >= DEFAULT_WEBHOOK_SCHEDULE[index] * SCALE * (1 - JITTER), (index, gap)


def test_410_disables_the_endpoint_until_a_replay(
    api_url: str,
    make_producer: Callable[[str], NewKey],
    worker: WorkerProcess,
    local_http: Callable[..., LocalHTTP],
) -> None:
    receiver = local_http()
    receiver.post_script = [(410, {}, b"gone")]
    owner = make_producer("gone")
    with ImageJobsClient(api_url, owner.api_key) as c:
        first = c.submit([png()], task="caption", webhook_url=receiver.url("/hook"))
        c.wait(first["id"], timeout=60)
        delivery = wait_for(
            lambda: [d for d in c.deliveries(first["id"]) if d["status"] == "disabled"],
            what="delivery disabled",
        )[0]
        assert delivery["last_status_code"] == 410 and delivery["attempts"] == 1
        second = c.submit([png()], task="caption", webhook_url=receiver.url("/hook"))
        assert c.wait(second["id"], timeout=60)["status"] == "succeeded"
        assert c.deliveries(second["id"]) == []  # nothing written for a disabled endpoint
        assert len(receiver.posts()) == 1
        replayed = c.replay(delivery["id"])  # the receiver now answers 204
        assert replayed["status"] == "pending" and replayed["webhook_id"] == delivery["webhook_id"]
        done = wait_for(
            lambda: [d for d in c.deliveries(first["id"]) if d["status"] == "succeeded"],
            what="replay to succeed",
        )[0]
        assert [a["status_code"] for a in done["attempt_log"]] == [410, 204]
        posts = receiver.posts()
        assert posts[1].headers["webhook-id"] == posts[0].headers["webhook-id"]
        third = c.submit([png()], task="caption", webhook_url=receiver.url("/hook"))
        c.wait(third["id"], timeout=60)
        wait_for(lambda: len(receiver.posts()) == 3, what="endpoint re-enabled by the replay")


def test_302_is_not_followed(
    client: ImageJobsClient, worker: WorkerProcess, local_http: Callable[..., LocalHTTP]
) -> None:
    receiver = local_http()
    receiver.post_script = [(302, {"Location": receiver.url("/elsewhere")}, b"")] * 10
    job = client.submit([png()], task="caption", webhook_url=receiver.url("/hook"))
    client.wait(job["id"], timeout=60)
    delivery = wait_for(
        lambda: [d for d in client.deliveries(job["id"]) if d["attempts"] >= 1],
        what="first attempt",
    )[0]
    first = delivery["attempt_log"][0]
    assert first["status_code"] == 302
    assert "redirect not followed" in first["error"]
    assert delivery["status"] == "pending"  # a redirect is a failed attempt, retried later
    assert {r.path for r in receiver.requests} == {"/hook"}


REFUSED_HOSTS = ["10.0.0.1", "169.254.169.254", "192.168.1.1", "0.0.0.0", "[::1]"]


def test_refused_image_urls_fail_the_job_without_a_connection(
    client: ImageJobsClient, worker: WorkerProcess, local_http: Callable[..., LocalHTTP]
) -> None:
    # 127.0.0.2 is loopback too but not on the test worker's allowlist (127.0.0.1, localhost).
    trap = local_http("127.0.0.2")
    trap.routes["/a.png"] = (200, {"Content-Type": "image/png"}, png())
    urls = [trap.url("/a.png")] + [f"http://{host}:8080/a.png" for host in REFUSED_HOSTS]
    jobs = [client.submit([url], task="caption") for url in urls]
    for job, url in zip(jobs, urls, strict=True):
        done = client.wait(job["id"], timeout=60)
        assert done["status"] == "failed", url
        assert done["error"]["code"] == "image_url_refused", done["error"]
        assert done["error"]["message"].startswith("image 1: refused:"), done["error"]
    assert trap.connections == 0


def test_refused_callback_url_is_422_at_intake(
    api_url: str,
    make_producer: Callable[[str], NewKey],
    local_http: Callable[..., LocalHTTP],
) -> None:
    trap = local_http("127.0.0.2")  # loopback, but not on the allowlist
    owner = make_producer("callbacks")
    auth = {"Authorization": f"Bearer {owner.api_key}"}
    cases = {
        trap.url("/hook"): "127.0.0.2 is a loopback address",
        "http://169.254.169.254/hook": "link-local (cloud metadata)",
        "http://10.0.0.1/hook": "a private address",
        "http://[::1]:8080/hook": "loopback",
        "http://0x7f.2/hook": "loopback",
        "http://no-such-host.invalid/hook": "could not resolve host",
    }
    image = {"data": base64.b64encode(png()).decode()}
    for url, words in cases.items():
        body = {"task": "caption", "images": [image], "webhook_url": url}
        response = httpx.post(f"{api_url}/v1/jobs", json=body, headers=auth)
        assert response.status_code == 422, (url, response.text)
        problem = response.json()
        assert problem["errors"][0]["field"] == "webhook_url", problem
        assert words in problem["errors"][0]["message"], problem
        multipart = httpx.post(
            f"{api_url}/v1/jobs",
            data={"job": json.dumps({"task": "caption", "webhook_url": url})},
            files=[("images", ("a.png", png(), "image/png"))],
            headers=auth,
        )
        assert multipart.status_code == 422, (url, multipart.text)
        assert multipart.json()["errors"][0]["field"] == "webhook_url"
    refused = httpx.post(
        f"{api_url}/v1/jobs",
        json={"task": "caption", "images": [image], "webhook_url": trap.url("/hook")},
        headers=auth,
    ).json()
    assert "IMAGEJOBS_URL_ALLOWLIST" in refused["detail"]
    with ImageJobsClient(api_url, owner.api_key) as c:
        assert list(c.list()) == []  # nothing was stored
    assert trap.connections == 0


def test_interop_refuses_callbacks_the_guard_refuses(
    alpha: NewKey, local_http: Callable[..., LocalHTTP]
) -> None:
    receiver = local_http()
    image = {"data": base64.b64encode(png()).decode()}
    payload = {"task": "caption", "images": [image], "webhook_url": receiver.url("/hook")}
    plain = get_settings()  # this process: no allowlist, so 127.0.0.1 is refused
    assert plain.url_allowlist == []
    refused = submit_payload(
        Runtime.from_settings(plain), {**payload, "producer": alpha.producer.name}
    )
    assert refused["error"]["status"] == 422
    assert refused["error"]["errors"][0]["field"] == "webhook_url"
    assert "loopback" in refused["error"]["detail"]
    admitted = submit_payload(
        Runtime.from_settings(api_settings()), {**payload, "producer": alpha.producer.name}
    )
    assert "job_id" in admitted, admitted


def test_the_sender_checks_the_callback_again(
    database_url: str,
    broker_url: str,
    alpha: NewKey,
    worker: WorkerProcess,
    local_http: Callable[..., LocalHTTP],
) -> None:
    """An API that admits more than the worker does: the worker's guard still refuses."""
    from api.app import create_app

    trap = local_http("127.0.0.2")
    settings = api_settings(url_allowlist=["127.0.0.1", "localhost", "127.0.0.2"])
    with serve(create_app(settings)) as url, ImageJobsClient(url, alpha.api_key) as c:
        job = c.submit([png()], task="caption", webhook_url=trap.url("/hook"))
        assert c.wait(job["id"], timeout=60)["status"] == "succeeded"
        delivery = wait_for(partial(_attempted, c, job["id"]), what="first attempt")[0]
    first = delivery["attempt_log"][0]
    assert first["status_code"] is None
    assert first["error"].startswith("refused: 127.0.0.2 is a loopback address"), first
    assert trap.connections == 0


def _attempted(client: ImageJobsClient, job_id: str) -> list[dict[str, Any]]:
    return [d for d in client.deliveries(job_id) if d["attempts"] >= 1]


def test_secret_rotation_signs_with_both_until_finished(
    api_url: str,
    make_producer: Callable[[str], NewKey],
    worker: WorkerProcess,
    local_http: Callable[..., LocalHTTP],
) -> None:
    owner = make_producer("rotating")
    old = owner.producer.webhook_secrets[0]
    with ImageJobsClient(api_url, owner.api_key) as c:
        secrets = c.rotate_webhook_secret()
        assert len(secrets) == 2 and secrets[1] == old and secrets[0] != old
        receiver = local_http()
        verified = verifying(receiver, [old, secrets[0]])
        job = c.submit([png()], task="caption", webhook_url=receiver.url("/hook"))
        c.wait(job["id"], timeout=60)
        wait_for(lambda: len(verified) == 2, what="both signatures verified")
        assert sorted(verified) == [("job.succeeded", 0), ("job.succeeded", 1)]
        assert c.rotate_webhook_secret(finish=True) == [secrets[0]]
        verified.clear()
        job = c.submit([png()], task="caption", webhook_url=receiver.url("/hook"))
        c.wait(job["id"], timeout=60)
        wait_for(lambda: verified, what="new secret verified")
        assert verified == [("job.succeeded", 1)]
