"""``GET /{v}/models`` (paged) and ``GET /{v}/models/{model}``: the model resources.

The list holds every id the registry serves (``imagejobs.core.models.served_models``), in the
shape of the real resource (the fields google-genai's ``Model`` reads): name, version,
displayName, description, inputTokenLimit, outputTokenLimit, supportedGenerationMethods,
temperature, maxTemperature, topP, topK, thinking.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imagejobs.core.models import model_info, served_models
from imagejobs.emulator.generate import resolve_model
from imagejobs.emulator.paging import next_page_token, page_bounds

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
    start, size = page_bounds(request, "m", default_size=DEFAULT_PAGE_SIZE, max_size=MAX_PAGE_SIZE)
    names = served_models()
    body: dict[str, Any] = {"models": [model_resource(n) for n in names[start : start + size]]}
    if start + size < len(names):
        body["nextPageToken"] = next_page_token("m", start + size)
    return JSONResponse(body)


def get_model(name: str, version: str) -> Response:
    info = resolve_model(name, version, "get")
    return JSONResponse(model_resource(info.name))
