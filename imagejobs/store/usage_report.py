"""What was spent: jobs, Gemini calls, tokens (the quote beside the billed count) and cost per
producer, model and UTC day, and the job counts by status that ``imagejobs stats`` shows.

A job counts on the UTC day of its ``finished_at`` and under the model that answered it
(``coalesce(answered_model, model)``: a fallback's model when one answered). A job answered from
the result cache (``cached_from`` set) made no call and costs nothing: it counts as a job and a
cache hit, never with calls, tokens or cost. The same statements run on Postgres and on SQLite
(the embedded demo); the UTC day is computed in SQL by :class:`utc_day` for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from imagejobs.core.jobspec import JOB_STATUSES
from imagejobs.core.times import utcnow
from imagejobs.store.models import Job, Producer, Usage

GROUPS: tuple[str, ...] = ("producer", "model", "day")  # what a report can be split by
DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years: a report over more is a typo


class ReportRefused(ValueError):
    """A report's parameters are wrong; ``field`` names the one (since, until, group_by)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def utc_today() -> date:
    return utcnow().date()


@dataclass(frozen=True)
class Period:
    """UTC days from ``since`` to ``until``, both included."""

    since: date
    until: date

    def bounds(self) -> tuple[datetime, datetime]:
        """The first moment of ``since`` and the first moment after ``until``, in UTC."""
        start = datetime.combine(self.since, time(), tzinfo=UTC)
        return start, datetime.combine(self.until + timedelta(days=1), time(), tzinfo=UTC)


def report_period(since: date | None, until: date | None, *, today: date | None = None) -> Period:
    """The period asked for: by default the last :data:`DEFAULT_DAYS` days up to today (UTC);
    one bound alone fixes the other (``until`` today, ``since`` 30 days before ``until``)."""
    if isinstance(since, datetime) or isinstance(until, datetime):
        raise ReportRefused("since" if isinstance(since, datetime) else "until", "give a date")
    end = until or (today or utc_today())
    start = since or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ReportRefused("since", f"{start.isoformat()} is after until {end.isoformat()}")
    if (end - start).days >= MAX_DAYS:
        raise ReportRefused("since", f"a report spans at most {MAX_DAYS} days")
    return Period(start, end)


def parse_group_by(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"producer,model,day"`` (or a list of those names) as a tuple in :data:`GROUPS` order;
    None: every group; an empty string: totals only."""
    if value is None:
        return GROUPS
    names = value.split(",") if isinstance(value, str) else list(value)
    wanted = [name.strip().lower() for name in names if name.strip()]
    unknown = [name for name in wanted if name not in GROUPS]
    if unknown:
        raise ReportRefused(
            "group_by", f"unknown group {unknown[0]!r}; choose from {', '.join(GROUPS)}"
        )
    return tuple(name for name in GROUPS if name in wanted)


@dataclass(frozen=True)
class Figures:
    """The sums of a set of jobs: the quote (``estimated_tokens``) beside what was billed."""

    jobs: int = 0
    calls: int = 0
    estimated_tokens: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0  # candidates + thoughts, as billed
    cost_usd: float = 0.0
    cache_hits: int = 0

    def __add__(self, other: Figures) -> Figures:
        mine, theirs = asdict(self), asdict(other)
        return Figures(**{name: mine[name] + theirs[name] for name in mine})


@dataclass(frozen=True)
class UsageRow:
    """One group's figures; a key not grouped by is None (``producer`` None also means the
    jobs of no producer, submitted by the CLI or Celery interop)."""

    figures: Figures
    producer: str | None = None
    model: str | None = None
    day: date | None = None


@dataclass(frozen=True)
class UsageReport:
    period: Period
    group_by: tuple[str, ...]
    rows: list[UsageRow] = field(default_factory=list)

    @property
    def totals(self) -> Figures:
        return sum((row.figures for row in self.rows), Figures())

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON: ``since``, ``until``, ``group_by``, ``rows``, ``totals``."""

        def row_dict(row: UsageRow) -> dict[str, Any]:
            day = row.day.isoformat() if row.day is not None else None
            keys = {"producer": row.producer, "model": row.model, "day": day}
            return {**{name: keys[name] for name in self.group_by}, **asdict(row.figures)}

        return {
            "since": self.period.since.isoformat(),
            "until": self.period.until.isoformat(),
            "group_by": list(self.group_by),
            "rows": [row_dict(row) for row in self.rows],
            "totals": asdict(self.totals),
        }


