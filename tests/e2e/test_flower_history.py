"""Flower keeps its task list across a restart: a stopped (SIGTERM) Flower saves it on the way
out, a killed one (SIGKILL) keeps what its last periodic save held. Real Flower processes
(``imagejobs flower`` with basic auth), a real worker, Redis and Postgres."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Submit, wait_job
from tests.e2e.test_flower_auth import flower_env, free_port
from tests.e2e.test_tasks import scene_a
from tests.services import REPO, WorkerProcess

pytestmark = pytest.mark.slow

AUTH = ("ops", "history-pass-1")


class Flower:
    """One ``imagejobs flower`` process on ``port`` with its state file at ``db``."""

    def __init__(self, db: Path, port: int, log: Path, save_interval_s: float) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        env = flower_env(
            IMAGEJOBS_FLOWER_BASIC_AUTH=":".join(AUTH),
            IMAGEJOBS_FLOWER_DB=str(db),
            IMAGEJOBS_FLOWER_SAVE_INTERVAL_S=str(save_interval_s),
        )
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", "flower", "--port", str(port)],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, auth=AUTH, timeout=5)
        response.raise_for_status()
        return response.json()

    def poll(self, what: str, read: Callable[[], Any], timeout_s: float = 60.0) -> Any:
        """``read()`` once it returns something truthy (Flower may still be starting)."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"Flower exited: {self.log.read_text()[-3000:]}"
            try:
                last = read()
                if last:
                    return last
            except (httpx.HTTPError, ValueError) as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"Flower never showed {what}; last: {last!r}")

    def tasks_of(self, job_id: str) -> dict[str, dict[str, Any]]:
        """The tasks whose kwargs name this job, found with Flower's search (as people do)."""
        return dict(self.get("/api/tasks", search=f"kwargs:job_id={job_id}"))

    def finished_task(self, job_id: str) -> tuple[str, dict[str, Any]]:
        def read() -> tuple[str, dict[str, Any]] | None:
            done = [(uuid, t) for uuid, t in self.tasks_of(job_id).items() if t["succeeded"]]
            return done[0] if done else None

        found: tuple[str, dict[str, Any]] = self.poll(f"the task of job {job_id}", read)
        return found

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


@pytest.fixture
def start_flower(tmp_path: Path) -> Iterator[Callable[[float], Flower]]:
    """Start Flower on one port and one state file (each start after the last one ended)."""
    db = tmp_path / "state" / "flower.db"  # its folder is made by `imagejobs flower`
    port = free_port()
    started: list[Flower] = []

    def start(save_interval_s: float) -> Flower:
        flower = Flower(db, port, tmp_path / "flower.log", save_interval_s)
        started.append(flower)
        flower.poll("its API", lambda: flower.get("/api/tasks") is not None)
        return flower

    yield start
    for flower in started:
        if flower.proc.poll() is None:
            flower.proc.kill()
            flower.proc.wait(timeout=10)


def run_job(flower: Flower, submit: Submit, worker: WorkerProcess, task: str) -> str:
    """A job run by the worker while Flower listens; returns its id."""
    flower.poll(
        "the worker",
        lambda: set(worker.nodes) <= set(flower.get("/api/workers", refresh=1)),
    )
    job_id = submit([scene_a().encode("PNG")], task=task)
    assert wait_job(job_id)["status"] == "succeeded"
    return job_id


def wait_saved_twice(state_dir: Path) -> None:
    """Wait until every file of Flower's state was replaced twice from now on.

    Flower writes its state to temporary files and renames them over the old ones, so each save
    gives every file a new inode. The first save seen may have begun before now; the second
    began after the first ended, so it holds everything Flower had now.
    """

    def inodes() -> dict[str, int]:
        return {p.name: p.stat().st_ino for p in state_dir.iterdir() if ".tmp" not in p.name}

    seen = {name: [inode] for name, inode in inodes().items()}
    assert seen, f"no state file in {state_dir}"
    deadline = time.monotonic() + 60
    while any(len(history) < 3 for history in seen.values()):
        assert time.monotonic() < deadline, f"Flower's state was not saved twice: {seen}"
        time.sleep(0.01)  # far shorter than the save interval: no save goes unseen
        try:
            current = inodes()
        except FileNotFoundError:
            continue  # a file between two renames
        for name, inode in current.items():
            if name in seen and seen[name][-1] != inode:
                seen[name].append(inode)


def test_flower_keeps_finished_tasks_across_a_stop_and_a_kill(
    start_flower: Callable[[float], Flower],
    submit: Submit,
    worker: WorkerProcess,
    tmp_path: Path,
) -> None:
    # Saved only when it stops (the periodic save an hour away): SIGTERM must save it.
    flower = start_flower(3600)
    first = run_job(flower, submit, worker, "caption")
    uuid, record = flower.finished_task(first)
    assert record["name"] == "imagejobs.run_job caption"
    assert record["state"] == "SUCCESS"
    assert record["kwargs"] == str({"job_id": first})
    assert flower.stop(signal.SIGTERM) == 0

    flower = start_flower(0.5)
    restored = flower.poll("the restored task", lambda: flower.tasks_of(first))
    assert restored == {uuid: record}  # the same record, from the state file
    state_dir = tmp_path / "state"
    assert list(state_dir.iterdir())

    second = run_job(flower, submit, worker, "detect")
    second_uuid, second_record = flower.finished_task(second)
    assert second_record["name"] == "imagejobs.run_job detect"
    wait_saved_twice(state_dir)
    assert flower.stop(signal.SIGKILL) == -signal.SIGKILL  # no save on the way out

    flower = start_flower(0.5)
    assert flower.poll("the task of the killed Flower", lambda: flower.tasks_of(second)) == {
        second_uuid: second_record
    }
    assert flower.tasks_of(first) == {uuid: record}
    page = flower.get("/api/tasks", search=first)  # the id alone finds it too
    assert list(page) == [uuid]
    assert flower.get("/api/task/info/" + uuid)["kwargs"] == record["kwargs"]


def test_a_state_file_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for db, message in (
        (tmp_path, "is a directory: name a file"),
        (blocker / "flower.db", "cannot create the folder of Flower's state file"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "cli", "flower", "--port", str(free_port())],
            capture_output=True,
            text=True,
            env=flower_env(IMAGEJOBS_FLOWER_DB=str(db)),
            cwd=REPO,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "IMAGEJOBS_FLOWER_DB" in lines[0]
