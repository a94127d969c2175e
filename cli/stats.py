"""``imagejobs stats``: jobs by status (all time and created today), and today's Gemini calls and
spend (UTC). Locally every producer's; with ``--api`` the key's producer's."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.client import ImageJobsClient
from cli.invocation import invocation
from cli.local import RemoteApi, RemoteKey
from cli.usage import need_key
from imagejobs.store.usage_report import stats

console = Console()


def stats_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON")] = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """Jobs by status, and today's Gemini calls and spend (UTC; every producer locally, the
    key's producer with --api)."""
    if api:
        with ImageJobsClient(api, need_key(key)) as client:
            figures = client.stats()
    else:
        with invocation(ctx).runtime.db.session() as session:
            figures = stats(session).as_dict()
    if as_json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    console.print(jobs_table(figures))
    console.print(today_line(figures))


def jobs_table(figures: dict[str, Any]) -> Table:
    jobs = figures["jobs"]
    table = Table(title="jobs by status", title_justify="left", box=None, show_footer=True)
    table.add_column("status", footer="total")
    table.add_column("all time", justify="right", footer=f"{sum(jobs['all_time'].values()):,}")
    today_total = sum(jobs["created_today"].values())
    table.add_column("created today", justify="right", footer=f"{today_total:,}")
    for status, count in jobs["all_time"].items():
        table.add_row(status, f"{count:,}", f"{jobs['created_today'].get(status, 0):,}")
    return table


def today_line(figures: dict[str, Any]) -> str:
    usage = figures["usage_today"]
    return (
        f"today ({figures['today']} UTC): {usage['calls']:,} Gemini calls, "
        f"{usage['cost_usd']:.6f} USD, {usage['jobs']:,} jobs finished "
        f"({usage['cache_hits']:,} from the cache), {usage['estimated_tokens']:,} tokens "
        f"estimated, {usage['prompt_tokens']:,} + {usage['output_tokens']:,} billed"
    )
