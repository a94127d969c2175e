"""Schemathesis against the live server: every operation, generated requests, no 5xx and every
answer (status, content type, body) as the OpenAPI document declares."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imagejobs.store.producers import NewKey
from tests.api.conftest import png

pytestmark = pytest.mark.slow

CONFIG = schemathesis.Config.from_dict({"generation": {"mode": "positive"}})


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json", config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def _nothing_queued() -> Iterator[None]:
    """Generated jobs stay in Postgres, unqueued: random URLs must not keep the shared worker
    busy. (The contract under test ends at the API; queueing is covered by the other tests.)"""
    from imagejobs.broker.queue import JobQueue

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(JobQueue, "enqueue_delivery", lambda *a, **k: True)
        patch.setattr(JobQueue, "enqueue_job", lambda *a, **k: True)
        yield


@pytest.fixture(scope="module")
def http(make_producer: Callable[[str], NewKey]) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {make_producer('schemathesis').api_key}"
        yield session


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def operations_of(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def conformance_test(
    operation: schemathesis.APIOperation, http: requests.Session, answers: dict[str, set[int]]
) -> Any:
    """A Hypothesis test calling ``operation`` with generated requests and checking answers."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(session=http, checks=CHECKS)
        answers.setdefault(operation.label, set()).add(response.status_code)

    return run


def test_openapi_conformance(api_schema: schemathesis.BaseSchema, http: requests.Session) -> None:
    """Each operation in turn (schemathesis' pytest loader does not support pytest 9 yet)."""
    operations = operations_of(api_schema)
    assert len(operations) == 14  # with GET /v1/usage and GET /v1/stats
    answers: dict[str, set[int]] = {}
    for operation in operations:
        conformance_test(operation, http, answers)()
    assert len(answers) == 14
    assert 422 in answers["POST /v1/jobs"]  # schema-valid but semantically bad jobs are named


def test_real_answers_conform(
    api_schema: schemathesis.BaseSchema, http: requests.Session, api_url: str
) -> None:
    """Known-good requests, so the success answers (a real job, its overlay, deliveries) are
    checked against the document too, not only what random data reaches."""
    ops = {operation.label: operation for operation in operations_of(api_schema)}
    image = {"data": base64.b64encode(png()).decode(), "filename": "a.png"}
    body: dict[str, Any] = {
        "task": "detect",
        "images": [image],
        "webhook_url": "http://127.0.0.1:9/hook",
    }
    created = (
        ops["POST /v1/jobs"]
        .Case(body=body, media_type="application/json")
        .call_and_validate(session=http, checks=CHECKS)
    )
    assert created.status_code == 202
    job = {"job_id": created.json()["id"]}
    for label in (
        "GET /v1/jobs/{job_id}",
        "GET /v1/jobs/{job_id}/overlay.png",
        "GET /v1/jobs/{job_id}/deliveries",
        "POST /v1/jobs/{job_id}/cancel",
        "GET /v1/jobs/{job_id}/deliveries",
    ):
        response = (
            ops[label].Case(path_parameters=job).call_and_validate(session=http, checks=CHECKS)
        )
        assert response.status_code == 200, (label, response.text)
    deliveries = http.get(f"{api_url}/v1/jobs/{job['job_id']}/deliveries").json()
    replay = ops["POST /v1/deliveries/{delivery_id}/replay"].Case(
        path_parameters={"delivery_id": deliveries["items"][0]["id"]}
    )
    assert replay.call_and_validate(session=http, checks=CHECKS).status_code == 202
    page = (
        ops["GET /v1/jobs"].Case(query={"limit": 1}).call_and_validate(session=http, checks=CHECKS)
    )
    assert page.json()["items"]


def test_document_declares_problem_answers(api_schema: schemathesis.BaseSchema) -> None:
    document = api_schema.raw_schema
    post = document["paths"]["/v1/jobs"]["post"]
    assert set(post["responses"]) >= {"202", "401", "413", "415", "422"}
    for code in ("401", "422"):
        assert list(post["responses"][code]["content"]) == ["application/problem+json"]
    assert set(post["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert document["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["404"]
    assert document["paths"]["/healthz"]["get"]["responses"]["503"]
