"""The ``imagejobs`` command line.

Every failure of a command ends as one line on stderr and a non-zero exit: the root command sends
exceptions through :func:`imagejobs.clierrors.describe` (``--debug`` shows the traceback).
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text
from typer.core import TyperGroup

from imagejobs.clierrors import CliError, describe, require_file
from imagejobs.settings import get_settings

try:  # typer >= 0.24 carries its own click
    from typer.exceptions import TyperException as _UsageProblem
except ImportError:  # pragma: no cover - older typer runs on click
    from click import ClickException as _UsageProblem  # type: ignore[assignment]

console = Console()
err = Console(stderr=True)

FINAL = ("succeeded", "failed", "canceled")
_DEBUG = "imagejobs.debug"


class _Commands(TyperGroup):
    """The root command: a failure below it is printed as one line (--debug: the traceback)."""

    def invoke(self, ctx: Any) -> Any:  # a (typer's) click Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _UsageProblem):
            raise  # exits and usage errors, which the framework prints itself
        except Exception as exc:
            if ctx.meta.get(_DEBUG):
                raise
            message, code = describe(exc)
            err.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=_Commands,
    help="imagejobs: image understanding jobs on Gemini.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="IMAGEJOBS_DEBUG", help="Show the traceback of an error"),
    ] = False,
) -> None:
    ctx.meta[_DEBUG] = debug


_registered = False


def cli_app() -> typer.Typer:
    """The whole command line, with the commands whose code lives with the part they run."""
    global _registered
    if not _registered:
        from api.cli import api_command, keys_app
        from imagejobs.emulator.command import emulator_command

        app.command("emulator", help="Run the local Gemini-compatible emulator.")(emulator_command)
        app.command("api", help="Run the HTTP API for producers.")(api_command)
        app.add_typer(keys_app, name="keys")
        _registered = True
    return app


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from imagejobs.store.migrate import migrate as run_migrations

    url = get_settings().effective_database_url
    run_migrations(url)
    console.print(f"database is at the latest schema ({_safe_url(url)})")


@app.command()
def worker(
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
    from worker.runtime import build_gemini

    settings = get_settings()
    build_gemini(settings)  # fail now, naming the setting, rather than on the first job
    embedded = settings.uses_embedded_broker
    threads = concurrency or (8 if embedded else settings.worker_concurrency)
    if child or embedded:
        from worker.celery_app import QUEUE
        from worker.celery_app import app as celery_app

        code = celery_app.start(  # unlike worker_main, start returns the worker's exit code
            [
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(threads),
                "--loglevel",
                loglevel,
                "-Q",
                QUEUE,
                "-n",
                node,
                "-E",
            ]
        )
        raise typer.Exit(code or 0)
    from worker.supervisor import supervise

    count = processes or os.cpu_count() or 1
    per_process = max(1, threads // count)
    raise typer.Exit(supervise(count, per_process, loglevel, node))


RemoteApi = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="IMAGEJOBS_API_URL",
        help="Use a remote imagejobs API (e.g. http://host:8000)",
    ),
]
RemoteKey = Annotated[
    str | None,
    typer.Option("--key", envvar="IMAGEJOBS_API_KEY", help="API key for --api", show_default=False),
]


def _need_key(key: str | None) -> str:
    if not key:
        raise CliError("--api needs an API key (--key or IMAGEJOBS_API_KEY)", 2)
    return key


def _read_images(names: list[str], max_bytes: int) -> list[Any]:
    """The image files, checked as the API checks an upload before anything is stored."""
    from imagejobs.core.imageinfo import ImageRejected, check_upload
    from imagejobs.submission import ImageInput

    inputs = []
    for name in names:
        path = Path(name)
        require_file(path)
        data = path.read_bytes()
        try:
            check_upload(data, max_bytes=max_bytes)
        except ImageRejected as exc:
            raise CliError(f"{path}: {exc}", 2) from None
        inputs.append(ImageInput(data=data, filename=path.name))
    return inputs


@app.command()
def submit(
    images: Annotated[
        list[str], typer.Argument(help="Image files (PNG, JPEG, WEBP, HEIC, HEIF); URLs with --api")
    ],
    task: Annotated[str, typer.Option(help="caption|ask|classify|detect|segment|compare")],
    prompt: Annotated[str | None, typer.Option(help="Custom prompt, or what to detect")] = None,
    question: Annotated[str | None, typer.Option(help="The question (ask, compare)")] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels (classify)")] = None,
    model: Annotated[str | None, typer.Option()] = None,
    webhook_url: Annotated[str | None, typer.Option(help="Callback URL (with --api)")] = None,
    wait: Annotated[bool, typer.Option(help="Wait and print the result")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --wait: print JSON")] = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """Submit a job; prints its id (or, with --wait, its result)."""
    if api:
        from api.cli import remote_submit

        remote_submit(
            images=images,
            task=task,
            api=api,
            key=_need_key(key),
            prompt=prompt,
            question=question,
            labels=labels,
            model=model,
            webhook_url=webhook_url,
            wait=wait,
            as_json=as_json,
        )
        return
    from imagejobs.core.jobspec import JobSpec, fields_from_flags
    from imagejobs.store.blobs import DirectoryBlobStore
    from imagejobs.submission import submit_job

    settings = get_settings()
    inputs = _read_images(images, settings.max_image_bytes)
    fields = fields_from_flags(
        task,
        prompt=prompt,
        question=question,
        labels=labels,
        model=model,
        webhook_url=webhook_url,
    )
    spec = JobSpec(**{k: v for k, v in {"task": task, **fields}.items() if v is not None})
    try:
        submitted = submit_job(
            settings, DirectoryBlobStore(settings.effective_blob_dir), spec, inputs
        )
    except ValueError as exc:  # bad input, named by submit_job (image count, empty image)
        raise CliError(str(exc), 2) from None
    if not wait:
        console.print(submitted.job_id)
        return
    view = wait_for_job(submitted.job_id)
    _print_view(view, as_json)
    if view["status"] != "succeeded":
        raise typer.Exit(1)


def wait_for_job(job_id: str, *, timeout_s: float = 3600.0) -> dict[str, Any]:
    """Poll the database with backoff, showing progress, until the job is final."""
    from imagejobs.results.view import job_view
    from imagejobs.store.db import session_scope

    url = get_settings().effective_database_url
    delay = 0.2
    deadline = time.monotonic() + timeout_s
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        bar = progress.add_task(f"job {job_id}: queued", total=None)
        while True:
            with session_scope(url) as session:
                view = job_view(session, job_id, include_masks=True)
            status = view["status"]
            note = f" (attempt {view['attempts']})" if view["attempts"] > 1 else ""
            progress.update(bar, description=f"job {job_id}: {status}{note}")
            if status in FINAL or time.monotonic() > deadline:
                return view
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


@app.command()
def show(
    job_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the job as JSON")] = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """Show a job: status, results and usage."""
    if api:
        from api.cli import remote_show

        remote_show(job_id=job_id, api=api, key=_need_key(key), as_json=as_json)
        return
    from imagejobs.results.view import job_view
    from imagejobs.store.db import session_scope

    with session_scope(get_settings().effective_database_url) as session:
        view = job_view(session, job_id)
    _print_view(view, as_json)


@app.command()
def watch(
    job_id: str,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 3600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the job as JSON")] = False,
    api: RemoteApi = None,
    key: RemoteKey = None,
) -> None:
    """Follow a job until it is final, then print it."""
    if api:
        from api.cli import remote_watch

        remote_watch(job_id=job_id, api=api, key=_need_key(key), timeout=timeout, as_json=as_json)
        return
    view = wait_for_job(job_id, timeout_s=timeout)
    _print_view(view, as_json)
    if view["status"] != "succeeded":
        raise typer.Exit(1)


def _is_loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or "" (every interface)


@app.command()
def flower(
    port: Annotated[int, typer.Option(help="Port for the Flower web UI")] = 5555,
    address: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
) -> None:
    """Run Flower, the Celery monitor: workers, tasks and queues of this deployment.

    Pages ask for the IMAGEJOBS_FLOWER_BASIC_AUTH credentials (user:password); without them
    Flower only listens on a loopback address.
    """
    credentials = get_settings().flower_basic_auth
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
    os.execve(
        sys.executable,
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker.celery_app",
            "flower",
            f"--port={port}",
            f"--address={address}",
        ],
        env,
    )


@app.command()
def overlay(
    job_id: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write")],
    image: Annotated[int, typer.Option(help="Which image of the job (0-based)")] = 0,
) -> None:
    """Draw a job's boxes and masks on its upright image."""
    from imagejobs.overlays import render_overlay
    from imagejobs.store.blobs import DirectoryBlobStore
    from imagejobs.store.db import session_scope
    from imagejobs.store.jobs import get_job

    if output.is_dir():
        raise CliError(f"cannot write {output}: it is a directory (give a file name)", 2)
    if not output.parent.is_dir():
        raise CliError(f"cannot write {output}: there is no folder {output.parent}", 2)
    settings = get_settings()
    with session_scope(settings.effective_database_url) as session:
        get_job(session, job_id)  # an unknown id says "no job", not "no stored image"
    png = render_overlay(
        settings.effective_database_url,
        DirectoryBlobStore(settings.effective_blob_dir),
        job_id,
        image,
    )
    output.write_bytes(png)
    console.print(f"wrote {output}")


@app.command()
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for overlays")] = Path(
        "demo-output"
    ),
) -> None:
    """Run every task on a bundled sample set, end to end, with nothing else running."""
    from imagejobs.demo import run_demo

    raise typer.Exit(run_demo(output, console))


def _print_view(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
        return
    from imagejobs.tables import job_table

    console.print(job_table(view))


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    cli_app()()
