"""The results console through Starlette's TestClient on the real database: signing in (API key,
operator), what a producer may see, CSRF, escaping, filters and paging, submit errors worded as
the API words them, spend per day."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import update

from api.app import create_app
from api.console.auth import admin_matches
from api.console.routes_auth import safe_next
from api.console.sign_in_limit import MAX_FAILURES
from imagejobs.core.jobspec import JobSpec
from imagejobs.runtime import Runtime
from imagejobs.store.models import FINAL_STATUSES, Job, Usage, utcnow
from imagejobs.store.outbox import add_webhook_event
from imagejobs.store.producers import NewKey, revoke_key
from imagejobs.submission import ImageInput, submit_job
from tests.api.conftest import api_settings, png

ADMIN = "root:s3cret-pass"
EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Runtime:
    settings = api_settings(
        console_admin=SecretStr(ADMIN), console_secret=SecretStr("console-test-secret-0123456789")
    )
    return Runtime.from_settings(settings)


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def sign_in(client: TestClient, **fields: str) -> Any:
    form = client.get("/console/sign-in")
    assert form.status_code == 200
    return client.post("/console/sign-in", data={"csrf_token": csrf_of(form.text), **fields})


def signed_in(client: TestClient, key: NewKey) -> str:
    """Sign in with ``key``; returns the session's CSRF token (from the jobs page)."""
    answer = sign_in(client, api_key=key.api_key)
    assert answer.status_code == 303, answer.text
    page = client.get("/console/jobs")
    assert page.status_code == 200
    return csrf_of(page.text)


def stored_job(runtime: Runtime, key: NewKey | None, **fields: Any) -> str:
    spec = JobSpec(**{"task": "detect", **fields})
    image = ImageInput(data=png(), filename="x.png")
    producer = key.producer.id if key else None
    return submit_job(runtime, spec, [image], producer_id=producer, enqueue=False).job_id


@pytest.fixture
def producer(make_producer: Callable[[str], NewKey]) -> NewKey:
    return make_producer("console")


def test_root_sends_people_to_the_jobs_list_and_signing_in(browser: TestClient) -> None:
    assert browser.get("/").headers["location"] == "/console/jobs"
    answer = browser.get("/console/jobs?status=failed")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fjobs%3Fstatus%3Dfailed"
    page = browser.get(answer.headers["location"])
    assert page.status_code == 200 and 'name="api_key"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_a_wrong_or_revoked_key_is_refused(
    browser: TestClient, runtime: Runtime, producer: NewKey
) -> None:
    answer = sign_in(browser, api_key="ij_" + "x" * 43)
    assert answer.status_code == 401
    assert "unknown or revoked API key" in answer.text
    assert browser.get("/console/jobs").status_code == 303  # still signed out
    signed_in(browser, producer)
    with runtime.db.session() as session:
        assert revoke_key(session, producer.api_key)
    assert browser.get("/console/jobs").headers["location"].startswith("/console/sign-in")


def test_a_producer_sees_only_its_own_jobs(
    browser: TestClient, runtime: Runtime, make_producer: Callable[[str], NewKey]
) -> None:
    mine_key, other_key = make_producer("mine"), make_producer("other")
    mine = stored_job(runtime, mine_key)
    theirs = stored_job(runtime, other_key, target="their secret target")
    signed_in(browser, mine_key)
    listing = browser.get("/console/jobs").text
    assert mine in listing and theirs not in listing
    assert browser.get(f"/console/jobs/{mine}").status_code == 200
    page = browser.get(f"/console/jobs/{theirs}")
    assert page.status_code == 404
    assert "their secret target" not in page.text
    assert browser.get(f"/console/jobs/{theirs}/images/0/overlay.png").status_code == 404
    own_png = browser.get(f"/console/jobs/{mine}/images/0/overlay.png")
    assert own_png.status_code == 200 and own_png.content.startswith(b"\x89PNG")
    assert browser.get("/console/jobs/not-a-job").status_code == 404


def test_guessing_the_password_is_held_back_per_address(
    browser: TestClient, producer: NewKey
) -> None:
    """After MAX_FAILURES wrong sign-ins from one address every sign-in from it is refused with
    429 and Retry-After, the right password and a valid key too, until the failures age out."""
    user, password = ADMIN.split(":")
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(browser, user=user, password="guess").status_code == 401
    assert sign_in(browser).status_code == 401  # an empty form is no guess: not counted
    assert sign_in(browser, api_key="ij_" + "y" * 43).status_code == 401  # a wrong key counts
    for fields in ({"user": user, "password": password}, {"api_key": producer.api_key}):
        refused = sign_in(browser, **fields)
        assert refused.status_code == 429, refused.text
        assert 590 <= int(refused.headers["retry-after"]) <= 600
        assert "too many failed sign-ins from this address" in refused.text
    limit = browser.app.state.console.sign_in_limit  # type: ignore[attr-defined]
    limit._failures.clear()  # as if the window had passed (the clock: tests/unit)
    assert sign_in(browser, user=user, password=password).status_code == 303


