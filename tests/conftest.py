"""Test-wide settings: every test process talks to real Postgres and Redis.

The environment is set here, before any imagejobs module reads its settings, so the test process
and the worker processes it starts share one database, one broker and one blob folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.services import WorkerProcess, claim_redis_db, database_name

if TYPE_CHECKING:
    from imagejobs.emulator import EmulatorServer

_RUN_DIR = Path(tempfile.mkdtemp(prefix="imagejobs-tests-"))
TEST_DB = database_name("main")  # this run's own database (tests/services.py)
DOWNSCALE_LONGEST_SIDE = 1024
WEBHOOK_SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWltYWdlam9icw=="
TEST_BROKER_URL = claim_redis_db()  # this run's own Redis database number

os.environ.update(
    {
        "IMAGEJOBS_DATA_DIR": str(_RUN_DIR / "data"),
        "IMAGEJOBS_BLOB_DIR": str(_RUN_DIR / "blobs"),
        "IMAGEJOBS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{TEST_DB}",
        "IMAGEJOBS_BROKER_URL": TEST_BROKER_URL,
        # Tests count Gemini calls for images they send again and again: the result cache is
        # off here and switched on by the tests of the cache (tests/e2e/test_governance.py).
        "IMAGEJOBS_RESULT_CACHE_TTL_S": "0",
    }
)
for _name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "IMAGEJOBS_GEMINI_API_KEY"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def run_dir() -> Path:
    return _RUN_DIR


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, migrated Postgres database for this test run."""
    from imagejobs.store.db import dispose_all
    from imagejobs.store.migrate import migrate
    from tests.services import fresh_database

    url = fresh_database("main")
    migrate(url)
    yield url
    dispose_all()


@pytest.fixture(scope="session")
def broker_url() -> str:
    return TEST_BROKER_URL


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    from imagejobs.emulator import EmulatorServer

    with EmulatorServer() as server:
        yield server


@pytest.fixture(scope="session")
def worker(
    database_url: str, broker_url: str, emulator: EmulatorServer, run_dir: Path
) -> Iterator[WorkerProcess]:
    process = WorkerProcess(
        {
            "IMAGEJOBS_GEMINI_BASE_URL": emulator.base_url,
            "IMAGEJOBS_DOWNSCALE_LONGEST_SIDE": str(DOWNSCALE_LONGEST_SIDE),
            "IMAGEJOBS_RETRY_BASE_S": "0.2",
            "IMAGEJOBS_MAX_ATTEMPTS": "4",
            "IMAGEJOBS_SWEEP_INTERVAL_S": "0.5",
            "IMAGEJOBS_PARK_AFTER_S": "5",
            "IMAGEJOBS_URL_ALLOWLIST": '["127.0.0.1", "localhost"]',
            "IMAGEJOBS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "IMAGEJOBS_WEBHOOK_SCHEDULE_SCALE": "0.002",
        },
        run_dir / "worker.log",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def fresh_emulator(emulator: EmulatorServer) -> None:
    emulator.control.reset()