class utc_day(FunctionElement[date]):  # a SQL function, named as SQL names them
    """The UTC calendar day of a timestamp column, as a SQL expression."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores UTC timestamps as text ("2026-11-03 12:00:00.000000"): their date part.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgres(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # Whatever the session's TimeZone: the day in UTC.
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def usage_report(
    session: Session,
    period: Period,
    *,
    producer_id: str | None = None,
    group_by: Sequence[str] = GROUPS,
) -> UsageReport:
    """Jobs finished in ``period`` (every producer's, or ``producer_id``'s), summed per group."""
    groups = parse_group_by(group_by)
    keys: dict[str, Any] = {
        "producer": Producer.name.label("producer"),
        "model": func.coalesce(Job.answered_model, Job.model).label("model"),
        "day": utc_day(Job.finished_at).label("day"),
    }
    billed = Job.cached_from.is_(None)
    output = func.coalesce(Usage.candidates_tokens, 0) + func.coalesce(Usage.thoughts_tokens, 0)
    measures: tuple[Any, ...] = (
        func.count(Job.id),
        func.coalesce(func.sum(Usage.calls), 0),
        func.coalesce(func.sum(Usage.estimated_tokens), 0),
        func.coalesce(func.sum(Usage.prompt_tokens), 0),
        func.coalesce(func.sum(output), 0),
        func.coalesce(func.sum(Usage.cost_usd), 0.0),
        func.count(Job.cached_from),
    )
    start, end = period.bounds()
    query = (
        select(*(keys[name] for name in groups), *measures)
        .select_from(Job)
        .outerjoin(Usage, and_(Usage.job_id == Job.id, billed))  # cache hits: no usage
        .where(Job.finished_at >= start, Job.finished_at < end)
    )
    if "producer" in groups:
        query = query.outerjoin(Producer, Producer.id == Job.producer_id)
    if producer_id is not None:
        query = query.where(Job.producer_id == producer_id)
    if groups:
        query = query.group_by(*(keys[name] for name in groups))
    rows = []
    for record in session.execute(query):
        named = dict(zip(groups, record[: len(groups)], strict=True))
        jobs, calls, estimated, prompt, out, cost, hits = record[len(groups) :]
        if not jobs:
            continue  # totals only, over no job
        figures = Figures(
            int(jobs), int(calls), int(estimated), int(prompt), int(out), float(cost), int(hits)
        )
        day = _as_date(named.get("day"))
        rows.append(UsageRow(figures, named.get("producer"), named.get("model"), day))
    rows.sort(key=lambda r: (r.day or date.min, r.producer or "", r.model or ""))
    return UsageReport(period, groups, rows)


def job_counts(
    session: Session, *, producer_id: str | None = None, created_on: date | None = None
) -> dict[str, int]:
    """Jobs by status (every status, 0 included), every producer's or ``producer_id``'s,
    optionally only those created on the UTC day ``created_on``."""
    query = select(Job.status, func.count(Job.id)).group_by(Job.status)
    if producer_id is not None:
        query = query.where(Job.producer_id == producer_id)
    if created_on is not None:
        start, end = Period(created_on, created_on).bounds()
        query = query.where(Job.created_at >= start, Job.created_at < end)
    found = {str(status): int(count) for status, count in session.execute(query)}
    counts = {status: found.pop(status, 0) for status in JOB_STATUSES}
    return {**counts, **dict(sorted(found.items()))}  # statuses added later, after the known


@dataclass(frozen=True)
class Stats:
    """``imagejobs stats``: jobs by status (all time, created today) and today's usage."""

    today: date
    jobs: dict[str, int]
    created_today: dict[str, int]
    usage_today: Figures

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "jobs": {"all_time": self.jobs, "created_today": self.created_today},
            "usage_today": asdict(self.usage_today),
        }


def stats(session: Session, *, producer_id: str | None = None, today: date | None = None) -> Stats:
    """Every producer's figures, or ``producer_id``'s; "today" is the UTC day."""
    day = today or utc_today()
    report = usage_report(session, Period(day, day), producer_id=producer_id, group_by=())
    return Stats(
        today=day,
        jobs=job_counts(session, producer_id=producer_id),
        created_today=job_counts(session, producer_id=producer_id, created_on=day),
        usage_today=report.totals,
    )
