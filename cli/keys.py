"""``imagejobs keys``: producers' API keys and webhook secrets.

A key is printed once, when it is created (only its hash is stored); listings show a key's id
and prefix, never the key.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from cli.invocation import invocation
from imagejobs.store.producers import (
    KeyNotFound,
    LastActiveKey,
    ProducerNotFound,
    create_key,
    list_keys,
    revoke_key_by_id,
    rotate_secret,
)

err = Console(stderr=True)

keys_app = typer.Typer(help="Producers' API keys and webhook secrets.", no_args_is_help=True)


def _fail(exc: Exception, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Producer name")]
) -> None:
    """Create an API key for producer NAME (creating the producer and its webhook secret)."""
    try:
        with invocation(ctx).runtime.db.session() as session:
            new = create_key(session, name)
    except ValueError as exc:
        raise _fail(exc, 2) from None
    if new.created_producer:
        err.print(f"created producer {new.producer.name!r} ({new.producer.id})")
        err.print("webhook signing secret (keep it with your webhook receiver):")
        sys.stdout.write(f"webhook_secret: {new.producer.webhook_secrets[0]}\n")
    err.print("API key (shown once; only its hash is stored):")
    sys.stdout.write(f"api_key: {new.api_key}\n")


@keys_app.command("rotate-secret")
def keys_rotate_secret(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Producer name")],
    finish: Annotated[
        bool, typer.Option("--finish", help="End the rotation: keep only the newest secret")
    ] = False,
) -> None:
    """Start a webhook secret rotation (new + old both sign), or end it with --finish."""
    try:
        with invocation(ctx).runtime.db.session() as session:
            info = rotate_secret(session, name, finish=finish)
    except (ProducerNotFound, ValueError) as exc:
        raise _fail(exc, 1) from None
    if finish:
        err.print("rotation finished; deliveries are signed with this secret only:")
    else:
        err.print("rotation started; deliveries are signed with both secrets (newest first):")
    for secret in info.webhook_secrets:
        sys.stdout.write(f"webhook_secret: {secret}\n")


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Producer name (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as JSON")] = False,
) -> None:
    """List API keys: id, prefix, producer, created, revoked (never the key itself)."""
    try:
        with invocation(ctx).runtime.db.session() as session:
            keys = list_keys(session, name)
    except (ProducerNotFound, ValueError) as exc:
        raise _fail(exc, 1) from None
    if as_json:
        rows = [
            {
                "id": k.id,
                "prefix": k.prefix,
                "producer": k.producer,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in keys
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    lines: list[tuple[str, ...]] = [("id", "prefix", "producer", "created", "revoked")]
    for k in keys:
        created = k.created_at.isoformat(" ", "seconds")[:19]
        revoked = k.revoked_at.isoformat(" ", "seconds")[:19] if k.revoked_at else "-"
        lines.append((k.id, f"{k.prefix}…", k.producer, created, revoked))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:  # plain columns: never cut to the terminal's width
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, line[4]]) + "\n")


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id (from 'imagejobs keys list')")],
    force: Annotated[
        bool, typer.Option("--force", help="Also revoke a producer's last active key")
    ] = False,
) -> None:
    """Revoke an API key by id: it answers 401 from now on."""
    try:
        with invocation(ctx).runtime.db.session() as session:
            info = revoke_key_by_id(session, key_id, force=force)
    except (KeyNotFound, LastActiveKey) as exc:
        raise _fail(exc, 1) from None
    assert info.revoked_at is not None
    err.print(
        f"revoked key {info.id} ({info.prefix}…) of producer {info.producer!r} "
        f"at {info.revoked_at.isoformat()}"
    )
