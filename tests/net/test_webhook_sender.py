"""deliver() against a real local receiver that checks every signature with standardwebhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from imagejobs.net import GuardedFetcher
from imagejobs.webhooks import build_event, deliver, encode_event, new_secret

BODY = encode_event(
    build_event(
        "job.succeeded",
        {"id": "job_123", "status": "succeeded"},
        {"self": "http://api.example/v1/jobs/job_123"},
        {"customer": "acme"},
        {"count": 1, "captions": ["a cat on a mat"]},
    )
)


def verifying_receiver(server: Any, secrets: list[str]) -> list[str]:
    """Make ``server`` answer 401 unless a signature verifies with one of ``secrets``.

    Returns the list the receiver appends "secret #i" to for each secret that verified.
    """
    verified: list[str] = []

    def check(request: Any) -> tuple[int, dict[str, str], bytes] | None:
        matched = False
        for index, secret in enumerate(secrets):
            try:
                event = Webhook(secret).verify(request.body, request.headers)
            except WebhookVerificationError:
                continue
            assert event == json.loads(request.body)
            verified.append(f"secret #{index}")
            matched = True
        return None if matched else (401, {}, b"bad signature")

    server.on_post = check
    return verified


def allowing(timeout_s: float = 5.0) -> GuardedFetcher:
    return GuardedFetcher(allowlist=("127.0.0.1",), timeout_s=timeout_s)


def test_signed_delivery_verifies_at_the_receiver(server: Any) -> None:
    secret = new_secret()
    verified = verifying_receiver(server, [secret])
    outcome = deliver(allowing(), server.url("/hook"), [secret], "msg_1", BODY)
    assert outcome.ok
    assert outcome.status_code == 204
    assert outcome.error is None
    assert outcome.duration_ms >= 0
    assert verified == ["secret #0"]
    request = server.requests[0]
    assert request.body == BODY
    assert request.headers["webhook-id"] == "msg_1"
    assert request.headers["content-type"] == "application/json"


def test_wrong_secret_is_rejected_by_the_receiver(server: Any) -> None:
    verifying_receiver(server, [new_secret()])
    outcome = deliver(allowing(), server.url("/hook"), [new_secret()], "msg_1", BODY)
    assert not outcome.ok
    assert outcome.status_code == 401
    assert outcome.error == "HTTP 401: bad signature"


@pytest.mark.parametrize("receiver_holds", ["old", "new"])
def test_rotation_sends_both_signatures_and_each_secret_verifies(
    receiver_holds: str, server: Any
) -> None:
    old, new = new_secret(), new_secret()
    verified = verifying_receiver(server, [old if receiver_holds == "old" else new])
    outcome = deliver(allowing(), server.url("/hook"), [old, new], "msg_rot", BODY)
    assert outcome.ok
    assert verified == ["secret #0"]
    assert len(server.requests[0].headers["webhook-signature"].split(" ")) == 2


def test_every_attempt_carries_the_same_webhook_id(server: Any) -> None:
    secret = new_secret()
    server.post_script.extend([(500, {}, b"oops")] * 3 + [(200, {}, b"ok")])
    outcomes = [
        deliver(allowing(), server.url("/hook"), [secret], "msg_same", BODY) for _ in range(4)
    ]
    assert [o.status_code for o in outcomes] == [500, 500, 500, 200]
    assert [o.ok for o in outcomes] == [False, False, False, True]
    assert outcomes[0].error == "HTTP 500: oops"
    assert {r.headers["webhook-id"] for r in server.requests} == {"msg_same"}
    for request in server.requests:
        Webhook(secret).verify(request.body, request.headers)


def test_302_is_not_followed(server: Any) -> None:
    server.post_script.append((302, {"Location": "/other?token=abc"}, b""))
    outcome = deliver(allowing(), server.url("/hook"), [new_secret()], "msg_1", BODY)
    assert not outcome.ok
    assert outcome.status_code == 302
    assert outcome.error is not None
    assert outcome.error.startswith("redirect not followed (302 to /other")
    assert "abc" not in outcome.error
    assert [r.path for r in server.requests] == ["/hook"]


def test_410_disables_the_endpoint(server: Any) -> None:
    server.post_script.append((410, {}, b"gone"))
    outcome = deliver(allowing(), server.url("/hook"), [new_secret()], "msg_1", BODY)
    assert outcome.disable_endpoint
    assert not outcome.ok
    assert outcome.status_code == 410


def test_other_failures_do_not_disable(server: Any) -> None:
    server.post_script.append((404, {}, b""))
    outcome = deliver(allowing(), server.url("/hook"), [new_secret()], "msg_1", BODY)
    assert not outcome.disable_endpoint
    assert outcome.error == "HTTP 404"


def test_retry_after_seconds_and_date_are_read(server: Any) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    server.post_script.append((429, {"Retry-After": "7"}, b""))
    server.post_script.append((503, {"Retry-After": later}, b""))
    first = deliver(allowing(), server.url("/hook"), [new_secret()], "msg_1", BODY)
    second = deliver(allowing(), server.url("/hook"), [new_secret()], "msg_1", BODY)
    assert first.retry_after_s == 7
    assert second.retry_after_s is not None
    assert 100 < second.retry_after_s <= 120


def test_refused_callback_url_makes_no_connection(server: Any, connect_calls: list[Any]) -> None:
    fetcher = GuardedFetcher()  # nothing allowlisted
    for host in ("127.0.0.1", "2130706433", "[::ffff:127.0.0.1]", "169.254.169.254"):
        outcome = deliver(fetcher, f"http://{host}:{server.port}/hook", [new_secret()], "m", BODY)
        assert not outcome.ok
        assert outcome.status_code is None
        assert outcome.error is not None
        assert outcome.error.startswith("refused:")
    assert connect_calls == []
    assert server.connections == 0


def test_invalid_callback_url_is_an_outcome_not_an_exception() -> None:
    outcome = deliver(GuardedFetcher(), "ftp://example.com/hook", [new_secret()], "m", BODY)
    assert outcome.status_code is None
    assert outcome.error == "URL scheme 'ftp' is not allowed; use http or https"


def test_receiver_that_never_answers_times_out(server: Any) -> None:
    def hang(request: Any) -> None:
        server.release.wait(10)
        return None

    server.on_post = hang
    outcome = deliver(allowing(timeout_s=0.3), server.url("/hook"), [new_secret()], "m", BODY)
    assert outcome.status_code is None
    assert outcome.error is not None
    assert "timed out" in outcome.error


def test_bad_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="secret #1 must be a string starting with 'whsec_'"):
        deliver(GuardedFetcher(), "http://example.com/", ["nope"], "m", BODY)
