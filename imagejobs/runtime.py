"""What a process of imagejobs works with, built once by its entrypoint from the settings.

The API app factory, the worker's start-up and the CLI each read the settings once and build a
:class:`Runtime`; everything below them is handed the runtime (or the one part it needs), so no
module of the library reads the settings or opens a connection on its own.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from functools import cached_property

import redis

from imagejobs.broker.queue import JobQueue
from imagejobs.gemini.client import GenaiGemini
from imagejobs.gemini.port import GeminiPort
from imagejobs.governance.governor import Governor
from imagejobs.settings import Settings, SettingsError
from imagejobs.store.blobs import BlobStore, DirectoryBlobStore
from imagejobs.store.db import Database

EMULATOR_KEY = "imagejobs-emulator"


def build_gemini(settings: Settings, *, threads: int | None = None) -> GenaiGemini:
    """The Gemini client the settings call for; a wrong combination fails naming the setting.

    Its connection pool has room for every thread of the process (``threads``; by default
    ``IMAGEJOBS_WORKER_CONCURRENCY``) to hold a call, so no claimed job waits for a socket."""
    key = settings.api_key()
    if not key:
        if settings.gemini_base_url is None:
            raise SettingsError(
                "GEMINI_API_KEY is not set: set it to call real Gemini, or set "
                "IMAGEJOBS_GEMINI_BASE_URL to a local emulator (imagejobs emulator)"
            )
        key = EMULATOR_KEY
    return GenaiGemini(
        api_key=key,
        base_url=settings.gemini_base_url,
        api_version=settings.gemini_api_version,
        timeout_s=settings.gemini_timeout_s,
        max_connections=(threads or settings.worker_concurrency) + 16,
    )


@dataclass
class Runtime:
    """Settings, the database, the blob store, the broker and (on first use) Gemini."""

    settings: Settings
    db: Database
    blobs: BlobStore
    queue: JobQueue
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _gemini: GeminiPort | None = None
    _upload_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, *, gemini: GeminiPort | None = None) -> Runtime:
        return cls(
            settings=settings,
            db=Database(settings.effective_database_url),
            blobs=DirectoryBlobStore(settings.effective_blob_dir),
            queue=JobQueue(settings),
            _gemini=gemini,
        )

    @cached_property
    def gemini(self) -> GeminiPort:
        """One Gemini client per process (built on first use: the API never needs one)."""
        return self._gemini if self._gemini is not None else build_gemini(self.settings)

    @cached_property
    def governor(self) -> Governor:
        """Quota, breaker and budgets on the governance Redis (off without one)."""
        url = self.settings.effective_governance_redis_url
        client = (
            redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5) if url else None
        )
        return Governor(self.settings.governance, client)

    def lock_for(self, key: str) -> threading.Lock:
        """One lock per key (an upload's content hash), shared by the process's threads."""
        with self._locks_guard:
            return self._upload_locks.setdefault(key, threading.Lock())

    def close(self) -> None:
        self.queue.close()
        if "governor" in self.__dict__ and self.governor.client is not None:
            self.governor.client.close()
        self.db.dispose()
