"""Signing in (an API key, or the operator's user and password) and out."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.auth import (
    CSRF_FIELD,
    admin_matches,
    admin_session,
    check_csrf,
    new_csrf,
    producer_session,
    viewer_of,
)
from api.console.deps import PREFIX, ConsoleDep, SessionDep
from api.console.render import page
from imagejobs.store.console_queries import key_holder

router = APIRouter(prefix=PREFIX, include_in_schema=False)
HOME = f"{PREFIX}/jobs"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if not target or not target.startswith(f"{PREFIX}/"):
        return HOME
    return HOME if any(ch in target for ch in "\\\r\n") else target


def _sign_in_page(
    console: ConsoleDep,
    request: Request,
    data: dict[str, object],
    *,
    error: str | None = None,
    next_url: str = HOME,
    status_code: int = 200,
) -> HTMLResponse:
    """The sign-in page, with an anonymous session carrying a CSRF token for its forms."""
    csrf = data.get("csrf") if isinstance(data.get("csrf"), str) else None
    fresh = csrf is None
    csrf = csrf or new_csrf()
    response = page(
        console.templates,
        request,
        "sign_in.html",
        None,
        status_code=status_code,
        csrf=csrf,
        error=error,
        next_url=next_url,
        admin_enabled=console.runtime.settings.console_admin is not None,
    )
    if fresh:
        console.sessions.write(response, {"csrf": csrf})
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request, console: ConsoleDep, data: SessionDep, next: str | None = None
) -> Response:
    if viewer_of(data, console.runtime, console.sessions) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _sign_in_page(console, request, data, next_url=safe_next(next))


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    console: ConsoleDep,
    data: SessionDep,
    csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
    api_key: Annotated[str, Form()] = "",
    user: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME,
) -> Response:
    check_csrf(data, csrf_token)
    target = safe_next(next)
    settings = console.runtime.settings
    address = request.client.host if request.client else "-"
    wait_s = console.sign_in_limit.retry_after(address)
    if wait_s is not None:
        error = f"too many failed sign-ins from this address: try again in {wait_s:.0f} s"
        refused = _sign_in_page(
            console, request, data, error=error, next_url=target, status_code=429
        )
        refused.headers["Retry-After"] = str(math.ceil(wait_s))
        return refused
    if api_key.strip():
        with console.runtime.db.session() as session:
            holder = key_holder(session, api_key.strip())
        if holder is not None:
            return _signed_in(console, target, producer_session(holder.key_id))
        error = "unknown or revoked API key"
        console.sign_in_limit.failed(address)
    elif user or password:
        if admin_matches(settings, user, password):
            return _signed_in(console, target, admin_session(settings, console.sessions))
        error = (
            "wrong user or password"
            if settings.console_admin is not None
            else "operator sign-in is off: IMAGEJOBS_CONSOLE_ADMIN is not set"
        )
        console.sign_in_limit.failed(address)
    else:
        error = "enter an API key, or the operator's user and password"
    return _sign_in_page(console, request, data, error=error, next_url=target, status_code=401)


def _signed_in(console: ConsoleDep, target: str, session: dict[str, object]) -> Response:
    response = RedirectResponse(target, status_code=303)
    console.sessions.write(response, dict(session))
    return response


@router.post("/sign-out")
def sign_out(
    console: ConsoleDep,
    data: SessionDep,
    csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
) -> Response:
    check_csrf(data, csrf_token)
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    console.sessions.clear(response)
    return response
