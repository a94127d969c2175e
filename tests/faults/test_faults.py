"""The fault suite's short form: every scenario of bench/faults.py, small.

Each scenario runs in its own process (``bench/faults.py --scenario NAME``) on the suite's own
redis-server and Postgres cluster, so it can kill, wipe and restart them without touching the
servers the rest of the test run shares, and so its environment is set before imagejobs reads
any setting. The test asserts the scenario's invariants (0 lost, 0 duplicate result sets, and
each scenario's own: 0 extra Gemini calls across a Postgres restart, workers alive after a Redis
wipe, …). Timed targets are printed with the figures, not asserted.

Run only these with ``pytest -m faults``, or leave them out with ``-m "not faults"``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.faultkit.catalog import SCENARIOS
from bench.faultkit.report import ScenarioResult, format_result
from bench.faultkit.suite import cleanup_leftovers
from tests.services import REPO

pytestmark = pytest.mark.faults

BENCH = REPO / "bench" / "faults.py"
RUN_TIMEOUT_S = 180.0  # a short scenario takes well under a minute; this only bounds a hang
STOP_GRACE_S = 60.0  # after SIGTERM the suite stops its workers and servers


def run_scenario(name: str, tmp_path: Path) -> ScenarioResult:
    work = tmp_path / "suite"  # kept: the worker logs are there when a check fails
    figures = tmp_path / "result.json"
    command = [sys.executable, str(BENCH), "--scenario", name, "--json", str(figures)]
    command += ["--work-dir", str(work), "--keep"]
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its whole group can be killed if it does not stop
    )
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate(timeout=30)
            cleanup_leftovers(work)
        text = output.decode(errors="replace")
        pytest.fail(f"scenario {name} still running after {RUN_TIMEOUT_S:g} s:\n{text[-6000:]}")
    text = output.decode(errors="replace")
    print(text)
    if not figures.exists():
        pytest.fail(f"scenario {name} wrote no results (exit {proc.returncode}):\n{text[-6000:]}")
    (result,) = json.loads(figures.read_text())
    return ScenarioResult.from_dict(result)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_scenario_keeps_its_invariants(name: str, tmp_path: Path) -> None:
    result = run_scenario(name, tmp_path)
    broken = [check for check in result.checks if not check.ok and not check.timed]
    assert result.checks, format_result(result)
    assert not broken, (
        "; ".join(f"{check.name} ({check.detail})" for check in broken)
        + "\n"
        + format_result(result)
    )
