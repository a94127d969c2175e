"""Files API uploads, reused by content hash across jobs until shortly before they expire."""

from __future__ import annotations

from datetime import timedelta

from imagejobs.gemini.port import RemoteFile
from imagejobs.observability.metrics import FILE_REUSES, FILE_UPLOADS
from imagejobs.runtime import Runtime
from imagejobs.store.models import UploadedFile, utcnow
from imagejobs.store.uploads import find_reusable, record_upload


def ensure_uploaded(
    runtime: Runtime, sha256: str, data: bytes, mime: str, display_name: str
) -> UploadedFile:
    """An ACTIVE uploaded file holding ``data``: a reusable one, or a fresh upload.

    A per-hash lock makes concurrent jobs in this process wait for one upload instead of each
    sending the same bytes.
    """
    with runtime.lock_for(sha256):
        with runtime.db.session() as session:
            existing = find_reusable(
                session,
                runtime.gemini.api_base,
                sha256,
                margin_s=runtime.settings.file_reuse_margin_s,
            )
        if existing is not None:
            FILE_REUSES.inc()
            return existing
        try:
            remote = runtime.gemini.upload(data, mime, display_name)
            if remote.state != "ACTIVE":
                remote = runtime.gemini.wait_active(
                    remote.name, timeout_s=runtime.settings.file_active_timeout_s
                )
            recorded = _record(runtime, sha256, remote, mime, len(data))
        except Exception:
            FILE_UPLOADS.labels("error").inc()
            raise
        FILE_UPLOADS.labels("ok").inc()
        return recorded


def _record(
    runtime: Runtime, sha256: str, remote: RemoteFile, mime: str, size: int
) -> UploadedFile:
    with runtime.db.session() as session:
        return record_upload(
            session,
            runtime.gemini.api_base,
            sha256,
            name=remote.name,
            uri=remote.uri,
            mime=remote.mime or mime,
            size_bytes=size,
            expires_at=remote.expires_at or utcnow() + timedelta(hours=48),
        )
