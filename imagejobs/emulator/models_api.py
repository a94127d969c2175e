"""``GET /{v}/models`` (paged) and ``GET /{v}/models/{model}``: the model resources.

The list holds every id the registry serves (``imagejobs.core.models.served_models``), in the
shape of the real resource (the fields google-genai's ``Model`` reads): name, version,
displayName, description, inputTokenLimit, outputTokenLimit, supportedGenerationMethods,
temperature, maxTemperature, topP, topK, thinking.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imagejobs.core.models import model_info, served_models
from imagejobs.emulator.generate import resolve_model
from imagejobs.emulator.wire import RpcError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
METHODS = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]


def model_resource(name: str) -> dict[str, Any]:
    """The Model resource of a served id (``gemini-2.5-flash``)."""
    info = model_info(name)
    fam = info.family
    return {
        "name": info.resource_name,
        "version": "001",
        "displayName": fam.display_name,
        "description": f"{fam.display_name} (served by the imagejobs emulator)",
        "inputTokenLimit": fam.input_token_limit,
        "outputTokenLimit": fam.output_token_limit,
        "supportedGenerationMethods": list(METHODS),
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
        "thinking": fam.thinking.control != "none",
    }


def list_models(request: Request) -> Response:
    params = request.query_params
    raw_size = params.get("pageSize") or params.get("page_size")
    try:
        size = int(raw_size) if raw_size else DEFAULT_PAGE_SIZE
    except ValueError:
        raise RpcError(400, f"Invalid pageSize {raw_size!r}: expected an integer.") from None
    size = min(size if size > 0 else DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    token = params.get("pageToken") or params.get("page_token")
    start = _decode_token(token) if token else 0
    names = served_models()
    body: dict[str, Any] = {"models": [model_resource(n) for n in names[start : start + size]]}
    if start + size < len(names):
        body["nextPageToken"] = base64.urlsafe_b64encode(f"m{start + size}".encode()).decode()
    return JSONResponse(body)


def get_model(name: str, version: str) -> Response:
    info = resolve_model(name, version, "get")
    return JSONResponse(model_resource(info.name))


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith("m"):
            raise ValueError(text)
        return int(text[1:])
    except ValueError:
        raise RpcError(400, f"Invalid pageToken {token!r}.") from None
