"""Run the emulator with uvicorn in a background thread (for tests, demos and the CLI)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from imagejobs.emulator.config import EmulatorConfig
from imagejobs.emulator.control import EmulatorControl
from imagejobs.emulator.server import create_app

BACKLOG = 2048


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    """Settings that let one process hold >= 500 slow requests at once, access log off."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        backlog=BACKLOG,
        limit_concurrency=None,
        timeout_keep_alive=30,
        lifespan="off",
    )


class EmulatorServer:
    """The emulator on ``host:port`` (port 0 picks a free one) in a daemon thread.

    >>> with EmulatorServer(latency_s=0.1) as emu:
    ...     client = genai.Client(api_key="k", http_options={"base_url": emu.base_url})
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        **options: Any,
    ) -> None:
        if config is not None and options:
            raise TypeError("pass either config= or keyword options, not both")
        self.host = host
        self.port = port
        self.config = config or EmulatorConfig.from_kwargs(**options)
        self.app = create_app(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._control: EmulatorControl | None = None

    @property
    def base_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("EmulatorServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def control(self) -> EmulatorControl:
        """The control client of this server (one, kept while it runs)."""
        if self._control is None or self._control.base_url != self.base_url:
            self._control = EmulatorControl(self.base_url)
        return self._control

    def start(self, timeout_s: float = 10.0) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("EmulatorServer is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(self.app, self.host, self.port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="gemini-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"emulator did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None
        self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
