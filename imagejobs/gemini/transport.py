"""The HTTP transport under the SDK's client: connection pools shared out between threads.

httpx's connection pool keeps one lock and, at each request and at the end of each response,
walks every connection it holds (asking the idle ones whether their socket is still readable)
while holding it. One pool for a process of a hundred threads or more is a queue on that lock.
So the SDK's one httpx client gets a transport of several pools, each serving the threads
assigned to it in turn (a thread keeps its pool, so no pool has more threads than
connections, and no claimed job waits for a socket). Behind a proxy from the environment the
SDK keeps httpx's own transport (see :func:`client_args`).
"""

from __future__ import annotations

import itertools
import math
import os
import ssl
import threading
import urllib.request
from typing import Any

try:
    import httpx2 as http_lib  # google-genai >= 3 runs on httpx2
except ImportError:  # pragma: no cover - older SDKs run on httpx
    import httpx as http_lib  # type: ignore[no-redef]

THREADS_PER_POOL = 16


def _ssl_context() -> ssl.SSLContext:
    """The context the SDK would make: SSL_CERT_FILE / SSL_CERT_DIR if set, else the OS store."""
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(
            cafile=os.environ.get("SSL_CERT_FILE"), capath=os.environ.get("SSL_CERT_DIR")
        )
    return http_lib.create_ssl_context()


class ThreadPooledTransport(http_lib.BaseTransport):
    """Room for ``max_connections`` calls at once, in pools of THREADS_PER_POOL threads."""

    def __init__(self, max_connections: int) -> None:
        count = max(1, math.ceil(max_connections / THREADS_PER_POOL))
        size = math.ceil(max_connections / count) + 2  # a thread or two beyond the share
        limits = http_lib.Limits(max_connections=size, max_keepalive_connections=size)
        context = _ssl_context()
        self.pools = [http_lib.HTTPTransport(verify=context, limits=limits) for _ in range(count)]
        self._turn = itertools.count()
        self._local = threading.local()

    def pool(self) -> Any:
        """This thread's pool (threads are given the pools in turn)."""
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = self.pools[next(self._turn) % len(self.pools)]
        return pool

    def handle_request(self, request: Any) -> Any:
        return self.pool().handle_request(request)

    def close(self) -> None:
        for pool in self.pools:
            pool.close()


def client_args(max_connections: int) -> dict[str, Any]:
    """``HttpOptions.client_args`` for a process of up to ``max_connections`` calling threads.

    With a proxy set in the environment (HTTPS_PROXY and friends), httpx's own transport, which
    honours it and NO_PROXY (a client given a transport ignores them), with one pool that size.
    """
    if urllib.request.getproxies():
        limits = http_lib.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        return {"limits": limits}
    return {"transport": ThreadPooledTransport(max_connections)}
