"""Command functions for the ``imagejobs`` CLI: the API server, keys, and remote job commands.

Registered by ``imagejobs/cli.py``: ``api`` runs the server, ``keys`` manages producers' API keys
and webhook secrets, and ``remote_submit`` / ``remote_show`` / ``remote_watch`` talk to an API
over HTTP (``--api URL`` and ``--key`` or ``IMAGEJOBS_API_KEY``). Their failures (an API that
is down, a 4xx answer, a wait that timed out) are printed as one line by the root command
(``imagejobs.clierrors``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from api.client import FINAL_STATUSES, ImageJobsClient
from imagejobs.clierrors import require_file
from imagejobs.core.jobspec import fields_from_flags

console = Console()
err = Console(stderr=True)

ApiUrl = Annotated[
    str,
    typer.Option("--api", envvar="IMAGEJOBS_API_URL", help="API base URL, e.g. http://host:8000"),
]
ApiKey = Annotated[
    str,
    typer.Option("--key", envvar="IMAGEJOBS_API_KEY", help="API key (ij_...)", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the job as JSON")]


def api_command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes")] = 1,
) -> None:
    """Run the HTTP API (uvicorn)."""
    import uvicorn

    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
    )


keys_app = typer.Typer(help="Producers' API keys and webhook secrets.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(name: Annotated[str, typer.Argument(help="Producer name")]) -> None:
    """Create an API key for producer NAME (creating the producer and its webhook secret)."""
    from api.producers import create_key
    from imagejobs.settings import get_settings

    try:
        new = create_key(get_settings(), name)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if new.created_producer:
        err.print(f"created producer {new.producer.name!r} ({new.producer.id})")
        err.print("webhook signing secret (keep it with your webhook receiver):")
        sys.stdout.write(f"webhook_secret: {new.producer.webhook_secrets[0]}\n")
    err.print("API key (shown once; only its hash is stored):")
    sys.stdout.write(f"api_key: {new.api_key}\n")


@keys_app.command("rotate-secret")
def keys_rotate_secret(
    name: Annotated[str, typer.Argument(help="Producer name")],
    finish: Annotated[
        bool, typer.Option("--finish", help="End the rotation: keep only the newest secret")
    ] = False,
) -> None:
    """Start a webhook secret rotation (new + old both sign), or end it with --finish."""
    from api.producers import ProducerNotFound, rotate_secret
    from imagejobs.settings import get_settings

    try:
        info = rotate_secret(get_settings(), name, finish=finish)
    except (ProducerNotFound, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if finish:
        err.print("rotation finished; deliveries are signed with this secret only:")
    else:
        err.print("rotation started; deliveries are signed with both secrets (newest first):")
    for secret in info.webhook_secrets:
        sys.stdout.write(f"webhook_secret: {secret}\n")


@keys_app.command("list")
def keys_list(
    name: Annotated[str | None, typer.Argument(help="Producer name (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as JSON")] = False,
) -> None:
    """List API keys: id, prefix, producer, created, revoked (never the key itself)."""
    from api.producers import ProducerNotFound, list_keys
    from imagejobs.settings import get_settings

    try:
        keys = list_keys(get_settings(), name)
    except (ProducerNotFound, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
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
    if as_json:
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
    key_id: Annotated[str, typer.Argument(help="The key's id (from 'imagejobs keys list')")],
    force: Annotated[
        bool, typer.Option("--force", help="Also revoke a producer's last active key")
    ] = False,
) -> None:
    """Revoke an API key by id: it answers 401 from now on."""
    from api.producers import KeyNotFound, LastActiveKey, revoke_key_by_id
    from imagejobs.settings import get_settings

    try:
        info = revoke_key_by_id(get_settings(), key_id, force=force)
    except (KeyNotFound, LastActiveKey) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    assert info.revoked_at is not None
    err.print(
        f"revoked key {info.id} ({info.prefix}…) of producer {info.producer!r} "
        f"at {info.revoked_at.isoformat()}"
    )


def _client(api: str, key: str) -> ImageJobsClient:
    return ImageJobsClient(api, key)


def _print_job(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(job, indent=2) + "\n")
        return
    from imagejobs.tables import job_table

    console.print(job_table(job))


def remote_submit(
    images: Annotated[list[str], typer.Argument(help="Image files or http(s) URLs")],
    task: Annotated[str, typer.Option(help="caption|ask|classify|detect|segment|compare")],
    api: ApiUrl,
    key: ApiKey,
    prompt: Annotated[str | None, typer.Option(help="Custom prompt, or what to detect")] = None,
    question: Annotated[str | None, typer.Option(help="The question (ask, compare)")] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels (classify)")] = None,
    model: Annotated[str | None, typer.Option()] = None,
    webhook_url: Annotated[str | None, typer.Option(help="Callback URL")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key header")] = None,
    wait: Annotated[bool, typer.Option(help="Wait and print the result")] = False,
    as_json: AsJson = False,
) -> None:
    """Submit a job to a remote API; prints its id (or, with --wait, its result)."""
    fields = fields_from_flags(
        task, prompt=prompt, question=question, labels=labels, model=model, webhook_url=webhook_url
    )
    sources: list[str | Path] = [
        s if s.startswith(("http://", "https://")) else Path(s) for s in images
    ]
    for source in sources:
        if isinstance(source, Path):
            require_file(source)
    with _client(api, key) as client:  # errors become one line in imagejobs.clierrors
        job = client.submit(sources, task=task, idempotency_key=idempotency_key, **fields)
        if wait:
            job = client.wait(job["id"])
    if not wait:
        sys.stdout.write(job["id"] + "\n")
        return
    _print_job(job, as_json)
    if job["status"] != "succeeded":
        raise typer.Exit(1)


def remote_show(
    job_id: Annotated[str, typer.Argument(help="Job id")],
    api: ApiUrl,
    key: ApiKey,
    as_json: AsJson = False,
) -> None:
    """Show a job from a remote API."""
    with _client(api, key) as client:
        job = client.get(job_id)
    _print_job(job, as_json)


def remote_watch(
    job_id: Annotated[str, typer.Argument(help="Job id")],
    api: ApiUrl,
    key: ApiKey,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 3600.0,
    as_json: AsJson = False,
) -> None:
    """Follow a job on a remote API until it is final, printing each status change."""
    seen: list[str] = []

    def progress(job: dict[str, Any]) -> None:
        state = job["status"] + (f" (attempt {job['attempts']})" if job["attempts"] > 1 else "")
        if not seen or seen[-1] != state:
            seen.append(state)
            err.print(f"job {job['id']}: {state}")

    with _client(api, key) as client:
        job = client.wait(job_id, timeout=timeout, progress=progress)
    _print_job(job, as_json)
    if job["status"] != "succeeded":
        raise typer.Exit(1)


__all__ = [
    "FINAL_STATUSES",
    "api_command",
    "keys_app",
    "remote_show",
    "remote_submit",
    "remote_watch",
]
