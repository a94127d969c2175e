"""Response bodies of ``GET /v1/usage`` and ``GET /v1/stats`` (:mod:`api.routes_usage`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Group = Literal["producer", "model", "day"]


class UsageFigures(BaseModel):
    """Sums over a set of finished jobs: the token quote beside the billed counts."""

    jobs: int = Field(description="Jobs finished (any final status), cache hits included")
    calls: int = Field(description="Gemini calls made for them (retries included)")
    estimated_tokens: int = Field(description="The pre-flight input-token quote")
    prompt_tokens: int = Field(description="Input tokens billed")
    output_tokens: int = Field(description="Output tokens billed: candidates + thoughts")
    cost_usd: float = Field(description="Cost in USD from the billed tokens and the price table")
    cache_hits: int = Field(description="Jobs answered from the result cache (no call, cost 0)")


class UsageRowView(UsageFigures):
    """One group; only the keys grouped by are present."""

    producer: str | None = Field(default=None, description="The producer's name")
    model: str | None = Field(
        default=None, description="The model that answered (a fallback's, when one did)"
    )
    day: str | None = Field(default=None, description="UTC day the jobs finished, YYYY-MM-DD")


class UsageReportView(BaseModel):
    since: str = Field(description="First UTC day included, YYYY-MM-DD")
    until: str = Field(description="Last UTC day included, YYYY-MM-DD")
    group_by: list[Group]
    rows: list[UsageRowView] = Field(description="Ordered by day, producer, model")
    totals: UsageFigures


class JobCounts(BaseModel):
    all_time: dict[str, int] = Field(description="Jobs by status, every status listed")
    created_today: dict[str, int] = Field(description="Jobs created today (UTC) by status")


class StatsView(BaseModel):
    today: str = Field(description="The UTC day, YYYY-MM-DD")
    jobs: JobCounts
    usage_today: UsageFigures = Field(description="Jobs that finished today (UTC)")
