"""The jobs list's filters, read from the query string with errors that name the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from api.paging import BadCursor, decode_cursor
from imagejobs.core.jobspec import JOB_STATUSES, TASKS
from imagejobs.store.job_lookup import JobFilter

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class ListQuery:
    """What the filter form sent, as typed (to show back) and as a store filter."""

    status: str = ""
    task: str = ""
    model: str = ""
    since: str = ""  # datetime-local, UTC: 2026-12-01T09:00
    until: str = ""
    cursor: str = ""
    limit: int = PAGE_SIZE
    errors: list[str] = field(default_factory=list)
    where: JobFilter = field(default_factory=JobFilter)

    def link(self, **changes: str) -> str:
        """This query string with ``changes`` (an empty value drops the field)."""
        values = {
            "status": self.status,
            "task": self.task,
            "model": self.model,
            "since": self.since,
            "until": self.until,
            "cursor": self.cursor,
            "limit": "" if self.limit == PAGE_SIZE else str(self.limit),
            **changes,
        }
        query = urlencode({k: v for k, v in values.items() if v})
        return f"?{query}" if query else "?"

    @property
    def filtered(self) -> bool:
        return any((self.status, self.task, self.model, self.since, self.until))


def _moment(text: str, name: str, errors: list[str]) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        errors.append(f"{name}: {text!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC)")
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_query(
    status: str | None,
    task: str | None,
    model: str | None,
    since: str | None,
    until: str | None,
    cursor: str | None,
    limit: str | None,
) -> ListQuery:
    """The filters, checked: each error names its field and what it accepts."""
    errors: list[str] = []
    status, task = (status or "").strip(), (task or "").strip()
    model, since, until = (model or "").strip(), (since or "").strip(), (until or "").strip()
    cursor = (cursor or "").strip()
    if status and status not in JOB_STATUSES:
        errors.append(f"status: {status!r} is not one of {', '.join(JOB_STATUSES)}")
    if task and task not in TASKS:
        errors.append(f"task: {task!r} is not one of {', '.join(TASKS)}")
    if len(model) > 100:
        errors.append("model: longer than 100 characters")
    size = PAGE_SIZE
    if limit:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
            errors.append(f"limit: must be a whole number from 1 to {MAX_PAGE_SIZE}")
        else:
            size = int(limit)
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor)
        except BadCursor as exc:
            errors.append(f"cursor: {exc}")
    created_after, created_before = _moment(since, "from", errors), _moment(until, "to", errors)
    where = JobFilter(
        status=status or None,
        task=task or None,
        created_after=created_after,
        created_before=created_before,
        after=after,
    )
    return ListQuery(status, task, model, since, until, cursor, size, errors, where)
