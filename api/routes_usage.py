"""``/v1/usage`` and ``/v1/stats``: what the key's producer spent, and how its jobs stand.

Only the producer behind the API key is reported; operators see every producer with
``imagejobs usage`` and ``imagejobs stats`` on the deployment itself.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ProducerDep, RuntimeDep
from api.problems import Problem
from api.usage_schemas import StatsView, UsageReportView
from imagejobs.intake.errors import bad
from imagejobs.store.usage_report import (
    DEFAULT_DAYS,
    GROUPS,
    ReportRefused,
    parse_group_by,
    report_period,
    stats,
    usage_report,
)

router = APIRouter(prefix="/v1", tags=["usage"])

P401: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key", "model": Problem}
}
P422: dict[int | str, dict[str, Any]] = {
    422: {"description": "A parameter is invalid; `errors` names it", "model": Problem}
}


@router.get(
    "/usage",
    response_model=UsageReportView,
    response_model_exclude_unset=True,  # a row has only the keys it is grouped by
    summary="This producer's spend, tokens and jobs per model and day",
    description=(
        "Jobs count on the UTC day they finished, under the model that answered them. "
        "`estimated_tokens` is the quote made before each call, beside the billed "
        "`prompt_tokens` and `output_tokens`. Jobs answered from the result cache count as "
        "`cache_hits`, with no calls, tokens or cost."
    ),
    responses={**P401, **P422},
)
def get_usage(
    runtime: RuntimeDep,
    producer: ProducerDep,
    since: Annotated[
        date | None,
        Query(description=f"First UTC day, YYYY-MM-DD (default: the {DEFAULT_DAYS} days to until)"),
    ] = None,
    until: Annotated[
        date | None, Query(description="Last UTC day, YYYY-MM-DD (default: today)")
    ] = None,
    group_by: Annotated[
        str,
        Query(
            max_length=100,
            description=(
                f"Comma-separated, from {', '.join(GROUPS)}; empty: totals only. The producer "
                "is always this key's."
            ),
        ),
    ] = ",".join(GROUPS),
) -> dict[str, Any]:
    try:
        period = report_period(since, until)
        groups = parse_group_by(group_by)
    except ReportRefused as exc:
        raise bad(exc.field, exc.message) from None
    with runtime.db.session() as session:
        report = usage_report(session, period, producer_id=producer.id, group_by=groups)
    return report.as_dict()


@router.get(
    "/stats",
    response_model=StatsView,
    summary="This producer's jobs by status, and today's calls and spend",
    responses={**P401},
)
def get_stats(runtime: RuntimeDep, producer: ProducerDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        return stats(session, producer_id=producer.id).as_dict()
