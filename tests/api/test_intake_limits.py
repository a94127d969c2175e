"""Intake limits over real HTTP: deep or large metadata, too many multipart parts, and the rule
that no 500 ever follows a commit. Each refusal must leave no job row behind."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from imagejobs.core.jobspec import MAX_METADATA_BYTES, MAX_METADATA_DEPTH
from imagejobs.runtime import Runtime
from imagejobs.settings import get_settings
from imagejobs.store.db import session_scope
from imagejobs.store.models import Job
from imagejobs.store.producers import NewKey
from tests.api.conftest import png, serve
from worker.interop import submit_payload

IMAGE = {"data": base64.b64encode(png()).decode(), "filename": "a.png"}


def stored_jobs(producer_id: str) -> int:
    with session_scope(get_settings().effective_database_url) as session:
        count = session.scalar(select(func.count()).where(Job.producer_id == producer_id))
    return int(count or 0)


def nested(depth: int) -> str:
    """JSON text of metadata nested ``depth`` levels deep (``{}`` is 1 level)."""
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


def json_body(metadata_text: str) -> bytes:
    return (
        '{"task": "caption", "images": [' + json.dumps(IMAGE) + f'], "metadata": {metadata_text}}}'
    ).encode()


@pytest.fixture
def fresh(make_producer: Callable[[str], NewKey]) -> NewKey:
    return make_producer("limits")


def post_json(url: str, key: NewKey, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/jobs",
        content=body,
        headers={"Authorization": f"Bearer {key.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )


def post_multipart(url: str, key: NewKey, job_text: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/jobs",
        data={"job": job_text},
        files=[("images", ("a.png", png(), "image/png"))],
        headers={"Authorization": f"Bearer {key.api_key}"},
        timeout=30,
    )


def assert_problem(response: httpx.Response, status: int, field: str, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["errors"][0]["field"] == field, problem
    assert words in problem["errors"][0]["message"], problem
    assert problem["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize("depth", [MAX_METADATA_DEPTH + 1, 300, 1000, 100_000])
def test_deep_metadata_is_422_naming_it_and_stores_nothing(
    api_url: str, fresh: NewKey, depth: int
) -> None:
    as_json = post_json(api_url, fresh, json_body(nested(depth)))
    assert_problem(as_json, 422, "metadata", f"limit of {MAX_METADATA_DEPTH} levels")
    job = '{"task": "caption", "metadata": ' + nested(depth) + "}"
    as_multipart = post_multipart(api_url, fresh, job)
    assert_problem(as_multipart, 422, "metadata", f"limit of {MAX_METADATA_DEPTH} levels")
    assert stored_jobs(fresh.producer.id) == 0


def test_deep_lists_and_other_fields_are_refused_by_name(api_url: str, fresh: NewKey) -> None:
    deep_list = "[" * 500 + "]" * 500
    response = post_json(api_url, fresh, json_body('{"rows": ' + deep_list + "}"))
    assert_problem(response, 422, "metadata", "levels")
    body = b'{"task": "caption", "options": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    assert_problem(post_json(api_url, fresh, body), 422, "options", "levels")
    assert_problem(post_json(api_url, fresh, b"[" * 5000 + b"]" * 5000), 422, "body", "levels")
    assert stored_jobs(fresh.producer.id) == 0


def test_metadata_at_the_depth_limit_round_trips(api_url: str, fresh: NewKey) -> None:
    response = post_json(api_url, fresh, json_body(nested(MAX_METADATA_DEPTH)))
    assert response.status_code == 202, response.text
    assert response.json()["metadata"] == json.loads(nested(MAX_METADATA_DEPTH))
    job = httpx.get(
        f"{api_url}{response.headers['location']}",
        headers={"Authorization": f"Bearer {fresh.api_key}"},
    )
    assert job.status_code == 200 and job.json()["metadata"] == response.json()["metadata"]


def test_large_metadata_is_413_naming_it(api_url: str, fresh: NewKey) -> None:
    fits = {"note": "x" * (MAX_METADATA_BYTES - len('{"note":""}'))}
    assert post_json(api_url, fresh, json_body(json.dumps(fits))).status_code == 202
    over = {"note": "x" * (MAX_METADATA_BYTES - len('{"note":""}') + 1)}
    assert_problem(
        post_json(api_url, fresh, json_body(json.dumps(over))),
        413,
        "metadata",
        f"the limit is {MAX_METADATA_BYTES} bytes",
    )
    job = json.dumps({"task": "caption", "metadata": over})
    assert_problem(post_multipart(api_url, fresh, job), 413, "metadata", "limit")
    assert stored_jobs(fresh.producer.id) == 1  # only the one that fits


def test_nan_in_metadata_is_422_not_a_database_error(api_url: str, fresh: NewKey) -> None:
    response = post_json(api_url, fresh, json_body('{"score": NaN}'))
    assert_problem(response, 422, "metadata", "NaN")
    assert stored_jobs(fresh.producer.id) == 0


def test_interop_deep_metadata_is_refused_without_raising(fresh: NewKey) -> None:
    metadata: dict[str, Any] = {}
    for _ in range(5000):  # far past Python's recursion limit
        metadata = {"a": metadata}
    result = submit_payload(
        Runtime.from_settings(get_settings()),
        {
            "task": "caption",
            "images": [IMAGE],
            "metadata": metadata,
            "producer": fresh.producer.name,
        },
    )
    assert result["error"]["status"] == 422, result
    assert result["error"]["errors"][0]["field"] == "metadata"
    assert stored_jobs(fresh.producer.id) == 0


def test_too_many_multipart_files_is_413(api_url: str, fresh: NewKey) -> None:
    limit = get_settings().max_images_per_job
    image = png(2, 2)
    files = [("images", (f"{i}.png", image, "image/png")) for i in range(limit + 1)]
    response = httpx.post(
        f"{api_url}/v1/jobs",
        data={"job": '{"task": "caption"}'},
        files=files,
        headers={"Authorization": f"Bearer {fresh.api_key}"},
        timeout=60,
    )
    assert_problem(response, 413, "images", f"at most {limit} image files")
    assert stored_jobs(fresh.producer.id) == 0


def test_too_many_form_fields_is_413(api_url: str, fresh: NewKey) -> None:
    fields = [("job", '{"task": "caption"}')] + [(f"extra{i}", "x") for i in range(20)]
    boundary = "imagejobs-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    content = ("".join(parts) + f"--{boundary}--\r\n").encode()
    response = httpx.post(
        f"{api_url}/v1/jobs",
        content=content,
        headers={
            "Authorization": f"Bearer {fresh.api_key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert_problem(response, 413, "body", "form fields")
    big_job = json.dumps({"task": "caption", "prompt": "p" * (2 * 1024 * 1024)})
    assert_problem(post_multipart(api_url, fresh, big_job), 413, "job", "KiB")
    assert stored_jobs(fresh.producer.id) == 0


@pytest.fixture
def api_whose_views_fail(database_url: str, broker_url: str) -> Iterator[str]:
    """An API whose job rendering raises after the commit (fault injection on the real path)."""
    import api.resources
    import api.routes_jobs
    from api.app import create_app

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError("injected: the view could not be built")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api.routes_jobs, "job_resource", broken)
        assert api.resources.job_resource is not broken
        with serve(create_app(get_settings())) as url:
            yield url


def test_no_500_after_the_commit(api_whose_views_fail: str, fresh: NewKey) -> None:
    response = post_json(api_whose_views_fail, fresh, json_body('{"order": 1}'))
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and job["links"]["self"] == f"/v1/jobs/{job['id']}"
    assert response.headers["location"] == job["links"]["self"]
    assert stored_jobs(fresh.producer.id) == 1
