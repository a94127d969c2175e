"""The emulator's ASGI app: Gemini REST routes under /v1, /v1beta, /v1alpha and /_emulator/ control.

Gemini routes need an API key (``x-goog-api-key`` header or ``?key=``); any non-empty key works
unless ``EmulatorConfig.api_key`` is set. Upload chunk requests need none: the ``upload_id`` in
their URL is the credential, as with the real service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagejobs.emulator import files_api, models_api
from imagejobs.emulator.config import EmulatorConfig
from imagejobs.emulator.generate import handle_model_call
from imagejobs.emulator.state import EmulatorState
from imagejobs.emulator.wire import RpcError, api_key_of, loads_lenient

API_VERSIONS = ("v1", "v1beta", "v1alpha")


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """Build the ASGI app; its state is reachable as ``app.state.emulator``."""
    routes = [
        Route("/_emulator/faults", faults, methods=["GET", "PUT", "POST"]),
        Route("/_emulator/quota", quota, methods=["GET", "PUT", "POST"]),
        Route("/_emulator/script", script, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/clock", clock, methods=["GET", "POST"]),
        Route("/upload/{version}/files", upload, methods=["POST"]),
        Route("/{version}/models", models_collection, methods=["GET"]),
        Route("/{version}/models/{rest:path}", models, methods=["GET", "POST"]),
        Route("/{version}/files", files_collection, methods=["GET"]),
        Route("/{version}/files/{file_id}", file_item, methods=["GET", "DELETE"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={RpcError: _rpc_error, HTTPException: _http_error},
    )
    app.state.emulator = EmulatorState(config or EmulatorConfig())
    return app


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


# Gemini routes ---------------------------------------------------------------------------------


async def models(request: Request) -> Response:
    version = _version(request)
    state = _authorised(request)
    rest = request.path_params["rest"]
    if request.method == "GET":
        return models_api.get_model(rest, version)
    model, _, action = rest.rpartition(":")
    if not model or not action:
        raise RpcError(404, f"Unknown model method {rest!r}; expected models/<model>:<method>")
    return await handle_model_call(request, state, "models/" + model, action, version)


async def models_collection(request: Request) -> Response:
    _version(request)
    _authorised(request)
    return models_api.list_models(request)


async def upload(request: Request) -> Response:
    version = _version(request)
    # A chunk request's upload_id (in its URL) is its credential, as with the real service.
    state = _state(request) if "upload_id" in request.query_params else _authorised(request)
    return await files_api.upload(request, state, version)


async def files_collection(request: Request) -> Response:
    _version(request)
    return files_api.list_files(request, _authorised(request))


async def file_item(request: Request) -> Response:
    _version(request)
    state = _authorised(request)
    file_id = request.path_params["file_id"]
    if request.method == "DELETE":
        return files_api.delete_file(state, file_id)
    if ":" in file_id:
        raise RpcError(400, "Only metadata can be read: uploaded file bytes cannot be downloaded.")
    return files_api.get_file(state, file_id)


# Control routes (/_emulator/) ------------------------------------------------------------------


async def faults(request: Request) -> Response:
    state = _state(request)
    return await _settable(request, state.set_faults, state.faults_dict)


async def quota(request: Request) -> Response:
    state = _state(request)
    return await _settable(request, state.set_quotas, state.quota_dict)


async def _settable(
    request: Request,
    update: Callable[[dict[str, Any]], object],
    current: Callable[[], dict[str, Any]],
) -> Response:
    """GET shows ``current()``; PUT or POST first applies the body's changes (400 naming why)."""
    if request.method in ("PUT", "POST"):
        changes = await _json_object(request)
        try:
            update(changes)
        except ValueError as exc:
            raise RpcError(400, str(exc)) from None
    return JSONResponse(current())


async def script(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.script.clear()
    elif request.method == "POST":
        body = await _json_body(request)
        entries = body.get("responses") if isinstance(body, dict) else body
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise RpcError(400, "script body must be a list of objects (or {'responses': [...]})")
        for index, entry in enumerate(entries):
            _check_script_entry(index, entry)
        state.script.extend(entries)
    return JSONResponse({"pending": len(state.script)})


async def stats(request: Request) -> Response:
    return JSONResponse(_state(request).stats())


async def reset(request: Request) -> Response:
    _state(request).reset()
    return JSONResponse({"reset": True})


async def clock(request: Request) -> Response:
    state = _state(request)
    if request.method == "POST":
        body = await _json_object(request)
        try:
            state.clock_offset_s += float(body.get("advance_s", 0))
        except (TypeError, ValueError):
            raise RpcError(400, "clock body must be {'advance_s': <seconds>}") from None
    return JSONResponse({"offset_s": state.clock_offset_s, "now": state.now()})


def _version(request: Request) -> str:
    version = str(request.path_params["version"])
    if version not in API_VERSIONS:
        raise RpcError(404, f"Unknown API version {version!r}; served: {', '.join(API_VERSIONS)}")
    return version


def _authorised(request: Request) -> EmulatorState:
    """The emulator state, once the request's API key is accepted (403 / 400 otherwise)."""
    state = _state(request)
    key = api_key_of(request)
    if not key:
        raise RpcError(
            403,
            "Method doesn't allow unregistered callers. Send an API key in the x-goog-api-key "
            "header or the key query parameter.",
        )
    if state.config.api_key is not None and key != state.config.api_key:
        raise RpcError(
            400,
            "API key not valid. Please pass a valid API key.",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        )
    return state


def _check_script_entry(index: int, entry: dict[str, Any]) -> None:
    if "error" in entry:
        error = entry["error"]
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            raise RpcError(400, f"script entry {index}: 'error' needs an integer 'code'")
    elif "body" in entry:
        if not isinstance(entry["body"], dict):
            raise RpcError(400, f"script entry {index}: 'body' must be an object")
    elif not isinstance(entry.get("text"), str):
        raise RpcError(400, f"script entry {index}: needs 'text' (string), 'error' or 'body'")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    return loads_lenient(raw) if raw.strip() else {}


async def _json_object(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise RpcError(400, "request body must be a JSON object")
    return body


async def _rpc_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RpcError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = RpcError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")
    return error.response()
