"""``imagejobs demo``: every task, end to end, on a fresh machine with nothing running.

With nothing configured it uses the embedded defaults (a SQLite file and kombu's SQLAlchemy
broker under ``IMAGEJOBS_DATA_DIR``) and starts the bundled Gemini emulator; with
``GEMINI_API_KEY`` set the same jobs go to real Gemini. A real worker process runs the jobs.
"""

from __future__ import annotations

import io
import shutil
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.worker_process import WorkerProcess
from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import random_scene
from imagejobs.results.overlay_image import render_overlay
from imagejobs.results.view import job_view
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings
from imagejobs.store.migrate import migrate
from imagejobs.store.models import FINAL_STATUSES
from imagejobs.submission import ImageInput, submit_job


@dataclass
class Sample:
    name: str
    data: bytes


@dataclass
class DemoJob:
    title: str
    spec: JobSpec
    samples: list[Sample]
    job_id: str = ""


def generated_samples() -> list[Sample]:
    shapes = [(0, 800, 600, 5), (1, 1200, 500, 6), (2, 480, 720, 4), (3, 640, 640, 3)]
    return [
        Sample(f"scene-{seed}.png", random_scene(seed, w, h, n).encode("PNG"))
        for seed, w, h, n in shapes
    ]


def photo_samples() -> list[Sample]:
    """Real photos shipped inside scikit-image, when it is installed."""
    try:
        from PIL import Image
        from skimage import data as skdata
    except ImportError:
        return []
    photos = []
    for name in ("astronaut", "coffee", "chelsea"):
        try:
            pixels = getattr(skdata, name)()
        except Exception:  # a data file that is not bundled in this build
            continue
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
        photos.append(Sample(f"{name}.jpg", buffer.getvalue()))
    return photos


def plan_jobs(scenes: list[Sample], photos: list[Sample]) -> list[DemoJob]:
    photo = photos[0] if photos else scenes[0]
    other = photos[1] if len(photos) > 1 else scenes[1]
    return [
        DemoJob("caption a photo", JobSpec(task="caption"), [photo]),
        DemoJob(
            "ask about a scene",
            JobSpec(task="ask", question="How many objects are there, and what colours?"),
            [scenes[0]],
        ),
        DemoJob(
            "classify",
            JobSpec(task="classify", labels=["cat", "coffee", "person", "shapes"]),
            [other],
        ),
        *[DemoJob(f"detect objects in {s.name}", JobSpec(task="detect"), [s]) for s in scenes],
        DemoJob("segment objects", JobSpec(task="segment"), [scenes[1]]),
        DemoJob("compare two images", JobSpec(task="compare"), [scenes[2], scenes[3]]),
    ]


def run_demo(runtime: Runtime, output_dir: Path, console: Console) -> int:
    """Run the demo's jobs on a worker started here; 0 if every job succeeded."""
    settings = runtime.settings
    with ExitStack() as stack:
        env = _service_env(settings, console, stack)
        migrate(runtime.db.url)
        worker = _start_worker(env, settings, console)
        stack.callback(worker.stop)

        scenes, photos = generated_samples(), photo_samples()
        jobs = plan_jobs(scenes, photos)
        for job in jobs:
            inputs = [ImageInput(data=s.data, filename=s.name) for s in job.samples]
            job.job_id = submit_job(runtime, job.spec, inputs).job_id
        views = _wait_all(runtime, jobs, console)
        console.print(_results_table(jobs, views))
        written = _write_overlays(runtime, jobs, views, output_dir)
        if written:
            console.print(f"overlays written to [bold]{output_dir.resolve()}[/bold]:")
            for path in written:
                console.print(f"  {path.name}")
        failed = [v for v in views.values() if v["status"] != "succeeded"]
        console.print(
            f"{len(views) - len(failed)} of {len(views)} jobs succeeded "
            f"(data in {escape(str(settings.data_dir))})"
        )
        console.print(f"inspect one: {escape(cli_command())} show {jobs[0].job_id}", soft_wrap=True)
        return 1 if failed else 0
    return 1  # pragma: no cover - ExitStack does not swallow exceptions