def test_the_operator_sees_every_job_and_a_wrong_password_is_refused(
    browser: TestClient, runtime: Runtime, producer: NewKey
) -> None:
    job_id = stored_job(runtime, producer)
    orphan = stored_job(runtime, None)
    user, password = ADMIN.split(":")
    assert sign_in(browser, user=user, password="wrong").status_code == 401
    assert sign_in(browser, user=user, password=password).status_code == 303
    listing = browser.get("/console/jobs").text
    assert job_id in listing and orphan in listing and producer.producer.name in listing
    assert browser.get(f"/console/jobs/{orphan}").status_code == 200
    assert admin_matches(runtime.settings, user, password)
    assert not admin_matches(runtime.settings, user, password + "x")


def test_posts_without_the_sessions_csrf_token_are_refused(
    browser: TestClient, runtime: Runtime, producer: NewKey
) -> None:
    form = browser.get("/console/sign-in")
    refused = browser.post("/console/sign-in", data={"api_key": producer.api_key})
    assert refused.status_code == 403 and "CSRF" in refused.text
    token = signed_in(browser, producer)
    image = {"images": ("a.png", png(), "image/png")}
    for bad in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf_of(form.text)}):
        answer = browser.post("/console/submit", data={"task": "caption", **bad}, files=image)
        assert answer.status_code == 403, bad
    assert browser.post("/console/sign-out", data={"csrf_token": "forged"}).status_code == 403
    assert browser.get("/console/jobs").status_code == 200  # still signed in
    job_id = stored_job(runtime, producer, webhook_url="http://127.0.0.1:9/hook")
    delivery = _fail_with_delivery(runtime, job_id, "boom")
    assert browser.post(f"/console/deliveries/{delivery}/replay", data={}).status_code == 403
    replayed = browser.post(f"/console/deliveries/{delivery}/replay", data={"csrf_token": token})
    assert replayed.status_code == 303
    assert replayed.headers["location"] == f"/console/jobs/{job_id}#deliveries"
    assert browser.post("/console/sign-out", data={"csrf_token": token}).status_code == 303
    assert browser.get("/console/jobs").status_code == 303


def test_another_producers_delivery_cannot_be_replayed(
    browser: TestClient, runtime: Runtime, make_producer: Callable[[str], NewKey]
) -> None:
    owner, intruder = make_producer("owner"), make_producer("intruder")
    job_id = stored_job(runtime, owner, webhook_url="http://127.0.0.1:9/hook")
    delivery = _fail_with_delivery(runtime, job_id, "boom")
    token = signed_in(browser, intruder)
    answer = browser.post(f"/console/deliveries/{delivery}/replay", data={"csrf_token": token})
    assert answer.status_code == 404


def _fail_with_delivery(runtime: Runtime, job_id: str, message: str) -> str:
    """Fail the queued job with ``message`` and write its job.failed outbox row."""
    with runtime.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.error_code, job.error_message = "failed", "test_error", message
        row = add_webhook_event(session, job, "job.failed", links={}, summary={})
        assert row is not None
        session.flush()
        return row.id


def test_everything_a_producer_wrote_is_escaped(
    browser: TestClient, runtime: Runtime, producer: NewKey
) -> None:
    job_id = stored_job(
        runtime,
        producer,
        target=EVIL,
        prompt="<b>bold</b>",
        metadata={"note": EVIL},
        webhook_url="http://127.0.0.1:9/<i>hook</i>",
    )
    _fail_with_delivery(runtime, job_id, f"failed: {EVIL}")
    signed_in(browser, producer)
    page = browser.get(f"/console/jobs/{job_id}").text
    assert "<script>alert" not in page and "<b>bold" not in page and "<i>hook" not in page
    assert "&lt;script&gt;alert(" in page  # the error message and the target, shown as text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_submit_errors_read_as_the_api_words_them(browser: TestClient, producer: NewKey) -> None:
    token = signed_in(browser, producer)
    files = [("images", ("one.png", png(), "image/png"))]
    console = browser.post(
        "/console/submit", data={"csrf_token": token, "task": "ask", "question": ""}, files=files
    )
    api = browser.post(
        "/v1/jobs",
        data={"job": '{"task": "ask"}'},
        files=files,
        headers={"Authorization": f"Bearer {producer.api_key}"},
    )
    assert console.status_code == api.status_code == 422
    assert api.json()["detail"] in console.text.replace("&#39;", "'")
    not_an_image = [("images", ("notes.png", b"plain text, not a picture", "image/png"))]
    console = browser.post(
        "/console/submit", data={"csrf_token": token, "task": "caption"}, files=not_an_image
    )
    assert console.status_code == 422 and "image 1 (notes.png)" in console.text
    none_chosen = [("images", ("", b"", "application/octet-stream"))]
    console = browser.post(
        "/console/submit", data={"csrf_token": token, "task": "caption"}, files=none_chosen
    )
    assert console.status_code == 422 and "a job needs at least one image" in console.text


