# mypy: disable-error-code="arg-type"
# (google-genai types `contents` as invariant list unions; plain list literals trip mypy.)
"""The Files API through the SDK: resumable upload, polling to ACTIVE, get / list / delete."""

from __future__ import annotations

import io
import json
import time

import pytest
from google import genai
from google.genai import errors, types

from imagejobs.emulator import EmulatorControl
from imagejobs.emulator.scenes import Scene


def upload_png(client: genai.Client, data: bytes, **config: object) -> types.File:
    return client.files.upload(file=io.BytesIO(data), config={"mime_type": "image/png", **config})


def wait_active(client: genai.Client, name: str, timeout_s: float = 5.0) -> types.File:
    deadline = time.monotonic() + timeout_s
    while True:
        current = client.files.get(name=name)
        if current.state != types.FileState.PROCESSING or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


def test_upload_then_poll_until_active_then_use_by_reference(
    client: genai.Client, control: EmulatorControl, scene: Scene, scene_png: bytes
) -> None:
    control.set_faults(processing_delay_s=0.3)
    uploaded = upload_png(client, scene_png, display_name="scene-1")
    assert uploaded.state == types.FileState.PROCESSING
    assert uploaded.name and uploaded.name.startswith("files/")
    assert uploaded.size_bytes == len(scene_png)
    assert uploaded.display_name == "scene-1" and uploaded.source == types.FileSource.UPLOADED
    assert uploaded.sha256_hash and uploaded.uri and uploaded.uri.startswith("https://")
    assert uploaded.create_time and uploaded.expiration_time and uploaded.update_time
    assert (uploaded.expiration_time - uploaded.create_time).total_seconds() == 48 * 3600
    with pytest.raises(errors.ClientError) as early:
        client.models.generate_content(model="gemini-2.5-flash", contents=[uploaded, "x"])
    assert early.value.code == 400 and early.value.status == "FAILED_PRECONDITION"
    active = wait_active(client, uploaded.name)
    assert active.state == types.FileState.ACTIVE
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents=[active, "Return bounding boxes (box_2d) as JSON."],
        config={"response_mime_type": "application/json"},
    )
    labels = [item["label"] for item in json.loads(response.text or "")]
    assert labels == [o.label for o in scene.objects]
    stats = control.stats()
    assert stats["bytes_uploaded"] == len(scene_png) and stats["files_stored"] == 1
    assert stats["bytes_inline"] == 0


def test_file_reference_by_uri_part_works_on_v1beta(
    client_beta: genai.Client, scene_png: bytes
) -> None:
    uploaded = upload_png(client_beta, scene_png)
    assert uploaded.uri and "/v1beta/files/" in uploaded.uri
    part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="image/png")
    result = client_beta.models.count_tokens(model="gemini-2.5-flash", contents=[part])
    assert result.total_tokens == 258 * 4  # 640x480: unit 320 -> 2x2 tiles


def test_multi_chunk_upload_over_8_mib(client: genai.Client, control: EmulatorControl) -> None:
    payload = bytes(range(256)) * (9 * 1024 * 1024 // 256 + 1)
    uploaded = client.files.upload(
        file=io.BytesIO(payload), config={"mime_type": "application/octet-stream"}
    )
    assert uploaded.size_bytes == len(payload)
    assert control.stats()["bytes_uploaded"] == len(payload)


def test_list_pages_and_delete(client: genai.Client, scene_png: bytes) -> None:
    names = [upload_png(client, scene_png).name for _ in range(5)]
    pager = client.files.list(config={"page_size": 2})
    assert len(pager.page) == 2
    assert [f.name for f in pager] == names
    client.files.delete(name=names[0])
    with pytest.raises(errors.ClientError) as info:
        client.files.get(name=names[0])
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    with pytest.raises(errors.ClientError):
        client.files.delete(name=names[0])
    assert [f.name for f in client.files.list()] == names[1:]


def test_expired_file_answers_404(
    client: genai.Client, control: EmulatorControl, scene_png: bytes
) -> None:
    uploaded = upload_png(client, scene_png)
    assert uploaded.name
    control.advance_clock(48 * 3600 - 60)
    assert client.files.get(name=uploaded.name).state == types.FileState.ACTIVE
    control.advance_clock(120)
    with pytest.raises(errors.ClientError) as info:
        client.files.get(name=uploaded.name)
    assert info.value.code == 404
    assert info.value.details["error"]["status"] == "NOT_FOUND"
    with pytest.raises(errors.ClientError) as use:
        client.models.generate_content(model="gemini-2.5-flash", contents=[uploaded])
    assert use.value.code == 404


def test_stuck_failed_and_failing_uploads(
    client: genai.Client, control: EmulatorControl, scene_png: bytes
) -> None:
    control.set_faults(file_stuck_processing=True)
    stuck = upload_png(client, scene_png)
    control.advance_clock(3600)
    assert stuck.name and client.files.get(name=stuck.name).state == types.FileState.PROCESSING
    control.set_faults(file_stuck_processing=False, file_failed_rate=1.0)
    failed = upload_png(client, scene_png)
    assert failed.state == types.FileState.FAILED and failed.error and failed.error.code == 400
    with pytest.raises(errors.ClientError):
        client.models.generate_content(model="gemini-2.5-flash", contents=[failed])
    control.set_faults(file_failed_rate=0.0, upload_failure_rate=1.0)
    with pytest.raises(errors.ServerError) as info:
        upload_png(client, scene_png)
    assert info.value.code == 503
    assert control.stats()["calls"]["upload"] == 3
