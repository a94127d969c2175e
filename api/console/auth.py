"""Who is looking at the console: a signed session cookie naming an API key (a producer, who sees
only its own jobs) or the operator (``IMAGEJOBS_CONSOLE_ADMIN``, who sees every job), and the
CSRF token every POST form carries.

The cookie holds no secret: a key's *id* (checked against the database on each request, so a
revoked key ends its sessions) or a fingerprint of the operator credential (so changing the
credential ends the operator's sessions), plus the CSRF token. It is signed and timed with
itsdangerous; the signing secret is ``IMAGEJOBS_CONSOLE_SECRET``, or one drawn per process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from imagejobs.runtime import Runtime
from imagejobs.settings import Settings
from imagejobs.store.console_queries import producer_of_active_key

COOKIE = "imagejobs_console"
CSRF_FIELD = "csrf_token"
ADMIN_NAME = "operator"


class SignInRequired(Exception):
    """No valid session: the console answers with the sign-in page (or a redirect to it)."""


class ConsoleError(Exception):
    """A console request refused with ``status``; shown as a page naming what was wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: a producer (``producer_id``) or the operator (``is_admin``)."""

    name: str
    producer_id: str | None
    is_admin: bool
    csrf: str

    def can_see(self, producer_id: str | None) -> bool:
        return self.is_admin or (producer_id is not None and producer_id == self.producer_id)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def admin_matches(settings: Settings, user: str, password: str) -> bool:
    """True when ``user:password`` is the operator credential (compared in constant time)."""
    if settings.console_admin is None:
        return False
    given = _digest(f"{user}:{password}")
    return hmac.compare_digest(given, _digest(settings.console_admin.get_secret_value()))


def admin_fingerprint(settings: Settings, secret: bytes) -> str | None:
    """A keyed hash of the operator credential: sessions carry it instead of the credential."""
    if settings.console_admin is None:
        return None
    credential = settings.console_admin.get_secret_value().encode("utf-8", "surrogatepass")
    return hmac.new(secret, credential, hashlib.sha256).hexdigest()[:32]


class Sessions:
    """Signing and reading the console's session cookie."""

    def __init__(self, settings: Settings) -> None:
        configured = settings.console_secret
        self.secret = (
            configured.get_secret_value().encode() if configured else secrets.token_bytes(32)
        )
        self.max_age = settings.console_session_s
        self.secure = settings.console_secure_cookie
        self._serializer = URLSafeTimedSerializer(self.secret, salt="imagejobs-console-session")

    def read(self, request: Request) -> dict[str, Any]:
        """The session's data; empty when there is no cookie, or a forged or expired one."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return {}
        try:
            data = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is a BadSignature
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, response: Response, data: dict[str, Any]) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(data),
            max_age=self.max_age,
            path="/",
            httponly=True,
            secure=self.secure,
            samesite="lax",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, secure=self.secure, samesite="lax")


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def producer_session(key_id: str) -> dict[str, Any]:
    """A fresh session for a producer's key (a new CSRF token: none survives a sign-in)."""
    return {"csrf": new_csrf(), "key_id": key_id}


def admin_session(settings: Settings, sessions: Sessions) -> dict[str, Any]:
    return {"csrf": new_csrf(), "admin": admin_fingerprint(settings, sessions.secret)}


def viewer_of(data: dict[str, Any], runtime: Runtime, sessions: Sessions) -> Viewer | None:
    """The signed-in viewer a session names, if it still may be: its key not revoked, the
    operator credential unchanged."""
    csrf = data.get("csrf")
    if not isinstance(csrf, str) or not csrf:
        return None
    admin = data.get("admin")
    if isinstance(admin, str):
        expected = admin_fingerprint(runtime.settings, sessions.secret)
        if expected is not None and hmac.compare_digest(admin, expected):
            return Viewer(ADMIN_NAME, None, True, csrf)
        return None
    key_id = data.get("key_id")
    if isinstance(key_id, str):
        with runtime.db.session() as session:
            producer = producer_of_active_key(session, key_id)
        if producer is not None:
            return Viewer(producer.name, producer.id, False, csrf)
    return None


def check_csrf(data: dict[str, Any], token: str | None) -> None:
    """Refuse (403) a POST whose form token is not its session's."""
    expected = data.get("csrf")
    if (
        not isinstance(expected, str)
        or not token
        or not hmac.compare_digest(expected.encode(), token.encode())
    ):
        raise ConsoleError(
            403, "the form's CSRF token is missing or stale: reload the page and send it again"
        )
