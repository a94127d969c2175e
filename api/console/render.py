"""The console's templates (Jinja2, autoescape on for everything) and the filters they use."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.console.auth import CSRF_FIELD, Viewer
from imagejobs.core.jobspec import FINAL_STATUSES
from imagejobs.core.overlay import colour_for
from imagejobs.core.times import as_utc

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# Sent with every console page: nothing loads from elsewhere, no inline script, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(value: datetime | str | None) -> str:
    """``2026-12-01 09:13:05`` (UTC), or a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S")


def tokens(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    return f"${value:,.6f}" if value < 0.01 else f"${value:,.4f}"


def seconds_between(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    span = (as_utc(end) - as_utc(start)).total_seconds()
    return f"{span:.1f} s" if span < 120 else f"{span / 60:.1f} min"


def colour(number: int) -> str:
    """The overlay colour of item ``number`` (1-based), as ``#rrggbb``."""
    red, green, blue = colour_for(number - 1)
    return f"#{red:02x}{green:02x}{blue:02x}"


def build_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, tokens=tokens, usd=usd, colour=colour)
    env.globals.update(
        seconds_between=seconds_between, FINAL_STATUSES=FINAL_STATUSES, CSRF_FIELD=CSRF_FIELD
    )
    return Jinja2Templates(env=env)


def page(
    templates: Jinja2Templates,
    request: Request,
    name: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, name, {"viewer": viewer, **context}, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    response.headers["Vary"] = "HX-Request, Cookie"
    return response
