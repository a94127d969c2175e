"""``models/{model}:generateContent``, ``:streamGenerateContent`` and ``:countTokens``.

The model id must be one the registry (``imagejobs.core.models``) lists, or a listed id with a
version tag; anything else answers 404 as the real API does. The family decides how thinking
is checked and counted, how images are billed and what shape segmentation masks take.
``streamGenerateContent`` answers SSE with ``?alt=sse`` and one JSON array without it (errors
too are wrapped in an array then, as the real API sends them).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from imagejobs.core.models import (
    ModelInfo,
    UnknownModel,
    model_info,
    normalise_name,
    thinking_problem,
)
from imagejobs.emulator.analysis import ImageAnalysis, ImageDecodeError, analyse_image
from imagejobs.emulator.quota import project_for_key, quota_error
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
from imagejobs.emulator.wire import (
    DEFAULT_MESSAGES,
    RpcError,
    api_key_of,
    fault_error,
    loads_lenient,
)

ACTIONS = {"generateContent", "streamGenerateContent", "countTokens"}
BAD_IMAGE_MESSAGE = (
    "Unable to process input image. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)


@dataclass(frozen=True)
class Call:
    """Where a model call goes: the API version, the model and its registry entry."""

    version: str
    model: str  # "models/<id>"
    info: ModelInfo


def resolve_model(model: str, version: str, method: str) -> ModelInfo:
    """The registry entry of a served model, or the real API's 404."""
    name = model.removeprefix("models/")
    try:
        info = model_info(name)
    except UnknownModel:
        info = None
    if info is None or info.match == "pattern":
        raise RpcError(
            404,
            f"models/{name} is not found for API version {version}, or is not supported for "
            f"{method}. Call ListModels to see the list of available models and their "
            "supported methods.",
            "NOT_FOUND",
        )
    return info


async def handle_model_call(
    request: Request, state: EmulatorState, model: str, action: str, version: str = "v1beta"
) -> Response:
    """Dispatch a model method after the common checks (model, size, JSON, images)."""
    if action not in ACTIONS:
        raise RpcError(404, f"Method models.{action} is not found for the emulator.", "NOT_FOUND")
    plain_stream = action == "streamGenerateContent" and request.query_params.get("alt") != "sse"
    admitted = Admitted()
    status = 500
    try:
        response = await _model_call(request, state, model, action, version, admitted)
        status = response.status_code
        return response
    except RpcError as exc:
        status = exc.code
        if plain_stream:  # without alt=sse even errors come as a JSON array
            return JSONResponse([exc.body()], status_code=exc.code)
        raise
    finally:
        if action != "countTokens":
            name = normalise_name(model)
            state.call_stats.record(name, status, state.now(), admitted.tokens)


@dataclass
class Admitted:
    """The prompt tokens a generate call was admitted with (0 until the quota admits it)."""

    tokens: int = 0


async def _admit(
    request: Request, state: EmulatorState, parsed: GenerateRequest, call: Call
) -> int:
    """Count the call against its project's quota (429 if over), then apply an overload
    window (503, no RetryInfo); returns the prompt tokens counted."""
    try:
        sizes = await anyio.to_thread.run_sync(_sizes, parsed)
    except RpcError:
        raise RpcError(400, BAD_IMAGE_MESSAGE) from None  # as generate words it
    text_count, image_count = prompt_counts(parsed, sizes)
    tokens = text_count + image_count
    now = state.now()
    project = project_for_key(api_key_of(request))
    refusal = state.ledger.admit(state.quotas, project, call.info.name, tokens, now)
    if refusal is not None:
        raise quota_error(refusal, state.quotas.tier)
    if state.roll(state.overloads.rate(call.info.name, now)):
        raise OverloadedError(tokens)
    return tokens


class OverloadedError(RpcError):
    """503 UNAVAILABLE of an overload window, after the call was counted against quota."""

    def __init__(self, tokens: int) -> None:
        super().__init__(503, DEFAULT_MESSAGES[503])
        self.tokens = tokens


