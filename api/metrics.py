"""The API's metrics: requests by route template and status (an ASGI middleware), and
``GET /metrics`` (Prometheus text; basic auth when ``IMAGEJOBS_METRICS_BASIC_AUTH`` is set, open
otherwise), with the queue depth read at scrape time unless ``IMAGEJOBS_METRICS_QUEUE_DEPTH`` is
off."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagejobs.broker.depth import BrokerDepth
from imagejobs.observability.auth import CHALLENGE, authorized, credentials
from imagejobs.observability.depth import QueueDepthCollector
from imagejobs.observability.metrics import HTTP_DURATION, HTTP_REQUESTS
from imagejobs.observability.multiproc import exposition_registry
from imagejobs.runtime import Runtime

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # a path no route answers: one label, whatever was asked


def route_of(scope: Scope) -> str:
    """The route template the router matched (``/v1/jobs/{job_id}``), else ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """Counts and times every HTTP request, labelled by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler is answered 500 by the server

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            method = scope.get("method", "GET")
            method = method if method in METHODS else "other"
            route = route_of(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, runtime: Runtime) -> None:
    """The request middleware (outermost, so answers of the other middlewares count too) and
    ``GET /metrics``."""
    settings = runtime.settings
    depth = CollectorRegistry(auto_describe=False)
    if settings.metrics_queue_depth:
        broker = BrokerDepth.for_broker(settings.effective_broker_url)
        depth.register(QueueDepthCollector(runtime.db, broker))
    accepted = credentials(settings.metrics_basic_auth)

    def metrics(request: Request) -> Response:
        if not authorized(request.headers.get("authorization"), accepted):
            return PlainTextResponse(
                "metrics need basic auth (IMAGEJOBS_METRICS_BASIC_AUTH)",
                status_code=401,
                headers={"WWW-Authenticate": CHALLENGE},
            )
        body = generate_latest(exposition_registry()) + generate_latest(depth)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestMetrics)
