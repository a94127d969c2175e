"""This run's own services for the performance bench, set in the environment before any settings
are read: a fresh Postgres database, a claimed Redis database, temporary data and blob folders.

The result cache is off (every job of a batch has the same image and would be answered from it)
and the sweeper stays out of the way (the bench sends the messages itself).
"""

from __future__ import annotations

import atexit
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.services import claim_redis_db, database_name, fresh_database  # noqa: E402

PURPOSE = "perf"


def configure() -> Path:
    """Point this process (and the workers it starts) at this run's own services; returns the
    run's temporary folder (removed at exit)."""
    broker_url = claim_redis_db()
    tmp = Path(tempfile.mkdtemp(prefix="imagejobs-perf-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ.update(
        {
            "IMAGEJOBS_DATABASE_URL": (
                f"postgresql://postgres@127.0.0.1:5432/{database_name(PURPOSE)}"
            ),
            "IMAGEJOBS_BROKER_URL": broker_url,
            "IMAGEJOBS_BLOB_DIR": str(tmp / "blobs"),
            "IMAGEJOBS_DATA_DIR": str(tmp / "data"),
            "IMAGEJOBS_RESULT_CACHE_TTL_S": "0",
            "IMAGEJOBS_SWEEP_INTERVAL_S": "3600",
        }
    )
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "IMAGEJOBS_GEMINI_API_KEY"):
        os.environ.pop(name, None)  # the emulator only: never real Gemini
    from imagejobs.store.migrate import migrate

    migrate(fresh_database(PURPOSE))
    return tmp


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine_line() -> str:
    """What the figures were measured on: cores, load, open-files limit, versions, commit."""
    from google import genai

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores, load average {load_average()}, ulimit -n {soft} (hard {hard}), "
        f"Python {platform.python_version()}, google-genai {genai.__version__}, "
        f"commit {commit or '?'}{' + uncommitted changes' if dirty else ''}"
    )
