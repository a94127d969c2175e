"""What curl sends in the Gemini docs' REST examples: standard base64, camelCase, ?key=."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import Scene


@pytest.fixture
def http(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=10) as client:
        yield client


def test_curl_style_generate_with_standard_base64(
    http: httpx.Client, scene: Scene, scene_png: bytes
) -> None:
    encoded = base64.b64encode(scene_png).decode()
    assert "+" in encoded or "/" in encoded  # really the standard alphabet
    body = {
        "contents": [
            {
                "parts": [
                    {"inlineData": {"mimeType": "image/png", "data": encoded}},
                    {"text": "Detect objects as box_2d"},
                ]
            }
        ],
        "generationConfig": {"responseMimeType": "application/json"},
    }
    response = http.post(
        "/v1beta/models/gemini-2.5-flash:generateContent",
        json=body,
        headers={"x-goog-api-key": "k"},
    )
    assert response.status_code == 200, response.text
    data = response.json()
    candidate = data["candidates"][0]
    assert candidate["content"]["role"] == "model" and candidate["finishReason"] == "STOP"
    assert set(data["usageMetadata"]) >= {
        "promptTokenCount",
        "candidatesTokenCount",
        "thoughtsTokenCount",
        "totalTokenCount",
        "promptTokensDetails",
    }
    assert data["modelVersion"] == "gemini-2.5-flash"
    assert "usage_metadata" not in data and "finish_reason" not in candidate
    import json

    labels = [item["label"] for item in json.loads(candidate["content"]["parts"][0]["text"])]
    assert labels == [o.label for o in scene.objects]


def test_snake_case_urlsafe_unpadded_and_key_query(http: httpx.Client, scene_png: bytes) -> None:
    encoded = base64.urlsafe_b64encode(scene_png).decode().rstrip("=")
    body = {"contents": [{"parts": [{"inline_data": {"mime_type": "image/png", "data": encoded}}]}]}
    response = http.post("/v1alpha/models/gemini-2.0-flash:countTokens?key=abc", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["totalTokens"] == 258 * 4


def test_missing_key_bad_json_bad_base64_and_unknown_routes(http: httpx.Client) -> None:
    url = "/v1/models/gemini-2.5-flash:generateContent"
    missing = http.post(url, json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    bad_json = http.post(url + "?key=k", content=b"{nope")
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]["message"]
    bad_b64 = http.post(
        url + "?key=k",
        json={"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "@@@"}}]}]},
    )
    assert bad_b64.status_code == 400 and "base64" in bad_b64.json()["error"]["message"]
    no_contents = http.post(url + "?key=k", json={})
    assert no_contents.status_code == 400 and "contents" in no_contents.json()["error"]["message"]
    unknown = http.get("/v2/files?key=k")
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
    nowhere = http.get("/nowhere")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == 404


def test_resumable_upload_by_hand_uses_host_and_needs_no_key_on_chunks(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    data = b"x" * 1000
    start = http.post(
        "/upload/v1beta/files",
        headers={
            "x-goog-api-key": "k",
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(len(data)),
            "X-Goog-Upload-Header-Content-Type": "image/png",
        },
        json={"file": {"display_name": "hand"}},
    )
    assert start.status_code == 200, start.text
    assert start.headers["x-goog-upload-status"] == "active"
    assert start.headers["x-goog-upload-chunk-granularity"] == str(8 * 1024 * 1024)
    url = start.headers["x-goog-upload-url"]
    assert url.startswith(emu.base_url + "/upload/v1beta/files?upload_id=")
    first = httpx.post(
        url,
        content=data[:600],
        headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0"},
    )
    assert first.status_code == 200 and first.headers["x-goog-upload-status"] == "active"
    wrong = httpx.post(
        url,
        content=data[600:],
        headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "5"},
    )
    assert wrong.status_code == 400 and "Offset" in wrong.json()["error"]["message"]
    final = httpx.post(
        url,
        content=data[600:],
        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "600"},
    )
    assert final.status_code == 200 and final.headers["x-goog-upload-status"] == "final"
    resource = final.json()["file"]
    assert resource["sizeBytes"] == "1000" and resource["displayName"] == "hand"
    assert set(resource) >= {
        "name",
        "mimeType",
        "sizeBytes",
        "createTime",
        "updateTime",
        "expirationTime",
        "sha256Hash",
        "uri",
        "state",
        "source",
    }
    file_id = resource["name"].removeprefix("files/")
    assert file_id.isalnum() and file_id.islower()
    listed = http.get("/v1beta/files", params={"key": "k", "pageSize": 1}).json()
    assert [f["name"] for f in listed["files"]] == [resource["name"]]
    assert "nextPageToken" not in listed
    gone = httpx.post(url, content=b"", headers={"X-Goog-Upload-Command": "finalize"})
    assert gone.status_code == 404
