"""In-memory emulator state: stored files, upload sessions, the script queue, stats and faults.

All mutation happens on the server's event loop, so no locks are needed.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imagejobs.emulator.callstats import CallStats
from imagejobs.emulator.config import FILE_TTL_S, EmulatorConfig, Faults
from imagejobs.emulator.overload import Overloads
from imagejobs.emulator.quota import QuotaLedger, QuotaLimits


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class StoredFile:
    file_id: str
    data: bytes
    mime_type: str
    display_name: str | None
    created: float
    ready_at: float | None  # None: stuck in PROCESSING for ever
    final_state: str  # ACTIVE or FAILED
    version: str

    def state(self, now: float) -> str:
        if self.ready_at is None or now < self.ready_at:
            return "PROCESSING"
        return self.final_state

    def expired(self, now: float) -> bool:
        return now >= self.created + FILE_TTL_S

    def resource(self, now: float) -> dict[str, Any]:
        """The File resource, camelCase, with every field the real API returns."""
        state = self.state(now)
        digest = hashlib.sha256(self.data).hexdigest().encode("ascii")
        updated = self.created if state == "PROCESSING" else (self.ready_at or self.created)
        resource: dict[str, Any] = {
            "name": f"files/{self.file_id}",
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": rfc3339(self.created),
            "updateTime": rfc3339(updated),
            "expirationTime": rfc3339(self.created + FILE_TTL_S),
            "sha256Hash": base64.b64encode(digest).decode("ascii"),
            "uri": f"https://generativelanguage.googleapis.com/{self.version}/files/{self.file_id}",
            "state": state,
            "source": "UPLOADED",
        }
        if self.display_name:
            resource["displayName"] = self.display_name
        if state == "FAILED":
            resource["error"] = {"code": 400, "message": "File processing failed (emulator fault)."}
        return resource


@dataclass
class UploadSession:
    upload_id: str
    expected_size: int | None
    mime_type: str
    display_name: str | None
    requested_name: str | None
    version: str
    received: bytearray = field(default_factory=bytearray)


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget files, uploads, script, stats, quota usage, overloads and clock offset; faults
        and quotas back to the config's."""
        self.faults: Faults = dataclasses.replace(self.config.faults)
        self.quotas: QuotaLimits = self.config.quotas
        self.ledger = QuotaLedger()
        self.overloads = Overloads()
        self.call_stats = CallStats()
        self.rng = random.Random(self.faults.seed)
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, UploadSession] = {}
        self.script: deque[dict[str, Any]] = deque()
        self.calls: Counter[str] = Counter()
        self.bytes_inline = 0
        self.bytes_uploaded = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.clock_offset_s = 0.0

    # Clock -------------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset_s

    # Faults ------------------------------------------------------------------------------------

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply fault changes (``overload`` included) all or nothing; returns all faults."""
        changes = dict(changes)
        overload = self.overloads.parse(changes.pop("overload", {}), self.now())
        self.faults = self.faults.updated(changes)
        self.overloads.apply(overload)
        if "seed" in changes:
            self.rng = random.Random(self.faults.seed)
        return self.faults_dict()

    def faults_dict(self) -> dict[str, Any]:
        return {**self.faults.as_dict(), "overload": self.overloads.as_dict(self.now())}

    # Quotas ------------------------------------------------------------------------------------

    def set_quotas(self, changes: dict[str, Any]) -> dict[str, Any]:
        self.quotas = self.quotas.updated(changes)
        return self.quota_dict()

    def quota_dict(self) -> dict[str, Any]:
        return {**self.quotas.as_dict(), "usage": self.ledger.usage(self.now())}

    def roll(self, rate: float) -> bool:
        """True with probability ``rate`` (exactly always at 1.0, never at 0)."""
        if rate >= 1.0:
            return True
        if rate <= 0.0:
            return False
        return self.rng.random() < rate

    def latency(self) -> float:
        jitter = self.rng.uniform(0, self.faults.jitter_s) if self.faults.jitter_s else 0.0
        return self.faults.latency_s + jitter

    # Files -------------------------------------------------------------------------------------

    def new_file_id(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        while True:
            file_id = "".join(secrets.choice(alphabet) for _ in range(12))
            if file_id not in self.files:
                return file_id

    def store_file(self, session: UploadSession) -> StoredFile:
        now = self.now()
        file_id = self.new_file_id()
        if session.requested_name:
            file_id = session.requested_name.removeprefix("files/")
        ready_at = (
            None if self.faults.file_stuck_processing else now + self.faults.processing_delay_s
        )
        final_state = "FAILED" if self.roll(self.faults.file_failed_rate) else "ACTIVE"
        stored = StoredFile(
            file_id=file_id,
            data=bytes(session.received),
            mime_type=session.mime_type,
            display_name=session.display_name,
            created=now,
            ready_at=ready_at,
            final_state=final_state,
            version=session.version,
        )
        self.files[file_id] = stored
        return stored

    def live_file(self, file_id: str) -> StoredFile | None:
        """The file if it exists and has not expired (expired files are dropped)."""
        stored = self.files.get(file_id)
        if stored is not None and stored.expired(self.now()):
            del self.files[file_id]
            return None
        return stored

    def live_files(self) -> list[StoredFile]:
        for file_id in list(self.files):
            self.live_file(file_id)
        return sorted(self.files.values(), key=lambda f: (f.created, f.file_id))

    # Stats -------------------------------------------------------------------------------------

    def enter(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        self.in_flight -= 1

    def stats(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "bytes_inline": self.bytes_inline,
            "bytes_uploaded": self.bytes_uploaded,
            "files_stored": len(self.live_files()),
            "script_pending": len(self.script),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            **self.call_stats.as_dict(self.now()),
        }
