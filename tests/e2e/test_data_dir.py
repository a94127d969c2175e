"""The default data folder does not depend on the working directory: a job submitted by the CLI
from one directory runs on a worker started in another (their images meet in one blob store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagejobs.emulator import EmulatorServer
from imagejobs.store.migrate import migrate
from tests.e2e.test_tasks import scene_a
from tests.services import WorkerProcess, claim_redis_db, fresh_database

pytestmark = pytest.mark.slow


@pytest.fixture
def default_folders_env(tmp_path: Path, emulator: EmulatorServer) -> dict[str, str]:
    """This run's own database and broker, no data or blob folder set, and a home of its own."""
    database = fresh_database("data_dir")
    migrate(database)
    env = {k: v for k, v in os.environ.items() if k not in ("IMAGEJOBS_DATA_DIR", "XDG_DATA_HOME")}
    env.pop("IMAGEJOBS_BLOB_DIR", None)
    env.update(
        {
            "HOME": str(tmp_path / "home"),
            "IMAGEJOBS_DATABASE_URL": database,
            "IMAGEJOBS_BROKER_URL": claim_redis_db(),
            "IMAGEJOBS_GEMINI_BASE_URL": emulator.base_url,
            "IMAGEJOBS_MAX_ATTEMPTS": "2",
            "IMAGEJOBS_RETRY_BASE_S": "0.1",
        }
    )
    return env


@pytest.fixture
def worker_elsewhere(default_folders_env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    cwd = tmp_path / "worker-cwd"
    cwd.mkdir()
    process = WorkerProcess({}, tmp_path / "worker.log", concurrency=2, cwd=cwd)
    # WorkerProcess adds this process's environment, which names the suite's folders: replace it.
    process.env = {**default_folders_env, "IMAGEJOBS_READY_DIR": str(process.ready_dir)}
    process.start()
    yield
    process.stop()


def test_cli_submit_from_another_directory_runs(
    default_folders_env: dict[str, str], worker_elsewhere: None, tmp_path: Path
) -> None:
    cwd = tmp_path / "cli-cwd"
    cwd.mkdir()
    (cwd / "scene.png").write_bytes(scene_a().encode("PNG"))
    command = ["submit", "scene.png", "--task", "caption", "--wait", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "cli", *command],
        capture_output=True,
        text=True,
        env=default_folders_env,
        cwd=cwd,
        timeout=120,
    )
    view = json.loads(result.stdout)
    assert view["status"] == "succeeded", view["error"]
    blobs = tmp_path / "home" / ".local" / "share" / "imagejobs" / "blobs"
    assert (blobs / view["images"][0]["sha256"][:2]).is_dir()
    assert not (cwd / ".imagejobs").exists() and not (tmp_path / "worker-cwd/.imagejobs").exists()
