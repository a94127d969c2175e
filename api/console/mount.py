"""Mounting the results console on the API app: its routes under ``/console``, its static files,
``GET /`` sending people to the jobs list, and its error pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.console import routes_auth, routes_jobs, routes_spend, routes_submit
from api.console.auth import ConsoleError, Sessions, SignInRequired, viewer_of
from api.console.deps import PREFIX, Console, is_fragment
from api.console.render import STATIC, build_templates, page
from imagejobs.runtime import Runtime


def mount_console(app: FastAPI, runtime: Runtime) -> None:
    """Serve the console from ``app`` (every route is left out of the OpenAPI document)."""
    console = Console(runtime, Sessions(runtime.settings), build_templates())
    app.state.console = console
    for module in (routes_auth, routes_jobs, routes_submit, routes_spend):
        app.include_router(module.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_api_route("/", _home, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(ConsoleError, _error_page)


def _home() -> Response:
    return RedirectResponse(f"{PREFIX}/jobs", status_code=303)


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"{PREFIX}/sign-in?next={quote(target, safe='')}"
    if is_fragment(request):  # an htmx poll after the session ended: the whole page goes
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleError)
    console: Console = request.app.state.console
    data = console.sessions.read(request)
    viewer = await run_in_threadpool(viewer_of, data, console.runtime, console.sessions)
    return page(console.templates, request, "error.html", viewer, status_code=exc.status, error=exc)
