"""The Files API: resumable upload (start + 8 MiB chunks), get, delete and paged list."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imagejobs.emulator.config import UPLOAD_CHUNK_GRANULARITY
from imagejobs.emulator.paging import next_page_token, page_bounds
from imagejobs.emulator.state import EmulatorState, UploadSession
from imagejobs.emulator.wire import RpcError, fault_error, loads_lenient, normalise_keys

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


async def upload(request: Request, state: EmulatorState, version: str) -> Response:
    """POST /upload/{v}/files: ``start`` (needs the key) or a chunk (``upload_id`` is the key)."""
    upload_id = request.query_params.get("upload_id")
    if upload_id is None:
        return await _start(request, state, version)
    return await _chunk(request, state, upload_id)


async def _start(request: Request, state: EmulatorState, version: str) -> Response:
    state.calls["upload"] += 1
    command = request.headers.get("x-goog-upload-command", "").lower()
    protocol = request.headers.get("x-goog-upload-protocol", "").lower()
    if protocol != "resumable" or command != "start":
        raise RpcError(
            400,
            "Only the resumable protocol is emulated: send X-Goog-Upload-Protocol: resumable "
            "and X-Goog-Upload-Command: start",
        )
    if state.roll(state.faults.upload_failure_rate):
        raise fault_error(503, "Upload failed (emulator fault); try again.")
    raw = await request.body()
    body = normalise_keys(loads_lenient(raw)) if raw.strip() else {}
    meta = body.get("file") if isinstance(body, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    length = request.headers.get("x-goog-upload-header-content-length") or meta.get("sizeBytes")
    try:
        expected = int(length) if length is not None else None
    except ValueError:
        raise RpcError(400, f"Invalid X-Goog-Upload-Header-Content-Length {length!r}") from None
    mime = request.headers.get("x-goog-upload-header-content-type") or meta.get("mimeType")
    if not mime:
        raise RpcError(400, "Missing the file's MIME type (X-Goog-Upload-Header-Content-Type).")
    requested = meta.get("name")
    if requested is not None and (
        not isinstance(requested, str)
        or not requested.removeprefix("files/").isalnum()
        or requested.removeprefix("files/") != requested.removeprefix("files/").lower()
    ):
        raise RpcError(400, f"Invalid file name {requested!r}: use lowercase letters and digits.")
    if requested and state.live_file(requested.removeprefix("files/")):
        raise RpcError(409, f"File {requested} already exists.", "ALREADY_EXISTS")
    upload_id = secrets.token_hex(16)
    state.uploads[upload_id] = UploadSession(
        upload_id=upload_id,
        expected_size=expected,
        mime_type=str(mime),
        display_name=meta.get("displayName"),
        requested_name=requested,
        version=version,
    )
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    url = (
        f"{request.url.scheme}://{host}/upload/{version}/files"
        f"?upload_id={upload_id}&upload_protocol=resumable"
    )
    return JSONResponse(
        {},
        headers={
            "X-Goog-Upload-URL": url,
            "X-Goog-Upload-Status": "active",
            "X-Goog-Upload-Chunk-Granularity": str(UPLOAD_CHUNK_GRANULARITY),
        },
    )


async def _chunk(request: Request, state: EmulatorState, upload_id: str) -> Response:
    session = state.uploads.get(upload_id)
    if session is None:
        raise RpcError(404, f"Upload session {upload_id} not found.", "NOT_FOUND")
    command = {
        c.strip() for c in request.headers.get("x-goog-upload-command", "").lower().split(",")
    }
    if "query" in command:
        return Response(headers=_status(session, "active"))
    data = await request.body()
    if "upload" in command:
        offset = request.headers.get("x-goog-upload-offset")
        if offset is not None and offset.strip() != str(len(session.received)):
            raise RpcError(
                400,
                f"X-Goog-Upload-Offset {offset} does not match the {len(session.received)} "
                "bytes received so far.",
            )
        session.received.extend(data)
        state.bytes_uploaded += len(data)
    elif "finalize" not in command:
        raise RpcError(400, "X-Goog-Upload-Command must be upload, finalize, or query.")
    if "finalize" not in command:
        return Response(headers=_status(session, "active"))
    if session.expected_size is not None and session.expected_size != len(session.received):
        raise RpcError(
            400,
            f"Upload finalized with {len(session.received)} bytes but "
            f"{session.expected_size} were announced.",
        )
    del state.uploads[upload_id]
    stored = state.store_file(session)
    return JSONResponse({"file": stored.resource(state.now())}, headers=_status(session, "final"))


def _status(session: UploadSession, status: str) -> dict[str, str]:
    return {
        "X-Goog-Upload-Status": status,
        "X-Goog-Upload-Size-Received": str(len(session.received)),
    }


def get_file(state: EmulatorState, file_id: str) -> Response:
    state.calls["files.get"] += 1
    stored = state.live_file(file_id)
    if stored is None:
        raise RpcError(404, f"File files/{file_id} does not exist or has expired.", "NOT_FOUND")
    return JSONResponse(stored.resource(state.now()))


def delete_file(state: EmulatorState, file_id: str) -> Response:
    state.calls["files.delete"] += 1
    if state.live_file(file_id) is None:
        raise RpcError(404, f"File files/{file_id} does not exist or has expired.", "NOT_FOUND")
    del state.files[file_id]
    return JSONResponse({})


def list_files(request: Request, state: EmulatorState) -> Response:
    state.calls["files.list"] += 1
    start, size = page_bounds(request, "o", default_size=DEFAULT_PAGE_SIZE, max_size=MAX_PAGE_SIZE)
    files = state.live_files()
    now = state.now()
    page = files[start : start + size]
    body: dict[str, Any] = {"files": [f.resource(now) for f in page]} if page else {}
    if start + size < len(files):
        body["nextPageToken"] = next_page_token("o", start + size)
    return JSONResponse(body)
