"""A refused request: which fields were wrong and why, and the HTTP-style status that says how
(422 invalid, 413 too large). The API turns it into problem+json in one handler, Celery interop
into its error dict, the CLI into one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagejobs.core.jobspec import field_errors


@dataclass(frozen=True)
class FieldError:
    field: str  # dotted path of the bad field, e.g. "options.temperature" or "images[2].data"
    message: str


class InvalidRequest(Exception):
    """The request is refused; ``detail`` names the first bad field."""

    def __init__(self, errors: list[FieldError], status: int = 422) -> None:
        if not errors:
            raise ValueError("InvalidRequest needs at least one field error")
        self.errors = errors
        self.status = status
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        self.detail = f"{first.field}: {first.message}{more}"
        super().__init__(self.detail)


def bad(field: str, message: str, status: int = 422) -> InvalidRequest:
    """A refusal (422 unless ``status``) naming ``field``."""
    return InvalidRequest([FieldError(field, message)], status)


def from_pydantic(
    errors: list[Any], *, skip: int = 0, default_field: str = "body", status: int = 422
) -> InvalidRequest:
    """Pydantic's error dicts as one refusal (worded by :func:`jobspec.field_errors`)."""
    worded = field_errors(list(errors), skip=skip, default_field=default_field)
    return InvalidRequest([FieldError(name, message) for name, message in worded], status)
