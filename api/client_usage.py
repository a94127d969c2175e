"""The usage report and stats calls of the Python client (mixed into :class:`ImageJobsClient`
and :class:`AsyncImageJobsClient` of :mod:`api.client`)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import date, datetime
from typing import Any

DateArg = date | str | None
GroupArg = str | Sequence[str] | None


def usage_params(since: DateArg, until: DateArg, group_by: GroupArg) -> dict[str, str]:
    """Query parameters of ``GET /v1/usage``: dates as YYYY-MM-DD, groups comma-separated."""
    params = {}
    for name, value in (("since", since), ("until", until)):
        if isinstance(value, datetime):
            value = value.date()
        if value is not None:
            params[name] = value.isoformat() if isinstance(value, date) else str(value)
    if group_by is not None:
        params["group_by"] = group_by if isinstance(group_by, str) else ",".join(group_by)
    return params


class UsageCalls:
    """``usage()`` and ``stats()`` for the blocking client."""

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def usage(
        self, *, since: DateArg = None, until: DateArg = None, group_by: GroupArg = None
    ) -> dict[str, Any]:
        """This producer's usage report ``{since, until, group_by, rows, totals}``: by default
        the last 30 UTC days, per model and day (``group_by`` from producer, model, day; ``""``
        for totals only). Each row has jobs, calls, estimated_tokens, prompt_tokens,
        output_tokens, cost_usd and cache_hits."""
        params = usage_params(since, until, group_by)
        return dict(self._json("GET", "/v1/usage", params=params))

    def stats(self) -> dict[str, Any]:
        """This producer's jobs by status (``jobs.all_time``, ``jobs.created_today``) and the
        usage of its jobs that finished today (``usage_today``), UTC."""
        return dict(self._json("GET", "/v1/stats"))


class AsyncUsageCalls:
    """``usage()`` and ``stats()`` for the asyncio client."""

    def _json(self, method: str, url: str, **kwargs: Any) -> Awaitable[Any]:
        raise NotImplementedError

    async def usage(
        self, *, since: DateArg = None, until: DateArg = None, group_by: GroupArg = None
    ) -> dict[str, Any]:
        params = usage_params(since, until, group_by)
        return dict(await self._json("GET", "/v1/usage", params=params))

    async def stats(self) -> dict[str, Any]:
        return dict(await self._json("GET", "/v1/stats"))
