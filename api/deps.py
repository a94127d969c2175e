"""Request dependencies: the app's runtime (settings, database, blobs, broker), and the producer
behind the API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError
from imagejobs.runtime import Runtime
from imagejobs.store.producers import ProducerInfo, authenticate

bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `imagejobs keys create NAME`: `Authorization: Bearer ij_...`",
)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def current_producer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ProducerInfo:
    """The authenticated producer; 401 problem when the key is missing, unknown or revoked."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise ProblemError(
            401, "missing API key: send 'Authorization: Bearer <key>'", headers=challenge
        )
    with get_runtime(request).db.session() as session:
        producer = authenticate(session, credentials.credentials)
    if producer is None:
        raise ProblemError(401, "unknown or revoked API key", headers=challenge)
    return producer


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ProducerDep = Annotated[ProducerInfo, Depends(current_producer)]
