"""``imagejobs usage``: spend, tokens and jobs per producer, model and UTC day, the token quote
beside the billed counts. Locally every producer's (``--producer NAME`` for one); with ``--api``
the key's producer's, through the Python client."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from api.client import ImageJobsClient
from cli.errors import CliError
from cli.invocation import invocation
from cli.local import RemoteApi, RemoteKey
from imagejobs.store.producers import producer_id_by_name
from imagejobs.store.usage_report import (
    DEFAULT_DAYS,
    GROUPS,
    ReportRefused,
    parse_group_by,
    report_period,
    usage_report,
)

console = Console()

Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], show_default=False)]
FIGURES = (  # (column, key) of each figure, in the order shown
    ("jobs", "jobs"),
    ("calls", "calls"),
    ("est. tokens", "estimated_tokens"),
    ("prompt tokens", "prompt_tokens"),
    ("output tokens", "output_tokens"),
    ("cost USD", "cost_usd"),
    ("cache hits", "cache_hits"),
)


def need_key(key: str | None) -> str:
    if not key:
        raise CliError("--api needs an API key (--key or IMAGEJOBS_API_KEY)", 2)
    return key


def usage_command(
    ctx: typer.Context,
    since: Day = None,
    until: Day = None,
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by", help=f"Comma-separated, from {', '.join(GROUPS)}; '' for totals only"
        ),
    ] = ",".join(GROUPS),
    producer: Annotated[
        str | None,
        typer.Option(help="Only this producer (by name); local only", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """Spend, tokens and jobs per producer, model and UTC day (default: the last 30 days).

    A job counts on the day it finished, under the model that answered it. Locally: every
    producer (or --producer NAME); with --api: the key's producer.
    """
    try:
        period = report_period(since and since.date(), until and until.date())
        groups = parse_group_by(group_by)
    except ReportRefused as exc:
        raise CliError(f"--{exc.field.replace('_', '-')}: {exc.message}", 2) from None
    if api:
        if producer is not None:
            raise CliError("--producer is for the local report; --api reports the key's", 2)
        with ImageJobsClient(api, need_key(key)) as client:
            report = client.usage(since=period.since, until=period.until, group_by=groups)
    else:
        with invocation(ctx).runtime.db.session() as session:
            producer_id = None
            if producer is not None:
                producer_id = producer_id_by_name(session, producer)
                if producer_id is None:
                    raise CliError(f"--producer: no producer named {producer!r}", 2)
            found = usage_report(session, period, producer_id=producer_id, group_by=groups)
            report = found.as_dict()
    print_usage(console, report, as_json)


def print_usage(console: Console, report: dict[str, Any], as_json: bool) -> None:
    """The report (the API's JSON shape, local or remote) as JSON or a table with a total.

    The table is as wide as its values (producers, models and figures are never cut or folded),
    even when that is wider than the terminal.
    """
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    table = usage_table(report)
    natural = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
    width = console.width
    console.width = max(width, natural)
    try:
        console.print(table)
    finally:
        console.width = width


def usage_table(report: dict[str, Any]) -> Table:
    groups = list(report["group_by"])
    title = f"usage {report['since']} to {report['until']} (UTC days jobs finished)"
    footer = bool(groups and report["rows"])  # totals only: the one row is the total
    table = Table(title=title, title_justify="left", box=None, show_footer=footer)
    for index, name in enumerate(groups):
        table.add_column(name, footer="total" if index == 0 else "", no_wrap=True)
    for column, key in FIGURES:
        total = _figure(key, report["totals"][key])
        table.add_column(column, justify="right", footer=total, no_wrap=True)
    for row in report["rows"]:
        keys = [escape(str(row.get(name) or "(none)")) for name in groups]
        table.add_row(*keys, *(_figure(key, row[key]) for _, key in FIGURES))
    if not report["rows"]:
        table.add_row(*([""] * len(groups)), *(_figure(key, 0) for _, key in FIGURES))
        table.caption = f"no job finished in this period (default: the last {DEFAULT_DAYS} days)"
    return table


def _figure(key: str, value: Any) -> str:
    if key == "cost_usd":
        return f"{float(value):.6f}"
    return f"{int(value):,}"
