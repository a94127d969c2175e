"""The FastAPI application: ``create_app(settings)``.

Startup is cheap: no Gemini client, no connections until the first request. The app works with
one :class:`imagejobs.runtime.Runtime`, built here from the settings unless one is given.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from api import routes_deliveries, routes_jobs, routes_keys
from api.console import mount_console
from api.limits import BodyLimitMiddleware
from api.metrics import install_metrics
from api.problems import PROBLEM_MEDIA_TYPE, Problem, install_handlers, problem_response
from api.routes_usage import router as usage_router
from api.schemas import Health
from imagejobs.intake.request import JobRequest
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings, get_settings

DOCS_ASSETS_URL = "/docs-assets"

# Base64 grows images by a third; leave room for a few full-size images per request.
BODY_LIMIT_IMAGES = 4


def body_limit(settings: Settings) -> int:
    return settings.max_image_bytes * BODY_LIMIT_IMAGES


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    max_body_bytes: int | None = None,
) -> FastAPI:
    runtime = runtime or Runtime.from_settings(settings or get_settings())
    settings = runtime.settings
    # /docs (Swagger UI) and /redoc load their scripts and styles from this server
    # (fastapi-offline ships them), not from a CDN: the docs work with no internet.
    app = FastAPIOffline(
        title="imagejobs",
        version="1",
        summary="Image understanding jobs on Gemini: submit, poll or receive webhooks.",
        static_url=DOCS_ASSETS_URL,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
    app.state.runtime = runtime
    install_handlers(app)
    mount_console(app, runtime)  # the results console: GET / and /console/ (README)
    app.include_router(routes_jobs.router)
    app.include_router(routes_deliveries.router)
    app.include_router(routes_keys.router)
    app.include_router(usage_router)  # /v1/usage, /v1/stats
    app.add_api_route(
        "/healthz",
        _health_endpoint(runtime),
        methods=["GET"],
        response_model=Health,
        tags=["health"],
        summary="Checks the database and the broker",
        responses={503: {"description": "Database or broker down", "model": Problem}},
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes or body_limit(settings))
    install_metrics(app, runtime)  # /metrics and the request counts (README "Metrics")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _health_endpoint(runtime: Runtime) -> Any:
    def healthz() -> Any:
        checks = {
            "database": check_database(runtime),
            "broker": "ok" if runtime.queue.reachable() else "unreachable",
        }
        failed = {name: result for name, result in checks.items() if result != "ok"}
        if failed:
            detail = "; ".join(f"{name}: {result}" for name, result in failed.items())
            return problem_response(503, detail)
        # Quota governance is detail: an open breaker parks jobs, the service is still up.
        return JSONResponse({"status": "ok", **checks, "governance": runtime.governor.health()})

    return healthz


def check_database(runtime: Runtime) -> str:
    try:
        runtime.db.ping()
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with problem+json errors and the JobRequest body schema."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    request_schema = JobRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(request_schema.pop("$defs", {}))
    schemas["JobRequest"] = request_schema
    schemas.setdefault(
        "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for defn in (
        Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        .get("$defs", {})
        .items()
    ):
        schemas.setdefault(*defn)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    problem_ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if operation.get("parameters") or operation.get("requestBody"):
                responses["422"] = {
                    "description": "A field is invalid; `errors` names each one",
                    "content": {PROBLEM_MEDIA_TYPE: problem_ref},
                }
            else:
                responses.pop("422", None)
            for code, response in responses.items():
                if int(code) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: problem_ref}
            if operation.get("security"):
                responses.setdefault(
                    "401",
                    {
                        "description": "Missing or bad API key",
                        "content": {PROBLEM_MEDIA_TYPE: problem_ref},
                    },
                )
    app.openapi_schema = doc
    return doc