async def _model_call(
    request: Request,
    state: EmulatorState,
    model: str,
    action: str,
    version: str,
    admitted: Admitted,
) -> Response:
    info = resolve_model(model, version, action)
    call = Call(version, model, info)
    state.calls[action] += 1
    body = await request.body()
    limit = state.config.inline_limit_bytes
    if len(body) > limit:
        raise RpcError(400, f"Request payload size exceeds the limit: {limit} bytes.")
    payload = loads_lenient(body) if body.strip() else {}
    if action == "countTokens":
        parsed = parse_count(payload, model, lambda ref: lookup_file(state, ref))
        _check_image_count(state, parsed)
        sizes = await anyio.to_thread.run_sync(_sizes, parsed)
        return JSONResponse(count_tokens_body(parsed, sizes))
    parsed = parse_generate(payload, model, lambda ref: lookup_file(state, ref))
    _check_image_count(state, parsed)
    problem = thinking_problem(info, parsed.thinking_level, parsed.thinking_budget)
    if problem:
        raise RpcError(400, problem)
    try:
        admitted.tokens = await _admit(request, state, parsed, call)
    except OverloadedError as exc:
        admitted.tokens = exc.tokens
        raise
    state.bytes_inline += parsed.inline_bytes
    state.enter()
    try:
        if action == "streamGenerateContent":
            sse = request.query_params.get("alt") == "sse"
            return await _generate(state, parsed, call, stream="sse" if sse else "array")
        return await _generate(state, parsed, call, stream=None)
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
    except ImageDecodeError:
        raise RpcError(400, BAD_IMAGE_MESSAGE) from None


async def _apply_faults(state: EmulatorState, model: str) -> dict[str, Any] | None:
    """Sleep the latency, raise an injected error, or return the next scripted entry."""
    delay = state.latency()
    if delay:
        await asyncio.sleep(delay)
    faults = state.faults
    if faults.fail_next_n > 0:
        state.faults = faults.updated({"fail_next_n": faults.fail_next_n - 1})
        retry = _delay(faults.retry_delay_s) if faults.fail_next_code == 429 else None
        raise fault_error(faults.fail_next_code, retry_delay=retry, model=model)
    if state.script:
        entry = state.script.popleft()
        if "error" in entry:
            error = entry["error"]
            raise fault_error(
                int(error.get("code", 500)),
                error.get("message"),
                error.get("status"),
                error.get("retryDelay") or error.get("retry_delay"),
                model=model,
            )
        return entry
    for code, rate in ((429, faults.rate_429), (500, faults.rate_500), (503, faults.rate_503)):
        if state.roll(rate):
            raise fault_error(
                code, retry_delay=_delay(faults.retry_delay_s) if code == 429 else None, model=model
            )
    return None


def _delay(seconds: float) -> str:
    return f"{seconds:g}s"


async def _generate(
    state: EmulatorState, parsed: GenerateRequest, call: Call, stream: str | None
) -> Response:
    model_version = call.info.name
    scripted = await _apply_faults(state, model_version)
    if scripted is not None and "body" in scripted:
        body = scripted["body"]
        return _respond([body], stream) if stream else JSONResponse(body)
    if scripted is not None:
        text = str(scripted.get("text", ""))
        finish = str(scripted.get("finishReason") or scripted.get("finish_reason") or "STOP")
        sizes = await anyio.to_thread.run_sync(_sizes, parsed)
        usage = scripted.get("usageMetadata") or scripted.get("usage_metadata")
        usage = usage or usage_metadata(parsed, sizes, text, call.info)
        model_version = str(scripted.get("modelVersion") or model_version)
    else:
        analyses = await anyio.to_thread.run_sync(_analyse, parsed)
        sizes = [(a.width, a.height) for a in analyses]
        seg_tokens = state.roll(state.faults.seg_token_rate)
        text = answer_text(parsed, analyses, call.info.family, seg_tokens=seg_tokens)
        text, finish = truncate_to_budget(parsed, text, call.info)
        usage = usage_metadata(parsed, sizes, text, call.info)
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
    return _respond(events, stream)


def _respond(events: list[dict[str, Any]], stream: str | None) -> Response:
    return _sse(events) if stream == "sse" else JSONResponse(events)


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
