"""``run_job`` profiled in process for caption jobs on the 1 MP JPEG (cProfile; py-spy is not
installed here), emulator latency 0 in a process of its own.

Jobs are committed first and run one after another in this thread, as a worker thread runs
them (no Celery). Printed per job: the in-process CPU without the profiler, then the top of the
profile by cumulative time and by own time. The profiler's clock is the process's CPU time, so
waiting for Gemini, Postgres or Redis does not count, only the work around it (times per job,
with the profiler's overhead).
"""

from __future__ import annotations

import cProfile
import pstats
import site
import sys
import sysconfig
import time
from pathlib import Path

from perf_emulator import EmulatorProcess
from perf_images import photo_1mp
from perf_jobs import outcome_line, submit

from imagejobs.execution.runner import run_job
from imagejobs.runtime import Runtime
from imagejobs.settings import load_settings
from imagejobs.submission import ImageInput

REPO = Path(__file__).resolve().parents[1]
_PREFIXES = sorted(
    {
        str(REPO) + "/",
        *(path + "/" for path in site.getsitepackages()),
        sysconfig.get_paths()["stdlib"] + "/",
        sys.prefix + "/",
    },
    key=len,
    reverse=True,
)


def _where(file: str, line: int, function: str) -> str:
    for prefix in _PREFIXES:
        if file.startswith(prefix):
            file = file[len(prefix) :]
            break
    return f"{function} ({file}:{line})" if line else function


def print_top(profile: cProfile.Profile, jobs: int, *, key: str, count: int) -> None:
    stats = pstats.Stats(profile)
    index = 3 if key == "cumulative" else 2  # (calls, primitive calls, own, cumulative, ...)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][index], reverse=True)  # type: ignore[attr-defined]
    print(f"  top {count} by {key} CPU, per job: calls, own ms, cumulative ms, function")
    for (file, line, function), (_, calls, own, cumulative, _) in rows[:count]:
        print(
            f"    {calls / jobs:7.1f} {own / jobs * 1000:8.3f} {cumulative / jobs * 1000:8.3f}  "
            f"{_where(file, line, function)}"
        )


def measure(tmp: Path, *, jobs: int, top: int = 20) -> None:
    image = photo_1mp()
    print(f"\n[profile] run_job in process: caption of a {len(image) // 1000} KB 1 MP JPEG")
    with EmulatorProcess(tmp / "emulator-profile.log") as emulator:
        runtime = Runtime.from_settings(load_settings(gemini_base_url=emulator.base_url))
        try:
            ids = submit("caption", [ImageInput(data=image)], 10 + 2 * jobs)
            warm, plain, profiled = ids[:10], ids[10 : 10 + jobs], ids[10 + jobs :]
            for job_id in warm:
                run_job(runtime, job_id)
            cpu = time.process_time()
            for job_id in plain:
                run_job(runtime, job_id)
            cpu = (time.process_time() - cpu) / jobs
            profile = cProfile.Profile(time.process_time)  # CPU, not waiting for answers
            profile.enable()
            for job_id in profiled:
                run_job(runtime, job_id)
            profile.disable()
        finally:
            runtime.close()
    print(f"  in-process CPU per job without the profiler: {cpu * 1000:.2f} ms")
    print(f"  jobs: {outcome_line(plain + profiled)}")
    print_top(profile, jobs, key="cumulative", count=top)
    print_top(profile, jobs, key="own", count=top // 2)
