"""``WorkerProcess.ready()`` (the demo's, tests' and benches' worker start) on a broker that
cannot be reached: not ready yet, rather than an error that ends the start at once."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cli.worker_process import WorkerProcess

pytestmark = pytest.mark.slow


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once closed


def test_an_unreachable_broker_is_not_ready_yet(tmp_path: Path) -> None:
    broker = f"redis://127.0.0.1:{closed_port()}/0"
    process = WorkerProcess({"IMAGEJOBS_BROKER_URL": broker}, tmp_path / "worker.log")
    process.ready_dir.mkdir(parents=True)
    (process.ready_dir / process.nodes[0]).write_text("")  # as if its worker said it consumes
    assert process.ready() is False
