"""The usage report and job counts of ``imagejobs.store.usage_report`` on Postgres (with a
session time zone 14 hours off UTC, so a day computed in local time would show) and on SQLite
(the embedded demo's database), from the same rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from imagejobs.store.db import Database
from imagejobs.store.migrate import migrate
from imagejobs.store.producers import create_producer
from imagejobs.store.usage_report import (
    GROUPS,
    Period,
    ReportRefused,
    job_counts,
    parse_group_by,
    report_period,
    stats,
    usage_report,
)
from tests.services import fresh_database
from tests.usage_data import (
    A_TOTALS,
    M1,
    M2,
    Written,
    approx_rows,
    expected_rows,
    figures,
    write_dataset,
)

D = date(2011, 6, 30)
D1 = D + timedelta(days=1)
FAR_FROM_UTC = "?options=-c%20TimeZone%3DPacific/Kiritimati"  # UTC+14


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Database:
    if request.param == "postgres":
        url = fresh_database("usage_report")
        migrate(url)
        return Database(url + FAR_FROM_UTC)
    url = f"sqlite:///{tmp_path_factory.mktemp('usage') / 'imagejobs.db'}"
    migrate(url)
    return Database(url)


@pytest.fixture(scope="module")
def written(db: Database) -> Written:
    """Producer a's jobs, and b's jobs belonging to no producer (committed)."""
    with db.session() as session:
        a, _ = create_producer(session, "usage-a")
        return write_dataset(session, D, (a.id, a.name), None)


def rows_of(db: Database, period: Period, **kwargs: object) -> list[dict[str, object]]:
    with db.session() as session:
        report = usage_report(session, period, **kwargs)  # type: ignore[arg-type]
    return approx_rows(report.as_dict()["rows"])


def test_every_producer_per_producer_model_and_day(db: Database, written: Written) -> None:
    a, b = expected_rows(written)["a"], expected_rows(written)["b"]  # b: jobs of no producer
    # by day, then producer (jobs of no producer first), then model
    assert rows_of(db, Period(D, D1)) == approx_rows([b[0], a[0], a[1], b[1], a[2]])


def test_one_producer_and_its_totals(db: Database, written: Written) -> None:
    with db.session() as session:
        report = usage_report(session, Period(D, D1), producer_id=written.a)
    assert approx_rows(report.as_dict()["rows"]) == approx_rows(expected_rows(written)["a"])
    assert approx_rows([report.as_dict()["totals"]]) == approx_rows([A_TOTALS])


def test_grouped_by_model_only_and_totals_only(db: Database, written: Written) -> None:
    by_model = rows_of(db, Period(D, D1), producer_id=written.a, group_by=("model",))
    assert by_model == approx_rows(
        [
            {"model": M2, **figures(1, 2, 1200, 1250, 300, 0.0011)},
            {"model": M1, **figures(4, 4, 700, 310, 25, 0.000125, hits=1)},
        ]
    )
    assert rows_of(db, Period(D, D1), producer_id=written.a, group_by=()) == approx_rows([A_TOTALS])
    by_producer = rows_of(db, Period(D, D), group_by=("producer",))
    assert [(r["producer"], r["jobs"]) for r in by_producer] == [(None, 1), ("usage-a", 2)]


def test_days_are_utc_days_of_finished_at(db: Database, written: Written) -> None:
    # the last microseconds of D count on D, the first of D+1 on D+1, whatever the session's zone
    only_d = rows_of(db, Period(D, D), producer_id=written.a, group_by=("model", "day"))
    assert [(r["model"], r["day"], r["jobs"]) for r in only_d] == [
        (M2, D.isoformat(), 1),
        (M1, D.isoformat(), 1),
    ]
    before = rows_of(
        db, Period(D - timedelta(days=1), D - timedelta(days=1)), producer_id=written.a
    )
    assert [(r["day"], r["cost_usd"]) for r in before] == [
        ((D - timedelta(days=1)).isoformat(), 0.5)
    ]
    assert rows_of(db, Period(D + timedelta(days=3), D + timedelta(days=9))) == []


def test_job_counts_and_stats(db: Database, written: Written) -> None:
    with db.session() as session:
        everything = job_counts(session, producer_id=written.a)
        today = stats(session, producer_id=written.a, today=D1)
        nothing = stats(session, producer_id=written.a, today=D + timedelta(days=5))
    assert everything == {"queued": 1, "running": 0, "succeeded": 5, "failed": 1, "canceled": 1}
    # created on D+1: the failed, the canceled, and the one that finished at D+2 00:00
    assert today.created_today == {
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 1,
        "canceled": 1,
    }
    assert approx_rows([today.as_dict()["usage_today"]]) == approx_rows(
        [figures(3, 3, 400, hits=1)]
    )
    assert today.as_dict()["today"] == D1.isoformat()
    assert nothing.usage_today.jobs == 0 and sum(nothing.created_today.values()) == 0


def test_periods_and_groups_are_checked() -> None:
    today = date(2026, 11, 30)
    assert report_period(None, None, today=today) == Period(date(2026, 11, 1), today)
    assert report_period(date(2026, 11, 20), None, today=today) == Period(date(2026, 11, 20), today)
    assert report_period(None, date(2026, 1, 30), today=today) == Period(
        date(2026, 1, 1), date(2026, 1, 30)
    )
    with pytest.raises(ReportRefused) as late:
        report_period(date(2026, 12, 2), None, today=today)
    assert late.value.field == "since" and "after until 2026-11-30" in late.value.message
    with pytest.raises(ReportRefused) as long:
        report_period(date(1990, 1, 1), None, today=today)
    assert long.value.field == "since" and "at most" in long.value.message
    assert parse_group_by(None) == GROUPS
    assert parse_group_by("Day, model") == ("model", "day")
    assert parse_group_by("") == ()
    with pytest.raises(ReportRefused) as bad:
        parse_group_by("model,task")
    assert bad.value.field == "group_by" and "'task'" in bad.value.message
