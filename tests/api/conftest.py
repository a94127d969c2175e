"""API fixtures: the FastAPI app served by uvicorn over real HTTP (in this process, on the same
Postgres, Redis and blob folder as the worker fixture), producers with API keys, a local webhook
receiver and image server, and helpers to make test images."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image

from api.client import ImageJobsClient
from imagejobs.settings import Settings, get_settings
from imagejobs.store.db import Database
from imagejobs.store.producers import NewKey, create_key

Reply = tuple[int, dict[str, str], bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free local port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# The worker fixture's allowlist (tests/conftest.py): local receivers are admitted by both.
API_URL_ALLOWLIST = ["127.0.0.1", "localhost"]


def api_settings(**changes: Any) -> Settings:
    """The test process's settings as the API should see them (the worker's allowlist)."""
    return get_settings().model_copy(update={"url_allowlist": API_URL_ALLOWLIST, **changes})


@pytest.fixture(scope="session")
def api_url(database_url: str, broker_url: str) -> Iterator[str]:
    from api.app import create_app

    with serve(create_app(api_settings())) as url:
        yield url


@pytest.fixture(scope="session")
def make_producer(database_url: str) -> Callable[[str], NewKey]:
    def make(prefix: str = "producer") -> NewKey:
        with Database(get_settings().effective_database_url).session() as session:
            return create_key(session, f"{prefix}-{uuid.uuid4().hex[:8]}")

    return make


@pytest.fixture(scope="session")
def alpha(make_producer: Callable[[str], NewKey]) -> NewKey:
    return make_producer("alpha")


@pytest.fixture(scope="session")
def beta(make_producer: Callable[[str], NewKey]) -> NewKey:
    return make_producer("beta")


@pytest.fixture
def client(api_url: str, alpha: NewKey) -> Iterator[ImageJobsClient]:
    with ImageJobsClient(api_url, alpha.api_key, timeout=30) as c:
        yield c


def png(width: int = 64, height: int = 48, color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def scene_png() -> bytes:
    from tests.e2e.test_tasks import scene_a

    return scene_a().encode("PNG")


# A local HTTP server: images by GET, a webhook receiver by POST ------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class LocalHTTP:
    """Counts connections, records requests; GET from ``routes``, POST from ``post_script``."""

    host: str = "127.0.0.1"
    routes: dict[str, Reply] = field(default_factory=dict)
    post_script: list[Reply] = field(default_factory=list)
    on_post: Callable[[Request], Reply | None] | None = None
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        owner = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _record(self) -> Request:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                item = Request(self.command, self.path, headers, body, time.monotonic())
                with lock:
                    owner.requests.append(item)
                return item

            def _reply(self, reply: Reply) -> None:
                status, extra, body = reply
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **extra}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._record()
                self._reply(owner.routes.get(self.path, (404, {}, b"not found")))

            def do_POST(self) -> None:
                item = self._record()
                reply = owner.on_post(item) if owner.on_post else None
                if reply is None:
                    with lock:
                        script = owner.post_script
                        reply = script.pop(0) if script else (204, {}, b"")
                self._reply(reply)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                conn, addr = super().get_request()
                with lock:
                    owner.connections += 1
                return conn, addr

        self.server = Server((self.host, 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}{path}"

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_http() -> Iterator[Callable[..., LocalHTTP]]:
    made: list[LocalHTTP] = []

    def make(host: str = "127.0.0.1") -> LocalHTTP:
        made.append(LocalHTTP(host=host))
        return made[-1]

    yield make
    for item in made:
        item.close()


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def event_of(request: Request) -> dict[str, Any]:
    return dict(json.loads(request.body))


@pytest.fixture(autouse=True)
def _fresh_emulator_when_used(request: pytest.FixtureRequest) -> None:
    """Tests that use the worker start with an emulator with no faults and no script."""
    if "worker" in request.fixturenames:
        request.getfixturevalue("fresh_emulator")
