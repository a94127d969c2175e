"""``GET /v1/usage`` and ``GET /v1/stats`` over real HTTP on real Postgres: each key sees its own
producer's figures only, and they are the sums of the rows written (tests/usage_data.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from api.client import AsyncImageJobsClient, ImageJobsClient, ImageJobsError
from imagejobs.settings import get_settings
from imagejobs.store.db import Database
from imagejobs.store.producers import NewKey
from imagejobs.store.usage_report import utc_today
from tests.usage_data import (
    A_TOTALS,
    B_TOTALS,
    M1,
    M2,
    Written,
    add_job,
    approx_rows,
    expected_rows,
    figures,
    write_dataset,
)

D = date(2012, 3, 15)  # this module's days: no other test's jobs finish then
D1 = D + timedelta(days=1)


def db() -> Database:
    return Database(get_settings().effective_database_url)


@pytest.fixture(scope="module")
def written(make_producer: Callable[[str], NewKey]) -> tuple[NewKey, NewKey, Written]:
    a, b = make_producer("usage-a"), make_producer("usage-b")
    with db().session() as session:
        data = write_dataset(
            session, D, (a.producer.id, a.producer.name), (b.producer.id, b.producer.name)
        )
    return a, b, data


def report(api_url: str, key: NewKey, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key.api_key}"}
    return httpx.get(f"{api_url}/v1/usage", params=params, headers=headers, timeout=30)


def test_each_key_sees_its_own_producer_only(
    api_url: str, written: tuple[NewKey, NewKey, Written]
) -> None:
    a, b, data = written
    expected = expected_rows(data)
    with ImageJobsClient(api_url, a.api_key) as client:
        mine = client.usage(since=D, until=D1)
    assert (mine["since"], mine["until"]) == (D.isoformat(), D1.isoformat())
    assert mine["group_by"] == ["producer", "model", "day"]
    assert approx_rows(mine["rows"]) == approx_rows(expected["a"])
    assert approx_rows([mine["totals"]]) == approx_rows([A_TOTALS])
    with ImageJobsClient(api_url, b.api_key) as client:
        theirs = client.usage(since="2012-03-15", until="2012-03-16")
    assert approx_rows(theirs["rows"]) == approx_rows(expected["b"])
    assert approx_rows([theirs["totals"]]) == approx_rows([B_TOTALS])
    assert {row["producer"] for row in mine["rows"]} == {a.producer.name}


def test_groups_and_period(api_url: str, written: tuple[NewKey, NewKey, Written]) -> None:
    a, _b, _data = written
    by_model = report(api_url, a, since="2012-03-15", until="2012-03-16", group_by="model").json()
    assert by_model["group_by"] == ["model"]
    assert approx_rows(by_model["rows"]) == approx_rows(
        [
            {"model": M2, **figures(1, 2, 1200, 1250, 300, 0.0011)},
            {"model": M1, **figures(4, 4, 700, 310, 25, 0.000125, hits=1)},
        ]
    )
    totals = report(api_url, a, since="2012-03-15", until="2012-03-16", group_by="").json()
    assert approx_rows(totals["rows"]) == approx_rows([A_TOTALS])
    one_day = report(api_url, a, since="2012-03-16", until="2012-03-16", group_by="day").json()
    assert approx_rows(one_day["rows"]) == approx_rows(
        [{"day": "2012-03-16", **figures(3, 3, 400, hits=1)}]
    )


def test_the_default_is_the_last_30_days(
    api_url: str, make_producer: Callable[[str], NewKey]
) -> None:
    key = make_producer("usage-recent")
    today = utc_today()
    noon = datetime.combine(today - timedelta(days=3), time(12), tzinfo=UTC)
    usage = {"estimated_tokens": 90, "prompt_tokens": 95, "calls": 1, "cost_usd": 0.25}
    with db().session() as session:
        for days_ago in (3, 40):
            add_job(
                session,
                producer_id=key.producer.id,
                finished_at=noon - timedelta(days=days_ago - 3),
                usage=usage,
            )
    with ImageJobsClient(api_url, key.api_key) as client:
        recent = client.usage(group_by=["day"])
    if recent["until"] != today.isoformat():
        pytest.skip("the UTC day turned during the test")
    assert recent["since"] == (today - timedelta(days=29)).isoformat()
    day = (today - timedelta(days=3)).isoformat()
    assert recent["rows"] == [{"day": day, **figures(1, 1, 90, 95, 0, 0.25)}]


def test_bad_parameters_are_named(api_url: str, written: tuple[NewKey, NewKey, Written]) -> None:
    a, _b, _data = written
    cases: list[tuple[dict[str, str], str, str]] = [
        ({"since": "2012-03-16", "until": "2012-03-15"}, "since", "is after until 2012-03-15"),
        ({"group_by": "model,task"}, "group_by", "unknown group 'task'"),
        ({"since": "2012-13-01"}, "since", ""),
        ({"until": "yesterday"}, "until", ""),
        ({"since": "1900-01-01", "until": "2012-01-01"}, "since", "at most 3660 days"),
    ]
    for params, field, message in cases:
        answer = report(api_url, a, **params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        errors = answer.json()["errors"]
        assert errors[0]["field"] == field, (params, errors)
        assert message in errors[0]["message"], (params, errors)
    anonymous = httpx.get(f"{api_url}/v1/usage", timeout=30)
    assert anonymous.status_code == 401
    with ImageJobsClient(api_url, "ij_not-a-key") as client, pytest.raises(ImageJobsError) as bad:
        client.stats()
    assert bad.value.status == 401


def test_stats_of_this_producer(api_url: str, make_producer: Callable[[str], NewKey]) -> None:
    key, other = make_producer("stats"), make_producer("stats-other")
    today = utc_today()
    start = datetime.combine(today, time(0, 0, 1), tzinfo=UTC)
    with db().session() as session:
        finished = start + timedelta(minutes=10)
        add_job(
            session,
            producer_id=key.producer.id,
            finished_at=finished,
            usage={"estimated_tokens": 70, "prompt_tokens": 80, "calls": 2, "cost_usd": 0.125},
        )
        add_job(
            session,
            producer_id=key.producer.id,
            finished_at=None,
            status="queued",
            created_at=start,
        )
        add_job(  # created and finished days ago: all time only
            session, producer_id=key.producer.id, finished_at=start - timedelta(days=2)
        )
        add_job(session, producer_id=other.producer.id, finished_at=finished)
    with ImageJobsClient(api_url, key.api_key) as client:
        figures_now = client.stats()
    if figures_now["today"] != today.isoformat():
        pytest.skip("the UTC day turned during the test")
    assert figures_now["jobs"]["all_time"] == {
        "queued": 1,
        "running": 0,
        "succeeded": 2,
        "failed": 0,
        "canceled": 0,
    }
    assert figures_now["jobs"]["created_today"] == {
        "queued": 1,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "canceled": 0,
    }
    assert figures_now["usage_today"] == figures(1, 2, 70, 80, 0, 0.125)

    async def from_async() -> tuple[dict[str, Any], dict[str, Any]]:
        async with AsyncImageJobsClient(api_url, key.api_key) as client:
            return await client.stats(), await client.usage(group_by="model")

    async_stats, async_usage = asyncio.run(from_async())
    assert async_stats == figures_now
    assert async_usage["rows"] == [{"model": M1, **figures(2, 2, 70, 80, 0, 0.125)}]


def test_documented_in_openapi(api_url: str) -> None:
    document = httpx.get(f"{api_url}/openapi.json", timeout=30).json()
    usage = document["paths"]["/v1/usage"]["get"]
    assert [p["name"] for p in usage["parameters"]] == ["since", "until", "group_by"]
    assert set(usage["responses"]) == {"200", "401", "422"}
    ok = usage["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/UsageReportView"}
    row = document["components"]["schemas"]["UsageRowView"]["properties"]
    assert {"estimated_tokens", "prompt_tokens", "output_tokens", "cost_usd", "cache_hits"} <= set(
        row
    )
    stats = document["paths"]["/v1/stats"]["get"]
    assert set(stats["responses"]) == {"200", "401"}
