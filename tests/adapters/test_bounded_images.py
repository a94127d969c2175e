"""A job's images are not all held in memory: past ``IMAGEJOBS_INLINE_LIMIT_BYTES`` an image's
bytes are let go once checked and read back from the blob store when sent (in this process, on
real Postgres and the emulator through the real SDK)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image

from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.execution.images import load_all
from imagejobs.execution.runner import run_job
from imagejobs.runtime import Runtime
from imagejobs.store.images import job_images
from imagejobs.store.migrate import migrate
from imagejobs.submission import ImageInput, submit_job
from tests.adapters.test_runner_inprocess import generate_calls, load, make_runtime
from tests.services import fresh_database

LIMIT = 300_000


def noisy_png(seed: int, side: int = 160) -> bytes:
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()  # ~77 KB of noise, does not compress


def runtime_for(tmp_path: Path, emulator: EmulatorServer) -> Runtime:
    url = fresh_database("bounded_images")
    migrate(url)
    emulator.control.reset()
    return make_runtime(url, emulator, tmp_path, inline_limit_bytes=LIMIT, result_cache_ttl_s=0)


def submit(runtime: Runtime, task: str, count: int) -> str:
    images = [ImageInput(data=noisy_png(n)) for n in range(count)]
    return submit_job(runtime, JobSpec(task=task), images, enqueue=False).job_id


def test_loading_holds_at_most_the_inline_limit(tmp_path: Path, emulator: EmulatorServer) -> None:
    runtime = runtime_for(tmp_path, emulator)
    job_id = submit(runtime, "caption", 20)
    with runtime.db.session() as session:
        rows = job_images(session, job_id)
        job = load(runtime.settings.effective_database_url, job_id)
    images = load_all(runtime, job, rows)
    held = sum(image.sent_size for image in images if image.held is not None)
    assert len(images) == 20 and 0 < held <= LIMIT
    assert any(image.held is None for image in images)
    first_released = next(image for image in images if image.held is None)
    assert first_released.data(runtime) == noisy_png(first_released.position)  # read back


def test_a_caption_job_over_the_limit_goes_through_the_files_api(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    runtime = runtime_for(tmp_path, emulator)
    job_id = submit(runtime, "caption", 12)  # ~0.9 MB, three times the inline limit
    assert run_job(runtime, job_id).status == "succeeded"
    assert generate_calls(emulator) == 1
    with runtime.db.session() as session:
        transports = [row.transport for row, _ in job_images(session, job_id)]
    assert transports.count("file") >= 8 and len(transports) == 12


def test_a_detect_job_sends_each_image_in_its_own_call(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    runtime = runtime_for(tmp_path, emulator)
    job_id = submit(runtime, "detect", 8)
    assert run_job(runtime, job_id).status == "succeeded"
    assert generate_calls(emulator) == 8
    with runtime.db.session() as session:
        rows = job_images(session, job_id)
    assert [row.transport for row, _ in rows] == ["inline"] * 8
    assert all(row.sent_bytes for row, _ in rows)