def test_a_submitted_job_opens_its_page(
    browser: TestClient, runtime: Runtime, producer: NewKey
) -> None:
    token = signed_in(browser, producer)
    answer = browser.post(
        "/console/submit",
        data={"csrf_token": token, "task": "classify", "labels": "cat, dog", "question": "ignored"},
        files=[("images", ("pet.png", png(), "image/png"))],
    )
    assert answer.status_code == 303
    job_id = answer.headers["location"].rsplit("/", 1)[1]
    with runtime.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.producer_id == producer.producer.id
        assert job.params["labels"] == ["cat", "dog"] and job.params["question"] is None
    page = browser.get(answer.headers["location"])
    assert page.status_code == 200 and "pet.png" in page.text
    # The job was enqueued, so the suite's worker may have run it already: the page polls for
    # its status while the status it shows is not final.
    shown = re.search(r'class="status big s-(\w+)"', page.text)
    assert shown is not None, page.text
    assert ('hx-trigger="every 2s"' in page.text) == (shown.group(1) not in FINAL_STATUSES)


def test_a_job_page_polls_until_the_job_is_final(
    browser: TestClient, runtime: Runtime, producer: NewKey
) -> None:
    job_id = stored_job(runtime, producer)
    with runtime.db.session() as session:  # parked an hour: no worker takes it meanwhile
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(next_attempt_at=utcnow() + timedelta(hours=1))
        )
    signed_in(browser, producer)
    assert 'hx-trigger="every 2s"' in browser.get(f"/console/jobs/{job_id}").text
    with runtime.db.session() as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(status="succeeded", finished_at=utcnow())
        )
    assert 'hx-trigger="every 2s"' not in browser.get(f"/console/jobs/{job_id}").text


def test_filters_and_cursor_paging(browser: TestClient, runtime: Runtime, producer: NewKey) -> None:
    detect = [stored_job(runtime, producer) for _ in range(3)]
    caption = stored_job(runtime, producer, task="caption", model="gemini-2.5-flash")
    signed_in(browser, producer)
    page = browser.get("/console/jobs?task=detect&limit=2").text
    assert detect[2] in page and detect[1] in page and detect[0] not in page
    older = re.search(r'href="(/console/jobs\?[^"]*cursor=[^"]+)"', page)
    assert older, page
    second = browser.get(older.group(1).replace("&amp;", "&")).text
    assert detect[0] in second and detect[1] not in second and caption not in second
    by_model = browser.get("/console/jobs?model=gemini-2.5-flash").text
    assert caption in by_model and detect[0] not in by_model
    future = browser.get("/console/jobs?since=2999-01-01T00:00").text
    assert caption not in future and "No job matches these filters." in future
    bad = browser.get("/console/jobs?status=lost&since=yesterday")
    assert bad.status_code == 400
    text = bad.text.replace("&#39;", "'")
    assert "status: 'lost' is not one of" in text and "from: 'yesterday' is not" in text


def test_spend_per_day_counts_the_producers_jobs(
    browser: TestClient, runtime: Runtime, make_producer: Callable[[str], NewKey]
) -> None:
    spender = make_producer(f"spender-{uuid.uuid4().hex[:4]}")
    jobs = [stored_job(runtime, spender) for _ in range(2)]
    with runtime.db.session() as session:  # finished: the suite's worker leaves them alone
        session.execute(update(Job).where(Job.id.in_(jobs)).values(status="succeeded"))
        session.add(Usage(job_id=jobs[0], estimated_tokens=1200, total_tokens=1234, cost_usd=0.25))
        session.add(Usage(job_id=jobs[1], estimated_tokens=800, total_tokens=766, cost_usd=0.5))
    signed_in(browser, spender)
    page = browser.get("/console/spend?days=7").text
    today = re.search(r'<td class="nowrap">(\d{4}-\d\d-\d\d)</td>\s*<td class="num">2</td>', page)
    assert today, page
    assert "2,000" in page and "$0.7500" in page  # tokens billed 1,234 + 766; cost 0.25 + 0.5


def test_next_only_leads_inside_the_console() -> None:
    assert safe_next("/console/jobs/abc") == "/console/jobs/abc"
    for target in ("https://evil.example/", "//evil.example", "/v1/jobs", "/console/\\evil", None):
        assert safe_next(target) == "/console/jobs"


def test_an_image_that_does_not_decode_is_shown_as_a_notice(
    browser: TestClient, runtime: Runtime, producer: NewKey
) -> None:
    spec = JobSpec(task="detect")
    broken = ImageInput(data=png()[:60], filename="broken.png")
    job_id = submit_job(runtime, spec, [broken], producer_id=producer.producer.id, enqueue=False)
    signed_in(browser, producer)
    answer = browser.get(f"/console/jobs/{job_id.job_id}/images/0/overlay.png")
    assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG")
    assert browser.get(f"/console/jobs/{job_id.job_id}/images/1/overlay.png").status_code == 404