def cli_command() -> str:
    """How to run ``imagejobs`` from here: its bare name when that is what PATH finds, else the
    path of this environment's script (``.venv/bin/imagejobs`` from the project folder)."""
    script = Path(sys.executable).parent / "imagejobs"
    found = shutil.which("imagejobs")
    if found and script.exists() and Path(found).resolve() == script.resolve():
        return "imagejobs"
    if not script.exists():
        return f"{sys.executable} -m cli"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _service_env(settings: Settings, console: Console, stack: ExitStack) -> dict[str, str]:
    """The worker's environment: this command's database, broker and blobs, and a Gemini (the
    bundled emulator, started here, unless a key or a base URL is set). This process never calls
    Gemini, so its own settings stay as they are."""
    env = {
        "IMAGEJOBS_DATABASE_URL": settings.effective_database_url,
        "IMAGEJOBS_BROKER_URL": settings.effective_broker_url,
        "IMAGEJOBS_BLOB_DIR": str(settings.effective_blob_dir),
    }
    if settings.api_key() or settings.gemini_base_url:
        target = settings.gemini_base_url or "real Gemini"
        console.print(f"Gemini: [bold]{target}[/bold] (model {settings.model})")
        return env
    emulator = stack.enter_context(EmulatorServer())
    env["IMAGEJOBS_GEMINI_BASE_URL"] = emulator.base_url
    console.print(
        f"Gemini: the bundled emulator at [bold]{emulator.base_url}[/bold] "
        "(set GEMINI_API_KEY to use real Gemini)"
    )
    return env


def _start_worker(env: dict[str, str], settings: Settings, console: Console) -> WorkerProcess:
    log_path = settings.data_dir / "demo-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    worker = WorkerProcess(env, log_path, concurrency=4, cwd=Path.cwd())
    with console.status("starting a worker"):
        worker.start(timeout_s=90)
    console.print(f"worker ready (log: {log_path})")
    return worker


def _wait_all(runtime: Runtime, jobs: list[DemoJob], console: Console) -> dict[str, Any]:
    views: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("running jobs", total=len(jobs))
        deadline = time.monotonic() + 600
        while len(views) < len(jobs) and time.monotonic() < deadline:
            with runtime.db.session() as session:
                for job in jobs:
                    if job.job_id not in views:
                        view = job_view(session, job.job_id, include_masks=False)
                        if view["status"] in FINAL_STATUSES:
                            views[job.job_id] = view
            progress.update(bar, completed=len(views))
            time.sleep(0.3)
    with runtime.db.session() as session:
        for job in jobs:
            views.setdefault(job.job_id, job_view(session, job.job_id, include_masks=False))
    return views


def _summary(view: dict[str, Any]) -> str:
    if view["status"] != "succeeded":
        error = view.get("error") or {}
        return f"{error.get('code')}: {error.get('message')}"
    if view["detections"]:
        labels = ", ".join(d["label"] for d in view["detections"][:6])
        return f"{len(view['detections'])} objects: {labels}"
    if view["labels"] is not None:
        return "labels: " + ", ".join(view["labels"])
    text = view["caption"] or view["answer"] or ""
    return text if len(text) < 160 else text[:157] + "..."


def _results_table(jobs: list[DemoJob], views: dict[str, Any]) -> Table:
    table = Table(title="imagejobs demo results", show_lines=True)
    for column in ("job", "task", "images", "status", "result", "tokens est / billed"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        view = views[job.job_id]
        usage = view["usage"]
        images = ", ".join(f"{i['filename']} ({i['transport']})" for i in view["images"])
        table.add_row(
            job.title,
            view["task"],
            escape(images),
            view["status"],
            escape(_summary(view)),  # model text is not markup: "[imagejobs emulator] ..."
            f"{usage['estimated_tokens']} / {usage['prompt_tokens']}",
        )
    return table


def _write_overlays(
    runtime: Runtime, jobs: list[DemoJob], views: dict[str, Any], output_dir: Path
) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for job in jobs:
        view = views[job.job_id]
        if view["status"] != "succeeded" or not view["detections"]:
            continue
        path = output_dir / f"{view['task']}-{job.samples[0].name.rsplit('.', 1)[0]}.png"
        path.write_bytes(render_overlay(runtime.db, runtime.blobs, job.job_id, 0))
        written.append(path)
    return written
