"""https through the pinned connection: the socket goes to the checked IP while SNI and the
certificate check use the URL's host name. Uses a throwaway self-signed certificate made with
the openssl command (skipped when it is missing)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from imagejobs.net import FetchError, GuardedFetcher

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


class TLSHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host"))  # type: ignore[attr-defined]
        body = b"secure image"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, Path, list[str]]]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = [
        *("openssl", "req", "-x509", "-nodes", "-days", "1"),
        *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-keyout", str(key), "-out", str(cert)),
        *("-subj", "/CN=images.example", "-addext", "subjectAltName=DNS:images.example"),
    ]
    subprocess.run(command, check=True, capture_output=True)
    sni_names: list[str] = []

    def record_sni(sock: Any, name: str | None, ctx: Any) -> None:
        sni_names.append(name or "")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = record_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), TLSHandler)
    server.daemon_threads = True
    server.hosts = []  # type: ignore[attr-defined]
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server, cert, sni_names
    server.shutdown()
    server.server_close()
    thread.join(timeout=2)


def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def test_https_connects_to_the_checked_ip_and_verifies_the_original_name(
    tls_server: tuple[ThreadingHTTPServer, Path, list[str]],
) -> None:
    server, cert, sni_names = tls_server
    port = server.server_address[1]
    trust = ssl.create_default_context(cafile=str(cert))
    client = GuardedFetcher(
        allowlist=("images.example",), timeout_s=5, resolver=resolver, verify=trust
    )
    result = client.get(f"https://images.example:{port}/a.png")
    assert result.content == b"secure image"
    assert sni_names == ["images.example"]
    assert server.hosts == [f"images.example:{port}"]  # type: ignore[attr-defined]


def test_https_certificate_for_another_name_is_rejected(
    tls_server: tuple[ThreadingHTTPServer, Path, list[str]],
) -> None:
    server, cert, _ = tls_server
    port = server.server_address[1]
    trust = ssl.create_default_context(cafile=str(cert))
    client = GuardedFetcher(
        allowlist=("other.example",), timeout_s=5, resolver=resolver, verify=trust
    )
    with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        client.get(f"https://other.example:{port}/a.png")
