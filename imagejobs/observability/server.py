"""A worker host's ``/metrics`` endpoint: a small threaded HTTP server in the process that
serves it (the supervisor, or the one process of an embedded-broker worker)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from imagejobs.observability.auth import CHALLENGE, authorized

PATHS = ("/metrics", "/metrics/")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one line per scrape is noise
        pass


class _Server4(ThreadingWSGIServer):
    address_family = socket.AF_INET


class _Server6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


def _app(registry: CollectorRegistry, accepted: list[bytes]) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") not in PATHS:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: the metrics are at /metrics\n"]
        if not authorized(environ.get("HTTP_AUTHORIZATION"), accepted):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", CHALLENGE)],
            )
            return [b"metrics need basic auth (IMAGEJOBS_METRICS_BASIC_AUTH)\n"]
        return metrics(environ, start_response)

    return app


class MetricsEndpoint:
    """``GET /metrics`` on ``address:port`` (port 0: any free one) from ``registry``."""

    def __init__(
        self, registry: CollectorRegistry, address: str, port: int, accepted: list[bytes]
    ) -> None:
        server_class = _Server6 if ":" in address else _Server4
        try:
            self.server = make_server(
                address,
                port,
                _app(registry, accepted),
                server_class=server_class,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            raise OSError(
                f"cannot serve metrics on {address}:{port} (IMAGEJOBS_METRICS_ADDRESS, "
                f"IMAGEJOBS_METRICS_PORT): {exc.strerror or exc}"
            ) from exc
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="imagejobs-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def start(self) -> MetricsEndpoint:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
