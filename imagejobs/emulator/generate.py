"""``models/{model}:generateContent``, ``:streamGenerateContent`` and ``:countTokens``."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from imagejobs.emulator.analysis import ImageAnalysis, ImageDecodeError, analyse_image
from imagejobs.emulator.request import GenerateRequest, parse_count, parse_generate
from imagejobs.emulator.responses import answer_text
from imagejobs.emulator.state import EmulatorState
from imagejobs.emulator.usage import (
    count_tokens_body,
    details,
    image_size,
    prompt_counts,
    truncate_to_budget,
    usage_metadata,
)
from imagejobs.emulator.wire import RpcError, fault_error

ACTIONS = {"generateContent", "streamGenerateContent", "countTokens"}


async def handle_model_call(
    request: Request, state: EmulatorState, model: str, action: str
) -> Response:
    """Dispatch a model method after the common checks (size, JSON, images)."""
    if action not in ACTIONS:
        raise RpcError(404, f"Method models.{action} is not found for the emulator.", "NOT_FOUND")
    state.calls[action] += 1
    body = await request.body()
    limit = state.config.inline_limit_bytes
    if len(body) > limit:
        raise RpcError(400, f"Request payload size exceeds the limit: {limit} bytes.")
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise RpcError(400, "Invalid JSON payload received. Unexpected token.") from None
    if action == "countTokens":
        parsed = parse_count(payload, model, lambda ref: lookup_file(state, ref))
        _check_image_count(state, parsed)
        sizes = await anyio.to_thread.run_sync(_sizes, parsed)
        return JSONResponse(count_tokens_body(parsed, sizes))
    parsed = parse_generate(payload, model, lambda ref: lookup_file(state, ref))
    _check_image_count(state, parsed)
    state.bytes_inline += parsed.inline_bytes
    state.enter()
    try:
        return await _generate(request, state, parsed, stream=action == "streamGenerateContent")
    finally:
        state.leave()


def lookup_file(state: EmulatorState, ref: str) -> tuple[bytes, str]:
    """A fileData uri (``https://.../files/abc``) or name (``files/abc``) to its bytes."""
    file_id = ref.rstrip("/").rsplit("/", 1)[-1] if "files/" in ref else ref
    stored = state.live_file(file_id)
    if stored is None:
        raise RpcError(404, f"File {ref} not found or expired.", "NOT_FOUND")
    file_state = stored.state(state.now())
    if file_state == "PROCESSING":
        raise RpcError(
            400,
            f"The File {file_id} is not in an ACTIVE state and usage is not allowed.",
            "FAILED_PRECONDITION",
        )
    if file_state == "FAILED":
        raise RpcError(400, f"The File {file_id} failed processing and cannot be used.")
    return stored.data, stored.mime_type


def _check_image_count(state: EmulatorState, parsed: GenerateRequest) -> None:
    if len(parsed.images) > state.config.max_images:
        raise RpcError(
            400,
            f"Too many images in the request: {len(parsed.images)}; "
            f"the maximum is {state.config.max_images}.",
        )


def _sizes(parsed: GenerateRequest) -> list[tuple[int, int]]:
    return [image_size(part.data) for part in parsed.images]


def _analyse(parsed: GenerateRequest) -> list[ImageAnalysis]:
    try:
        return [analyse_image(part.data) for part in parsed.images]
    except ImageDecodeError as exc:
        raise RpcError(400, f"Unable to process input image: {exc}") from None


async def _apply_faults(state: EmulatorState) -> dict[str, Any] | None:
    """Sleep the latency, raise an injected error, or return the next scripted entry."""
    delay = state.latency()
    if delay:
        await asyncio.sleep(delay)
    faults = state.faults
    if faults.fail_next_n > 0:
        state.faults = faults.updated({"fail_next_n": faults.fail_next_n - 1})
        raise fault_error(faults.fail_next_code, retry_delay=_delay(faults.retry_delay_s))
    if state.script:
        entry = state.script.popleft()
        if "error" in entry:
            error = entry["error"]
            raise fault_error(
                int(error.get("code", 500)),
                error.get("message"),
                error.get("status"),
                error.get("retryDelay") or error.get("retry_delay"),
            )
        return entry
    for code, rate in ((429, faults.rate_429), (500, faults.rate_500), (503, faults.rate_503)):
        if state.roll(rate):
            raise fault_error(
                code, retry_delay=_delay(faults.retry_delay_s) if code == 429 else None
            )
    return None


def _delay(seconds: float) -> str:
    return f"{seconds:g}s"


async def _generate(
    request: Request, state: EmulatorState, parsed: GenerateRequest, stream: bool
) -> Response:
    scripted = await _apply_faults(state)
    model_version = parsed.model.removeprefix("models/")
    if scripted is not None and "body" in scripted:
        body = scripted["body"]
        return _sse([body]) if stream else JSONResponse(body)
    if scripted is not None:
        text = str(scripted.get("text", ""))
        finish = str(scripted.get("finishReason") or scripted.get("finish_reason") or "STOP")
        sizes = await anyio.to_thread.run_sync(_sizes, parsed)
        usage = scripted.get("usageMetadata") or scripted.get("usage_metadata")
        usage = usage or usage_metadata(parsed, sizes, text)
        model_version = str(scripted.get("modelVersion") or model_version)
    else:
        analyses = await anyio.to_thread.run_sync(_analyse, parsed)
        sizes = [(a.width, a.height) for a in analyses]
        text, finish = truncate_to_budget(parsed, answer_text(parsed, analyses))
        usage = usage_metadata(parsed, sizes, text)
    response_id = secrets.token_hex(8)
    if not stream:
        return JSONResponse(_envelope(text, finish, usage, model_version, response_id))
    text_count, image_count = prompt_counts(parsed, sizes)
    partial_usage = {
        "promptTokenCount": text_count + image_count,
        "totalTokenCount": text_count + image_count,
        "promptTokensDetails": details(text_count, image_count),
    }
    pieces = _split(text, 3)
    events = [
        _envelope(piece, None, partial_usage, model_version, response_id) for piece in pieces[:-1]
    ]
    events.append(_envelope(pieces[-1], finish, usage, model_version, response_id))
    return _sse(events)


def _envelope(
    text: str, finish: str | None, usage: dict[str, Any], model_version: str, response_id: str
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model_version,
        "responseId": response_id,
    }


def _split(text: str, count: int) -> list[str]:
    if len(text) < count:
        return [text]
    step = -(-len(text) // count)
    return [text[i : i + step] for i in range(0, len(text), step)]


def _sse(events: list[dict[str, Any]]) -> StreamingResponse:
    async def produce() -> AsyncIterator[bytes]:
        for event in events:
            yield f"data: {json.dumps(event)}\r\n\r\n".encode()

    return StreamingResponse(produce(), media_type="text/event-stream")
