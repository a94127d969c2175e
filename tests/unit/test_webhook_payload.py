"""Webhook event bodies (size-capped) and Standard Webhooks signing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from imagejobs.webhooks.payload import (
    EVENT_TYPES,
    MAX_ERROR_MESSAGE_CHARS,
    build_event,
    encode_event,
)
from imagejobs.webhooks.signing import new_secret, sign, verify

JOB = {"id": "job_42", "status": "succeeded"}
LINKS = {"self": "https://api.example/v1/jobs/job_42", "results": "https://api.example/r/42"}
WHEN = datetime(2025, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)


def event(summary: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return build_event("job.succeeded", JOB, LINKS, {"order": 7}, summary, timestamp=WHEN, **kwargs)


def test_small_event_is_kept_whole() -> None:
    summary = {"count": 2, "captions": ["a cat", "a dog"]}
    built = event(summary)
    assert built == {
        "type": "job.succeeded",
        "timestamp": "2025-11-21T12:00:00.123Z",
        "data": {
            "id": "job_42",
            "status": "succeeded",
            "task": None,
            "model": None,
            "error": None,
            "links": LINKS,
            "metadata": {"order": 7},
            "results": summary,
        },
    }
    assert json.loads(encode_event(built)) == built


def test_task_model_and_error_are_copied() -> None:
    job = {
        "id": "job_7",
        "status": "failed",
        "task": "detect",
        "model": "gemini-2.5-flash",
        "error": {"code": "gemini_400", "message": "bad image " + "x" * 5000},
    }
    data = build_event("job.failed", job, LINKS, {"order": 7}, {}, timestamp=WHEN)["data"]
    assert (data["task"], data["model"]) == ("detect", "gemini-2.5-flash")
    assert data["error"]["code"] == "gemini_400"
    assert data["error"]["message"].startswith("bad image ")
    assert len(data["error"]["message"]) == MAX_ERROR_MESSAGE_CHARS  # the rest is behind GET
    succeeded = build_event(
        "job.succeeded", {**job, "status": "succeeded", "error": None}, {}, {}, {}
    )
    assert succeeded["data"]["error"] is None and succeeded["data"]["task"] == "detect"
    with pytest.raises(ValueError, match="job error must be a dict"):
        build_event("job.failed", {**job, "error": "boom"}, {}, {}, {})


def test_event_types() -> None:
    assert set(EVENT_TYPES) == {"job.started", "job.succeeded", "job.failed", "job.canceled"}
    for kind in EVENT_TYPES:
        assert build_event(kind, JOB, {}, None, {})["type"] == kind


def test_masks_are_dropped_first() -> None:
    items = [{"label": f"cat {i}", "box": [1, 2, 3, 4], "mask": "A" * 2000} for i in range(30)]
    built = event({"count": 30, "items": items})
    results = built["data"]["results"]
    assert len(encode_event(built)) <= 20_000
    assert results["truncated"] is True
    assert results["count"] == 30
    assert len(results["items"]) == 30  # the lists fit once the masks are gone
    assert all("mask" not in item for item in results["items"])


def test_long_lists_are_cut() -> None:
    items = [{"label": f"object number {i}", "box": [i, i, i + 10, i + 10]} for i in range(2000)]
    built = event({"count": 2000, "items": items})
    results = built["data"]["results"]
    assert len(encode_event(built)) <= 20_000
    assert results["truncated"] is True
    assert results["count"] == 2000
    assert 0 < len(results["items"]) < 2000
    assert results["items"][0] == items[0]


def test_long_strings_are_shortened() -> None:
    built = event({"caption": "word " * 10_000})
    caption = built["data"]["results"]["caption"]
    assert len(encode_event(built)) <= 20_000
    assert caption.endswith("…")
    assert len(caption) <= 200


def test_smaller_limit_trims_harder_and_respects_the_limit() -> None:
    summary = {"count": 500, "labels": [f"label-{i}" * 5 for i in range(500)], "ok": True}
    for limit in (20_000, 5_000, 1_000, 600):
        assert len(encode_event(event(summary, max_bytes=limit))) <= limit


def test_last_resorts_keep_top_level_scalars_then_nothing() -> None:
    summary = {"count": 3, "text": "x" * 5000, "model": "gemini-2.5-flash", "tags": ["a" * 30]}
    bare = len(encode_event(event({})))
    scalars_only = {"count": 3, "model": "gemini-2.5-flash", "truncated": True}
    built = event(summary, max_bytes=bare + 60)
    assert built["data"]["results"] == scalars_only
    built = event(summary, max_bytes=bare + 20)
    assert built["data"]["results"] == {"truncated": True}


def test_event_that_cannot_fit_names_the_metadata() -> None:
    with pytest.raises(ValueError, match=r"even without results \(metadata \d+ bytes\)"):
        build_event("job.failed", JOB, LINKS, {"blob": "m" * 30_000}, {"error": "boom"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("job.done", JOB, {}, None, {}), "unknown webhook event type 'job.done'"),
        (("job.failed", {"status": "failed"}, {}, None, {}), "job is missing 'id'"),
        (("job.failed", {"id": "j"}, {}, None, {}), "job is missing 'status'"),
        (("job.failed", JOB, {}, None, ["x"]), "results summary must be a dict"),
        (("job.failed", JOB, {}, {"when": datetime.now()}, {}), "metadata is not JSON"),
    ],
)
def test_bad_event_input_is_named(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_event(*args)


def test_naive_and_offset_timestamps_become_utc() -> None:
    paris = timezone(timedelta(hours=1))
    offset = build_event("job.started", JOB, {}, None, {}, timestamp=WHEN.astimezone(paris))
    naive = build_event("job.started", JOB, {}, None, {}, timestamp=WHEN.replace(tzinfo=None))
    assert offset["timestamp"] == naive["timestamp"] == "2025-11-21T12:00:00.123Z"


# --- signing ------------------------------------------------------------------------------------


def test_new_secret_format() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert new_secret() != secret


def test_sign_produces_headers_the_library_verifies() -> None:
    secret = new_secret()
    body = encode_event(event({"count": 1}))
    now = datetime.now(UTC)
    headers = sign([secret], "msg_abc", now, body)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    assert verify(headers, body, secret) == json.loads(body)


def test_rotation_signs_with_every_secret() -> None:
    old, new, stranger = new_secret(), new_secret(), new_secret()
    body = b'{"type":"job.failed"}'
    headers = sign([old, new], "msg_rot", datetime.now(UTC), body)
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)
    assert verify(headers, body, old) == verify(headers, body, new) == {"type": "job.failed"}
    with pytest.raises(WebhookVerificationError):
        verify(headers, body, stranger)


def test_tampering_is_detected() -> None:
    secret = new_secret()
    body = b'{"status":"succeeded"}'
    headers = sign([secret], "msg_1", datetime.now(UTC), body)
    with pytest.raises(WebhookVerificationError):
        verify(headers, b'{"status":"failed"}', secret)
    with pytest.raises(WebhookVerificationError):
        verify({**headers, "webhook-id": "msg_2"}, body, secret)


def test_old_timestamps_are_rejected_by_receivers() -> None:
    secret = new_secret()
    body = b"{}"
    headers = sign([secret], "msg_1", datetime.now(UTC) - timedelta(minutes=10), body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(headers, body, secret)


def test_non_utc_and_naive_timestamps_sign_the_same_instant() -> None:
    secret = new_secret()
    now = datetime.now(UTC).replace(microsecond=0)
    aware = sign([secret], "m", now.astimezone(timezone(timedelta(hours=-5))), b"{}")
    naive = sign([secret], "m", now.replace(tzinfo=None), b"{}")
    assert aware == naive
    assert aware["webhook-timestamp"] == str(int(now.timestamp()))


@pytest.mark.parametrize(
    ("secrets", "msg_id", "body", "message"),
    [
        ([], "m", b"{}", "non-empty list"),
        ("whsec_abc", "m", b"{}", "non-empty list"),
        (["sk_live"], "m", b"{}", "secret #1 must be a string starting with 'whsec_'"),
        ([new_secret(), "whsec_***"], "m", b"{}", "secret #2 is not valid base64"),
        (["whsec_"], "m", b"{}", "secret #1 is empty"),
        ([new_secret()], "", b"{}", "webhook id must be non-empty"),
        ([new_secret()], "a b", b"{}", "without spaces"),
        ([new_secret()], "m", b"\xff\xfe", "UTF-8"),
    ],
)
def test_bad_signing_input_is_named(secrets: Any, msg_id: str, body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        sign(secrets, msg_id, datetime.now(UTC), body)
    assert "***" not in str(caught.value)  # secret values are never echoed
