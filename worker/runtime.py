"""Per-process resources of a worker: settings, one Gemini client, the blob store, the fetcher."""

from __future__ import annotations

import functools
import os
import socket
import threading
from dataclasses import dataclass, field

from imagejobs.gemini.client import GenaiGemini
from imagejobs.gemini.port import GeminiPort
from imagejobs.settings import Settings, SettingsError, get_settings
from imagejobs.store.blobs import BlobStore, DirectoryBlobStore

EMULATOR_KEY = "imagejobs-emulator"


def build_gemini(settings: Settings) -> GenaiGemini:
    """The Gemini client the settings call for; a wrong combination fails naming the setting."""
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
        max_connections=settings.worker_concurrency + 16,
    )


@dataclass
class Runtime:
    settings: Settings
    gemini: GeminiPort
    blobs: BlobStore
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    upload_locks: dict[str, threading.Lock] = field(default_factory=dict)
    locks_guard: threading.Lock = field(default_factory=threading.Lock)

    def lock_for(self, key: str) -> threading.Lock:
        with self.locks_guard:
            return self.upload_locks.setdefault(key, threading.Lock())


@functools.cache
def get_runtime() -> Runtime:
    """The process's runtime, built on first use (one Gemini client per worker process)."""
    settings = get_settings()
    return Runtime(
        settings=settings,
        gemini=build_gemini(settings),
        blobs=DirectoryBlobStore(settings.effective_blob_dir),
    )
