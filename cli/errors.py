"""What a failure of the ``imagejobs`` command line looks like: one line on stderr.

The root command (:mod:`cli.main`) sends every exception through :func:`describe`, which knows
the failures a user can act on (no schema yet, no such database, an API that is down, an unknown
job, a file that is not an image, ...) and names what to do; anything else is reported as a bug
in one line too. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from psycopg.errors import UndefinedTable
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from api.client import ImageJobsError, JobWaitTimeout
from imagejobs.core.imageinfo import ImageRejected
from imagejobs.intake.errors import InvalidRequest
from imagejobs.results.overlay_image import OverlayUnavailable
from imagejobs.settings import SettingsError
from imagejobs.store.blobs import BlobNotFound
from imagejobs.store.jobs import JobNotFound


class CliError(Exception):
    """A failure the user can act on: ``message`` is printed as it is, then exit ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def require_file(path: Path) -> None:
    """Refuse a path that is not a readable file, saying what it is instead."""
    if path.is_dir():
        raise CliError(f"{path} is a directory, not an image file", 2)
    if not path.exists():
        raise CliError(f"{path}: no such file", 2)


def describe(exc: BaseException, *, database_url: str | None = None) -> tuple[str, int]:
    """The one line a user reads for ``exc``, and the exit code.

    ``database_url`` is the command's database (None when it never read the settings); a
    database failure names it, without its password.
    """
    message, code = _describe(exc, database_url)
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__), code


def _describe(exc: BaseException, database_url: str | None) -> tuple[str, int]:
    if isinstance(exc, CliError):
        return exc.message, exc.exit_code
    if isinstance(exc, SettingsError):
        return str(exc), 2
    if isinstance(exc, ValidationError):
        return _validation(exc), 2
    if isinstance(exc, InvalidRequest):
        return exc.detail, 2
    if isinstance(exc, ImageRejected):
        return exc.message, 2
    if isinstance(exc, JobNotFound):
        return f"no job {exc.args[0]}", 1
    if isinstance(exc, OverlayUnavailable):
        return str(exc), 1
    if isinstance(exc, BlobNotFound):
        return (
            f"image {exc.args[0]} is not in the blob store (IMAGEJOBS_BLOB_DIR; "
            "the API and the workers must share it)",
            1,
        )
    if isinstance(exc, SQLAlchemyError):
        return _database(exc, database_url), 1
    if isinstance(exc, ImageJobsError):
        return _problem(exc), 2 if exc.status == 422 else 1
    if isinstance(exc, JobWaitTimeout):
        return str(exc), 1
    if isinstance(exc, httpx.TransportError):
        return _unreachable(exc), 1
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}", 1
    return f"unexpected {type(exc).__name__}: {exc} (a bug; --debug shows the traceback)", 1


def _validation(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "job"
        problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def safe_url(url: str) -> str:
    """A database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def _database(exc: SQLAlchemyError, database_url: str | None) -> str:
    """A database failure, named with the URL (no password) and what to do."""
    url = safe_url(database_url) if database_url else "(IMAGEJOBS_DATABASE_URL)"
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    reason = " ".join(str(orig).split())
    if isinstance(orig, UndefinedTable) or reason.startswith("no such table"):  # Postgres, SQLite
        return f"the database {url} has no imagejobs tables yet: run `imagejobs migrate` first"
    if "FATAL:" in reason:  # libpq: 'connection ... failed: FATAL:  database "x" does not exist'
        return f"cannot use the database {url}: {reason.rsplit('FATAL:', 1)[1].strip()}"
    if isinstance(exc, OperationalError) and "connect" in reason.lower():
        return f"cannot connect to the database {url}: {reason}"
    return f"database error ({url}): {reason}"


def _problem(exc: ImageJobsError) -> str:
    """An API error: ``HTTP 422: detail``, plus every field error when there are several."""
    errors = exc.problem.get("errors") or []
    text = str(exc)
    if len(errors) > 1:
        text += " (" + "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors) + ")"
    return text


def _unreachable(exc: httpx.TransportError) -> str:
    try:
        url = exc.request.url
        where = f"{url.scheme}://{url.netloc.decode()}"
    except RuntimeError:  # no request attached
        where = "the API"
    reason = str(exc) or type(exc).__name__
    return f"cannot reach the API at {where}: {reason}"


__all__ = ["CliError", "describe", "require_file", "safe_url"]
