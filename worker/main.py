"""Start-up of a worker host: the settings read once, the runtime and the Celery app built from
them, then either one consuming process or a supervisor over one process per core.

A Gemini call is seconds of waiting, so each process runs a threads pool (hundreds of calls in
flight for little memory); the Python work around each call (decoding, parsing, masks, SQL)
holds the GIL, so one process per core keeps the cores busy. On a real broker the processes run
under a supervisor that restarts one that dies (:mod:`worker.supervisor`).
"""

from __future__ import annotations

import gc
import os

from celery.signals import worker_ready

from imagejobs.broker.app import make_celery
from imagejobs.broker.names import QUEUE
from imagejobs.runtime import Runtime, build_gemini
from imagejobs.settings import Settings
from worker import tasks
from worker.metrics import host_metrics
from worker.supervisor import supervise

TASK_MODULES = ("worker.tasks", "worker.interop")
EMBEDDED_BROKER_THREADS = 8  # the embedded SQLite broker: one process, a few threads
GC_YOUNG_THRESHOLD = 10_000  # allocations between two collections of the youngest generation


def start(
    settings: Settings,
    *,
    concurrency: int | None = None,
    processes: int | None = None,
    loglevel: str = "INFO",
    node: str = "imagejobs@%h",
    child: bool = False,
) -> int:
    """Run the worker host until it is stopped; returns its exit code."""
    embedded = settings.uses_embedded_broker
    threads = concurrency or (EMBEDDED_BROKER_THREADS if embedded else settings.worker_concurrency)
    # The client is built now: a wrong setting stops the start, named; its pool fits the threads.
    runtime = Runtime.from_settings(settings, gemini=build_gemini(settings, threads=threads))
    if child or embedded:
        with host_metrics(settings, children=False):
            return consume(runtime, threads=threads, loglevel=loglevel, node=node)
    count = processes or os.cpu_count() or 1
    with host_metrics(settings, children=True) as metrics:
        return supervise(
            count,
            max(1, threads // count),
            loglevel,
            node,
            env=metrics.child_env(),
            on_exit=metrics.child_exited,
        )


def consume(runtime: Runtime, *, threads: int, loglevel: str, node: str) -> int:
    """One Celery worker process with a threads pool, consuming the imagejobs queue."""
    tasks.bind(runtime)
    app = make_celery(runtime.settings, include=TASK_MODULES)
    worker_ready.connect(settle_heap, weak=False)
    code = app.start(  # unlike worker_main, start returns the worker's exit code
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
    return int(code or 0)


def settle_heap(**_: object) -> None:
    """Once the worker consumes, what start-up built (modules, the runtime, Celery's steps)
    is moved out of the cyclic collector's way, and its youngest generation is collected every
    GC_YOUNG_THRESHOLD allocations instead of 700. A job allocates thousands of objects (rows,
    HTTP messages, parsed answers) that reference counting frees; at the default pace the
    collector kept re-scanning the long-lived ones (figures in the README's benchmarks)."""
    gc.collect()
    gc.freeze()
    _young, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


def flower(settings: Settings, *, port: int, address: str) -> int:
    """Flower on this deployment's broker, with the workers' transport options.

    Its history survives a restart: Flower's persistent mode keeps its task list in
    ``settings.effective_flower_db``, loaded at start, saved every
    ``flower_save_interval_s`` (so a killed Flower loses at most that much) and when it stops.
    """
    app = make_celery(settings)
    return int(app.start(["flower", *flower_args(settings, port=port, address=address)]) or 0)


def flower_args(settings: Settings, *, port: int, address: str) -> list[str]:
    """Flower's own options: where it listens, and its persistent state file."""
    state = settings.effective_flower_db
    state.parent.mkdir(parents=True, exist_ok=True)
    interval_ms = max(1, round(settings.flower_save_interval_s * 1000))
    return [
        f"--port={port}",
        f"--address={address}",
        "--persistent=True",
        f"--db={state}",
        f"--state_save_interval={interval_ms}",
    ]
