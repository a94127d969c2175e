"""``imagejobs flower`` asks for credentials from the settings, and will not listen beyond
loopback without them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import REPO

pytestmark = pytest.mark.slow

PASSWORD = "s3cret-flower-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def flower_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "FLOWER" not in k}
    return {**env, **extra}


def test_refuses_to_listen_on_every_interface_without_credentials() -> None:
    # Flower's own variable is not enough: only the setting counts.
    env = flower_env(FLOWER_BASIC_AUTH="a:b")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "flower",
            "--address",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "refusing to run Flower on 0.0.0.0 without credentials" in lines[0]
    assert "IMAGEJOBS_FLOWER_BASIC_AUTH" in lines[0]


def test_a_bad_credentials_setting_is_named() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "flower"],
        capture_output=True,
        text=True,
        env=flower_env(IMAGEJOBS_FLOWER_BASIC_AUTH="no-password"),
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert "IMAGEJOBS_FLOWER_BASIC_AUTH: must be user:password" in result.stderr
    assert "no-password" not in result.stderr  # a secret, even a malformed one


def test_pages_need_the_credentials(tmp_path: Path, broker_url: str) -> None:
    port = free_port()
    log = (tmp_path / "flower.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "flower", "--address", "0.0.0.0", "--port", str(port)],
        env=flower_env(IMAGEJOBS_FLOWER_BASIC_AUTH=f"ops:{PASSWORD}"),
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                anonymous = httpx.get(f"{base}/", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "flower.log").read_text()
                assert time.monotonic() < deadline, "Flower did not start"
                time.sleep(0.3)
        assert anonymous.status_code == 401
        assert httpx.get(f"{base}/api/workers", timeout=5).status_code == 401
        assert httpx.get(f"{base}/", auth=("ops", "wrong"), timeout=5).status_code == 401
        assert httpx.get(f"{base}/", auth=("ops", PASSWORD), timeout=5).status_code == 200
        assert httpx.get(f"{base}/tasks", auth=("ops", PASSWORD), timeout=5).status_code == 200
        # compose's healthcheck asks this one without credentials: it says only "OK"
        assert httpx.get(f"{base}/healthcheck", timeout=5).text == "OK"
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert PASSWORD.encode() not in cmdline  # passed in the environment, not on argv
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    assert PASSWORD not in (tmp_path / "flower.log").read_text()
