"""``/v1/keys``: a producer lists, creates and revokes its own API keys.

Only hashes are stored, so a listing shows each key's id and prefix; the key itself is shown once,
when it is created. Revoking the last active key is refused (409) unless ``?force=true``: with
no key left the producer can only get a new one from an operator (``imagejobs keys create``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ProducerDep, RuntimeDep
from api.problems import Problem, ProblemError
from api.schemas import CreatedKey, KeyList, KeyView
from imagejobs.store.producers import (
    KeyInfo,
    KeyNotFound,
    LastActiveKey,
    create_key,
    key_info,
    list_keys,
    revoke_key_by_id,
)

router = APIRouter(prefix="/v1/keys", tags=["keys"])

P401: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key", "model": Problem}
}


def key_view(info: KeyInfo) -> dict[str, Any]:
    view = {
        "id": info.id,
        "prefix": info.prefix,
        "created_at": info.created_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "active": info.active,
    }
    return KeyView.model_validate(view).model_dump(mode="json")


@router.get("", response_model=KeyList, summary="This producer's API keys", responses=P401)
def get_keys(runtime: RuntimeDep, producer: ProducerDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        keys = list_keys(session, producer_id=producer.id)
    return {"items": [key_view(k) for k in keys]}


@router.post(
    "",
    response_model=CreatedKey,
    status_code=201,
    summary="Create another API key (shown once)",
    description="Rotate a key: create a new one, switch to it, then revoke the old one.",
    responses=P401,
)
def post_key(runtime: RuntimeDep, producer: ProducerDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        new = create_key(session, producer.name)
        info = key_info(session, new.key_id)
    return {**key_view(info), "api_key": new.api_key}


@router.delete(
    "/{key_id}",
    response_model=KeyView,
    summary="Revoke an API key",
    description=(
        "The key answers 401 from now on. Revoking a revoked key changes nothing. The last "
        "active key is only revoked with `force=true`."
    ),
    responses={
        **P401,
        404: {"description": "No such key for this producer", "model": Problem},
        409: {"description": "It is the producer's last active key", "model": Problem},
    },
)
def delete_key(
    key_id: str,
    runtime: RuntimeDep,
    producer: ProducerDep,
    force: Annotated[bool, Query(description="Also revoke the last active key")] = False,
) -> dict[str, Any]:
    try:
        with runtime.db.session() as session:
            info = revoke_key_by_id(session, key_id, producer_id=producer.id, force=force)
    except KeyNotFound:
        raise ProblemError(404, f"no API key {key_id!r}") from None
    except LastActiveKey as exc:
        raise ProblemError(409, str(exc)) from None
    return key_view(info)
