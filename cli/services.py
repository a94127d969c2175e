"""The processes of a deployment: ``worker``, ``flower`` and ``api`` (the emulator's command lives
with the emulator, :mod:`imagejobs.emulator.command`), and ``demo``, which runs them all.

The worker and the API server are imported when their command runs, not at every start of the
command line (their imports cost a second).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.demo import run_demo
from cli.errors import CliError
from cli.invocation import invocation

console = Console()


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(help="Gemini calls in flight on this host (threads); default from settings"),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(help="Worker processes sharing those threads; default: one per CPU core"),
    ] = None,
    loglevel: Annotated[str, typer.Option()] = "INFO",
    node: Annotated[str, typer.Option(help="Celery node name")] = "imagejobs@%h",
    child: Annotated[
        bool, typer.Option("--child", hidden=True, help="Run Celery in this process")
    ] = False,
) -> None:
    """Run Celery workers: threads for the waiting, one process per core for the computing.

    A Gemini call is seconds of waiting, so each process runs a threads pool (hundreds of calls
    in flight for little memory); the Python work around each call (decoding, parsing, masks,
    SQL) holds the GIL, so one process per core keeps both cores busy. On a real broker the
    processes run under a supervisor that restarts one that dies.
    """
    from worker.main import start

    code = start(
        invocation(ctx).settings,
        concurrency=concurrency,
        processes=processes,
        loglevel=loglevel,
        node=node,
        child=child,
    )
    raise typer.Exit(code)


def flower(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port for the Flower web UI")] = 5555,
    address: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
) -> None:
    """Run Flower, the Celery monitor: workers, tasks and queues of this deployment.

    Pages ask for the IMAGEJOBS_FLOWER_BASIC_AUTH credentials (user:password); without them
    Flower only listens on a loopback address. Its task list is kept in IMAGEJOBS_FLOWER_DB
    (default: flower/flower.db in the data folder), so it survives a restart.
    """
    settings = invocation(ctx).settings
    _check_flower_state(settings.effective_flower_db)
    credentials = settings.flower_basic_auth
    env = dict(os.environ)
    env.pop("FLOWER_BASIC_AUTH", None)  # only the setting's credentials count
    if credentials is not None:
        env["FLOWER_BASIC_AUTH"] = credentials.get_secret_value()  # not argv: ps shows argv
    elif not _is_loopback(address):
        raise CliError(
            f"refusing to run Flower on {address or 'every interface'} without credentials: "
            "set IMAGEJOBS_FLOWER_BASIC_AUTH=user:password, or listen on 127.0.0.1",
            2,
        )
    argv = ["-m", "worker", "flower", "--port", str(port), "--address", address]
    os.execve(sys.executable, [sys.executable, *argv], env)  # same pid: signals reach Flower


def _check_flower_state(path: Path) -> None:
    """Refuse a Flower state file that cannot be written, naming the setting that moves it."""
    where = f"Flower's state file {path} (IMAGEJOBS_FLOWER_DB)"
    if path.is_dir():
        raise CliError(f"{where} is a directory: name a file", 2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the folder of {where}: {exc.strerror}", 2) from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise CliError(f"cannot write {where}: its folder is not writable", 2)


def api(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes")] = 1,
) -> None:
    """Run the HTTP API for producers (uvicorn).

    One server process serves the app built here from this command's runtime; with
    ``--workers N`` each process builds its own (uvicorn imports the app factory in each).
    """
    import uvicorn

    from api.app import create_app

    if workers > 1:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
        )
        return
    app = create_app(runtime=invocation(ctx).runtime)
    uvicorn.run(app, host=host, port=port, proxy_headers=True)


def _is_loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or "" (every interface)


def demo(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for overlays")] = Path(
        "demo-output"
    ),
) -> None:
    """Run every task on a bundled sample set, end to end, with nothing else running."""
    raise typer.Exit(run_demo(invocation(ctx).runtime, output, console))
