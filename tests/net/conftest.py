"""Real local HTTP servers for the guarded fetcher and webhook sender tests.

``LocalServer`` counts every TCP connection it accepts, records every request, and answers
from ``routes`` (GET, by path: a ``(status, headers, body)`` tuple or a callable taking the
handler) or ``post_script`` (POST: one ``(status, headers, body)`` tuple per request, in order).
Helpers are exposed as fixtures so test modules need no imports from here.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Route = Callable[["Handler"], None]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.requests: list[Recorded] = []
        self.routes: dict[str, Route | Reply] = {}
        self.post_script: list[Reply] = []
        self.release = threading.Event()  # set at teardown to free stalled handlers
        self.lock = threading.Lock()
        self.on_post: Callable[[Recorded], Reply | None] | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self.lock:
            self.connections += 1
        return conn, addr


class Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        item = Recorded(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        with self.server.lock:
            self.server.requests.append(item)
        return item

    def send_reply(self, reply: Reply) -> None:
        status, extra, body = reply
        self.send_response(status)
        headers = {"Content-Length": str(len(body)), **extra}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._record()
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_reply((404, {}, b"not found"))
        elif isinstance(route, tuple):
            self.send_reply(route)
        else:
            route(self)

    def do_POST(self) -> None:
        item = self._record()
        reply = self.server.on_post(item) if self.server.on_post else None
        if reply is None:
            with self.server.lock:
                reply = (
                    self.server.post_script.pop(0) if self.server.post_script else (204, {}, b"")
                )
        self.send_reply(reply)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=2)


@pytest.fixture
def connect_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every address any code in this process opens a TCP connection to, during the test."""
    calls: list[tuple[str, int]] = []
    real = socket.create_connection

    def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        calls.append((address[0], address[1]))
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording)
    return calls


@pytest.fixture
def make_resolver() -> Callable[..., Callable[..., Any]]:
    return fake_resolver


def fake_resolver(table: dict[str, str], calls: list[str] | None = None) -> Callable[..., Any]:
    """A getaddrinfo stand-in answering from ``table`` (name -> IP), recording each lookup."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        ip = table[host]
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (ip, port))]

    return resolve
