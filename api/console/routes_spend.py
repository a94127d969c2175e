"""Spend per day: jobs, tokens quoted and billed, and cost, for the viewer's jobs (the operator:
every producer's)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.deps import PREFIX, ConsoleDep, ViewerDep
from api.console.render import page
from imagejobs.core.times import utcnow
from imagejobs.store.console_queries import spend_per_day

router = APIRouter(prefix=PREFIX, include_in_schema=False)
DAY_CHOICES = (7, 30, 90, 365)


@router.get("/spend", response_class=HTMLResponse)
def spend(request: Request, console: ConsoleDep, viewer: ViewerDep, days: str = "30") -> Response:
    span = int(days) if days.isdigit() and int(days) in DAY_CHOICES else 30
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=span - 1)
    with console.runtime.db.session() as session:
        rows = spend_per_day(session, viewer.producer_id, since=since)
    totals = {
        "jobs": sum(r.jobs for r in rows),
        "succeeded": sum(r.succeeded for r in rows),
        "failed": sum(r.failed for r in rows),
        "estimated_tokens": sum(r.estimated_tokens for r in rows),
        "billed_tokens": sum(r.billed_tokens for r in rows),
        "cost_usd": sum(r.cost_usd for r in rows),
    }
    return page(
        console.templates,
        request,
        "spend.html",
        viewer,
        rows=rows,
        totals=totals,
        days=span,
        day_choices=DAY_CHOICES,
        since=since.date(),
    )
