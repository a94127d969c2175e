"""The suite's servers and environment, set up before any imagejobs setting is read.

:class:`Suite` starts the own Redis and the own Postgres cluster, points this process's
``IMAGEJOBS_*`` environment at them (so ``submit_job`` enqueues on the own Redis, as in
production), and takes everything down again. Scenarios each get a database of their own on the
cluster. ``servers.json`` in the suite folder names what is running, so a parent that had to
kill this process can still stop the cluster (:func:`cleanup_leftovers`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from bench.faultkit.servers import OwnPostgres, OwnRedis, ServerError

SERVERS_FILE = "servers.json"
_SCRUB_PREFIXES = ("IMAGEJOBS_",)
_SCRUB_NAMES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL")


class Suite:
    def __init__(self, root: Path | None = None, keep: bool = False) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="imagejobs-faults-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.redis = OwnRedis(self.root / "redis")
        self.pg: OwnPostgres | None = None

    def __enter__(self) -> Suite:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def postgres(self) -> OwnPostgres:
        if self.pg is None:
            raise ServerError("the suite's Postgres cluster is not started")
        return self.pg

    def start(self) -> None:
        self.redis.start()
        self.pg = OwnPostgres()
        self._write_servers()
        self.pg.init()
        self.pg.start()
        self._set_environment()

    def _write_servers(self) -> None:
        assert self.pg is not None
        (self.root / SERVERS_FILE).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "redis_port": self.redis.port,
                    "postgres_dir": str(self.pg.root),
                    "postgres_bindir": str(self.pg.bindir),
                }
            )
        )

    def _set_environment(self) -> None:
        """This process talks to the own servers only; nothing of the caller's setup leaks in."""
        for name in list(os.environ):
            if name.startswith(_SCRUB_PREFIXES) or name in _SCRUB_NAMES:
                del os.environ[name]
        os.environ.update(
            {
                "IMAGEJOBS_BROKER_URL": self.redis.url,
                # Scenarios pass their own database; anything using this one fails loudly.
                "IMAGEJOBS_DATABASE_URL": self.postgres.url("imagejobs_no_scenario"),
                "IMAGEJOBS_DATA_DIR": str(self.root / "data"),
                "IMAGEJOBS_BLOB_DIR": str(self.root / "blobs"),
            }
        )

    def ensure_up(self) -> None:
        """Before a scenario: both servers running (an earlier scenario may have failed while
        one was down), and the broker empty."""
        if self.redis.proc is None:
            self.redis.start()
        if not self.postgres.running:
            self.postgres.start()
        self.redis.flushall()

    def close(self) -> None:
        errors: list[str] = []
        try:
            self.redis.stop()
        except Exception as exc:
            errors.append(f"redis: {exc}")
        if self.pg is not None:
            try:
                self.pg.remove()
            except Exception as exc:
                errors.append(f"postgres: {exc}")
            self.pg = None
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            print("cleanup problems: " + "; ".join(errors))


def cleanup_leftovers(root: Path) -> None:
    """Stop what a killed suite process left running under ``root`` (its cluster, its Redis)."""
    path = root / SERVERS_FILE
    if not path.exists():
        return
    info = json.loads(path.read_text())
    pg_dir = Path(info["postgres_dir"])
    if (pg_dir / "data" / "postmaster.pid").exists():
        leftover = OwnPostgres.attach(pg_dir, Path(info["postgres_bindir"]))
        try:
            leftover.stop("immediate")
        except ServerError as exc:
            print(f"could not stop the leftover cluster in {pg_dir}: {exc}")
    shutil.rmtree(pg_dir, ignore_errors=True)
    try:
        OwnRedis.shutdown_port(int(info["redis_port"]))
    except Exception as exc:
        print(f"could not stop the leftover Redis on port {info['redis_port']}: {exc}")
