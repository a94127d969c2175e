"""Submitting and reading jobs over real HTTP, processed by the real worker and the emulator."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from api.client import ImageJobsClient, ImageJobsError
from imagejobs.store.producers import NewKey
from tests.api.conftest import LocalHTTP, png, scene_png
from tests.services import WorkerProcess

pytestmark = pytest.mark.slow


def test_multipart_submit_runs_to_success(
    client: ImageJobsClient, api_url: str, alpha: NewKey, worker: WorkerProcess
) -> None:
    image = scene_png()
    response = httpx.post(
        f"{api_url}/v1/jobs",
        headers={"Authorization": f"Bearer {alpha.api_key}"},
        data={"job": '{"task": "detect", "metadata": {"order": 7}}'},
        files=[("images", ("scene.png", image, "image/png"))],
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued"
    assert job["metadata"] == {"order": 7}
    assert job["images"][0]["filename"] == "scene.png"
    done = client.wait(job["id"], timeout=60)
    assert done["status"] == "succeeded", done["error"]
    assert len(done["detections"]) == 5
    assert done["images"][0]["transport"] == "inline"
    assert done["usage"]["prompt_tokens"] and done["usage"]["calls"] == 1
    overlay = client.overlay(job["id"])
    assert Image.open(io.BytesIO(overlay)).size == (640, 480)


def test_url_image_is_fetched_by_the_worker(
    client: ImageJobsClient, local_http: Callable[..., LocalHTTP], worker: WorkerProcess
) -> None:
    images = local_http()
    images.routes["/cat.png"] = (200, {"Content-Type": "image/png"}, png(80, 60, "blue"))
    job = client.submit([images.url("/cat.png")], task="caption")
    assert images.requests == []  # the API process never fetches
    done = client.wait(job["id"], timeout=60)
    assert done["status"] == "succeeded", done["error"]
    assert done["caption"]
    assert done["images"][0]["source_url"] == images.url("/cat.png")
    assert (done["images"][0]["width"], done["images"][0]["height"]) == (80, 60)
    assert [r.path for r in images.requests] == ["/cat.png"]


def test_base64_json_submit(client: ImageJobsClient, worker: WorkerProcess) -> None:
    data = base64.b64encode(png(50, 40, "green")).decode()
    first = client.submit([{"data": data, "filename": "g.png"}, {"data": data}], task="compare")
    done = client.wait(first["id"], timeout=60)
    assert done["status"] == "succeeded", done["error"]
    assert done["answer"]
    assert [i["filename"] for i in done["images"]] == ["g.png", None]


def test_idempotent_retry_returns_the_same_job(
    api_url: str, alpha: NewKey, beta: NewKey, client: ImageJobsClient
) -> None:
    data = base64.b64encode(png()).decode()
    headers = {"Authorization": f"Bearer {alpha.api_key}", "Idempotency-Key": "order-1"}
    body: dict[str, Any] = {"task": "caption", "images": [{"data": data}]}
    first = httpx.post(f"{api_url}/v1/jobs", json=body, headers=headers)
    again = httpx.post(f"{api_url}/v1/jobs", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    changed = httpx.post(f"{api_url}/v1/jobs", json={**body, "prompt": "other"}, headers=headers)
    assert changed.status_code == 422
    assert changed.headers["content-type"] == "application/problem+json"
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"
    # Keys are per producer: the same key from another producer is a new job.
    other = httpx.post(
        f"{api_url}/v1/jobs",
        json=body,
        headers={"Authorization": f"Bearer {beta.api_key}", "Idempotency-Key": "order-1"},
    )
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]


def test_another_producers_job_is_404_and_bad_keys_401(
    api_url: str, client: ImageJobsClient, beta: NewKey
) -> None:
    job = client.submit([png()], task="caption")
    with ImageJobsClient(api_url, beta.api_key) as other:
        for call in (
            lambda: other.get(job["id"]),
            lambda: other.cancel(job["id"]),
            lambda: other.overlay(job["id"]),
            lambda: other.deliveries(job["id"]),
        ):
            with pytest.raises(ImageJobsError) as caught:
                call()
            assert caught.value.status == 404
        assert job["id"] not in {j["id"] for j in other.list()}
    for headers in ({}, {"Authorization": "Bearer ij_wrong"}, {"Authorization": "Basic eDp5"}):
        response = httpx.get(f"{api_url}/v1/jobs/{job['id']}", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"


def test_paging_filters_and_cursor(api_url: str, make_producer: Callable[[str], NewKey]) -> None:
    owner = make_producer("pager")
    with ImageJobsClient(api_url, owner.api_key) as c:
        ids = [c.submit([png()], task="caption", metadata={"n": n})["id"] for n in range(5)]
        ids.append(c.submit([png()], task="detect")["id"])
        page = c.list_page(limit=2)
        assert [j["id"] for j in page["items"]] == ids[::-1][:2]
        assert page["next_cursor"]
        listed = [j["id"] for j in c.list(page_size=2)]
        assert listed == ids[::-1]
        captions = [j["id"] for j in c.list(page_size=4, task="caption")]
        assert captions == ids[:5][::-1]
        assert [j["id"] for j in c.list(task="segment")] == []
        created = c.get(ids[2])["created_at"]
        from datetime import datetime

        after = [j["id"] for j in c.list(created_after=datetime.fromisoformat(created))]
        assert after == ids[3:][::-1]
        with pytest.raises(ImageJobsError) as caught:
            c.list_page(cursor="not-a-cursor")
        assert caught.value.status == 422
        assert caught.value.problem["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"task": "classify", "images": [{"url": "http://x.test/a.png"}]}, "job", "labels"),
        ({"task": "nope", "images": [{"url": "http://x.test/a.png"}]}, "task", "caption"),
        (
            {"task": "caption", "options": {"temperature": 5}, "images": [{"url": "http://a/"}]},
            "options.temperature",
            "less than or equal to 2",
        ),
        ({"task": "caption", "images": [{"data": "@@@"}]}, "images[0].data", "base64"),
        (
            {"task": "caption", "images": [{"data": base64.b64encode(b"GIF89a....").decode()}]},
            "images[0].data",
            "GIF",
        ),
        ({"task": "caption", "images": [{"url": "ftp://a/b.png"}]}, "images[0].url", "ftp"),
        ({"task": "caption", "images": [{"url": "http://a/", "data": "AA=="}]}, "images[0]", "one"),
        ({"task": "caption", "images": []}, "images", "at least one image"),
        ({"task": "compare", "images": [{"url": "http://a/"}]}, "images", "two images"),
        (
            {"task": "caption", "images": [{"url": "http://a/"}], "colour": 1},
            "colour",
            "unknown field",
        ),
        (
            {"task": "caption", "images": [{"url": "http://a/"}], "webhook_url": "http://a b"},
            "webhook_url",
            "whitespace",
        ),
        (
            {"task": "caption", "images": [{"url": "http://a/"}], "metadata": {"k": "a\x00b"}},
            "metadata.k",
            "NUL",
        ),
        (
            {"task": "caption", "images": [{"url": "http://a/"}], "webhook_events": ["job.x"]},
            "webhook_events",
            "unknown webhook events",
        ),
        ([1, 2], "body", "JSON object"),
    ],
)
def test_bad_requests_name_the_field(
    api_url: str, alpha: NewKey, body: Any, field: str, words: str
) -> None:
    response = httpx.post(
        f"{api_url}/v1/jobs", json=body, headers={"Authorization": f"Bearer {alpha.api_key}"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Invalid request"
    assert problem["errors"][0]["field"] == field
    assert words in problem["errors"][0]["message"]
    assert problem["detail"].startswith(f"{field}: ")


def test_bad_multipart_and_content_type(api_url: str, alpha: NewKey) -> None:
    auth = {"Authorization": f"Bearer {alpha.api_key}"}
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    cases = [
        ({"job": "{not json"}, [("images", ("a.png", png(), "image/png"))], "job"),
        ({}, [("images", ("a.png", png(), "image/png"))], "job"),
        (
            {"job": '{"task": "caption"}'},
            [("images", ("a.gif", gif.getvalue(), "image/gif"))],
            "images[0]",
        ),
        ({"job": '{"task": "caption"}'}, [("images", ("e.png", b"", "image/png"))], "images[0]"),
    ]
    for data, files, field in cases:
        response = httpx.post(f"{api_url}/v1/jobs", data=data, files=files, headers=auth)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    gif_problem = httpx.post(
        f"{api_url}/v1/jobs", data=cases[2][0], files=cases[2][1], headers=auth
    ).json()
    assert "a.gif" in gif_problem["detail"] and "GIF" in gif_problem["detail"]
    response = httpx.post(f"{api_url}/v1/jobs", content=b"task=caption", headers=auth)
    assert response.status_code == 415


def test_request_size_limit_is_413(database_url: str, alpha: NewKey) -> None:
    from api.app import create_app
    from imagejobs.settings import get_settings
    from tests.api.conftest import serve

    settings = get_settings().model_copy(update={"max_image_bytes": 2000})
    with serve(create_app(settings, max_body_bytes=5000)) as url:
        auth = {"Authorization": f"Bearer {alpha.api_key}"}
        big = png(400, 400, "white") + b"\0" * 6000
        whole = httpx.post(
            f"{url}/v1/jobs",
            data={"job": '{"task": "caption"}'},
            files=[("images", ("big.png", big, "image/png"))],
            headers=auth,
        )
        assert whole.status_code == 413
        assert "5000 bytes" in whole.json()["detail"]

        def chunks() -> Any:  # no Content-Length: the limit is counted while streaming
            for _ in range(10):
                yield b"{" + b" " * 999

        streamed = httpx.post(
            f"{url}/v1/jobs",
            content=chunks(),
            headers={**auth, "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
        one = httpx.post(
            f"{url}/v1/jobs",
            data={"job": '{"task": "caption"}'},
            files=[("images", ("p.png", png(200, 200, "white") + b"\0" * 3000, "image/png"))],
            headers=auth,
        )
        assert one.status_code == 413
        assert one.json()["errors"][0]["field"] == "images[0]"
        assert "limit is 2000 bytes" in one.json()["detail"]


def test_healthz_checks_database_and_broker(api_url: str) -> None:
    response = httpx.get(f"{api_url}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "database", "broker")} == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
    }
    assert body["governance"]["status"] == "ok"  # on the broker's Redis
    assert isinstance(body["governance"]["breakers"], list)


def test_healthz_is_503_when_the_database_is_down(database_url: str) -> None:
    from api.app import create_app
    from imagejobs.settings import get_settings
    from tests.api.conftest import free_port, serve

    down = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    settings = get_settings().model_copy(update={"database_url": down})
    settings = type(settings).model_validate(settings.model_dump())
    with serve(create_app(settings)) as url:
        response = httpx.get(f"{url}/healthz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("database: unreachable")
