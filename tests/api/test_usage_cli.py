"""``imagejobs usage`` and ``imagejobs stats`` through the real command line (``cli.main``, in
this process): locally every producer (or ``--producer``), with ``--api`` the key's producer
through the Python client; the figures are the rows written (tests/usage_data.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from typer.testing import CliRunner, Result

from cli.main import cli_app
from imagejobs.settings import get_settings
from imagejobs.store.db import Database
from imagejobs.store.producers import NewKey
from imagejobs.store.usage_report import utc_today
from tests.usage_data import (
    A_TOTALS,
    B_TOTALS,
    Written,
    add_job,
    approx_rows,
    expected_rows,
    figures,
    write_dataset,
)

D = date(2013, 9, 30)  # this module's days: no other test's jobs finish then
D1 = D + timedelta(days=1)
PERIOD = ["--since", D.isoformat(), "--until", D1.isoformat()]


@pytest.fixture(scope="module")
def written(make_producer: Callable[[str], NewKey]) -> tuple[NewKey, NewKey, Written]:
    a, b = make_producer("usage-cli-a"), make_producer("usage-cli-b")
    with Database(get_settings().effective_database_url).session() as session:
        data = write_dataset(
            session, D, (a.producer.id, a.producer.name), (b.producer.id, b.producer.name)
        )
    return a, b, data


def imagejobs(*args: str) -> Result:
    return CliRunner().invoke(cli_app(), list(args))


def as_json(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_local_usage_is_every_producers(written: tuple[NewKey, NewKey, Written]) -> None:
    _a, _b, data = written
    expected = expected_rows(data)
    everyone = as_json(imagejobs("usage", *PERIOD, "--json"))
    a_rows, b_rows = expected["a"], expected["b"]
    # by day, then producer name (usage-cli-a before usage-cli-b), then model
    assert approx_rows(everyone["rows"]) == approx_rows(  # type: ignore[arg-type]
        [a_rows[0], a_rows[1], b_rows[0], a_rows[2], b_rows[1]]
    )
    total = {k: A_TOTALS[k] + B_TOTALS[k] for k in A_TOTALS}
    assert approx_rows([everyone["totals"]]) == approx_rows([total])  # type: ignore[list-item]
    only_b = as_json(imagejobs("usage", *PERIOD, "--producer", data.b_name or "", "--json"))
    assert approx_rows(only_b["rows"]) == approx_rows(b_rows)  # type: ignore[arg-type]


def test_the_table_shows_every_figure(written: tuple[NewKey, NewKey, Written]) -> None:
    a, _b, _data = written
    result = imagejobs("usage", *PERIOD, "--producer", a.producer.name)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"usage {D.isoformat()} to {D1.isoformat()}")
    header = lines[1].split()
    assert header[:3] == ["producer", "model", "day"]
    rows = [line.split() for line in lines[2:]]
    keys = [a.producer.name, "gemini-2.5-flash", D.isoformat()]
    assert rows[0] == [*keys, "1", "2", "1,200", "1,250", "300", "0.001100", "0"]
    assert rows[-1] == ["total", "5", "6", "1,900", "1,560", "325", "0.001225", "1"]
    by_model = imagejobs("usage", *PERIOD, "--producer", a.producer.name, "--group-by", "model")
    assert by_model.stdout.splitlines()[1].split()[:2] == ["model", "jobs"]


def test_remote_usage_is_the_keys_producers(
    api_url: str, written: tuple[NewKey, NewKey, Written]
) -> None:
    a, _b, data = written
    remote = as_json(imagejobs("usage", *PERIOD, "--json", "--api", api_url, "--key", a.api_key))
    assert approx_rows(remote["rows"]) == approx_rows(expected_rows(data)["a"])  # type: ignore[arg-type]
    local = as_json(imagejobs("usage", *PERIOD, "--json", "--producer", a.producer.name))
    assert remote == local
    table = imagejobs("usage", *PERIOD, "--group-by", "day", "--api", api_url, "--key", a.api_key)
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[-1].split()[-2:] == ["0.001225", "1"]


def test_bad_arguments_are_named(api_url: str, written: tuple[NewKey, NewKey, Written]) -> None:
    a, _b, _data = written
    cases = [
        (["--producer", "no-such-producer"], "--producer: no producer named 'no-such-producer'"),
        (["--since", "2013-10-02", "--until", "2013-10-01"], "--since: 2013-10-02 is after"),
        (["--group-by", "model,task"], "--group-by: unknown group 'task'"),
        (["--api", api_url], "--api needs an API key"),
        (["--api", api_url, "--key", a.api_key, "--producer", "x"], "--producer is for the local"),
    ]
    for args, message in cases:
        result = imagejobs("usage", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    bad_date = imagejobs("usage", "--since", "30/09/2013")
    assert bad_date.exit_code == 2 and "--since" in bad_date.output


def test_stats_local_and_remote(api_url: str, make_producer: Callable[[str], NewKey]) -> None:
    key = make_producer("stats-cli")
    today = utc_today()
    now = datetime.now(UTC)
    with Database(get_settings().effective_database_url).session() as session:
        add_job(
            session, producer_id=key.producer.id, finished_at=None, status="running", created_at=now
        )
    before = as_json(imagejobs("stats", "--json"))
    remote = as_json(imagejobs("stats", "--json", "--api", api_url, "--key", key.api_key))
    if remote["today"] != today.isoformat():
        pytest.skip("the UTC day turned during the test")
    assert remote["jobs"]["all_time"] == {  # type: ignore[index]
        "queued": 0,
        "running": 1,
        "succeeded": 0,
        "failed": 0,
        "canceled": 0,
    }
    assert remote["usage_today"] == figures(0)
    with Database(get_settings().effective_database_url).session() as session:
        add_job(
            session, producer_id=key.producer.id, finished_at=None, status="running", created_at=now
        )
    after = as_json(imagejobs("stats", "--json"))  # every producer's: one job more
    counts = [sum(s["jobs"]["all_time"].values()) for s in (before, after)]  # type: ignore[index]
    assert counts[1] == counts[0] + 1
    table = imagejobs("stats", "--api", api_url, "--key", key.api_key)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].strip() == "jobs by status"
    assert lines[1].split() == ["status", "all", "time", "created", "today"]
    assert ["running", "2", "2"] in [line.split() for line in lines]  # all time, created today
    assert any(line.startswith(f"today ({remote['today']} UTC): 0 Gemini calls") for line in lines)
