"""What every console route is handed: the console (runtime, sessions, templates) and the viewer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from api.console.auth import Sessions, SignInRequired, Viewer, viewer_of
from api.console.sign_in_limit import SignInLimit
from imagejobs.runtime import Runtime

PREFIX = "/console"


@dataclass(frozen=True)
class Console:
    runtime: Runtime
    sessions: Sessions
    templates: Jinja2Templates
    sign_in_limit: SignInLimit = field(default_factory=SignInLimit)


def get_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(get_console)]


def session_data(request: Request, console: ConsoleDep) -> dict[str, Any]:
    return console.sessions.read(request)


SessionDep = Annotated[dict[str, Any], Depends(session_data)]


def current_viewer(console: ConsoleDep, data: SessionDep) -> Viewer:
    """The signed-in viewer; :class:`SignInRequired` (the sign-in page) without one."""
    viewer = viewer_of(data, console.runtime, console.sessions)
    if viewer is None:
        raise SignInRequired()
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def is_fragment(request: Request) -> bool:
    """An htmx poll asks for the live part of a page only."""
    return request.headers.get("HX-Request") == "true"
