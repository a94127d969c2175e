"""A worker host's metrics: child processes counting into one multiprocess folder, summed by the
registry the supervisor serves; a dead child's live gauges dropped, its counters kept; the
endpoint over HTTP with and without basic auth; the supervisor telling each child's exit."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from imagejobs.observability.auth import credentials
from imagejobs.observability.multiproc import ENV, MetricsDir
from imagejobs.observability.server import MetricsEndpoint
from imagejobs.settings import load_settings
from tests.unit.test_supervisor import Host
from worker.metrics import host_metrics

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os, sys
    from imagejobs.observability import metrics
    calls = int(sys.argv[1])
    for _ in range(calls):
        with metrics.gemini_call("mp-model"):
            pass
    metrics.GEMINI_IN_FLIGHT.labels("mp-model").inc()  # one call still waiting at exit
    metrics.observe_job_end("caption", "mp-model", None, "succeeded", None, 1.0, 0.5,
                            10, 20, 5, 0.25)
    print(os.getpid())
    """
)


def run_child(folder: MetricsDir, calls: int) -> int:
    env = {**os.environ, **folder.child_env()}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(calls)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_children_counts_add_up_and_a_dead_childs_live_gauge_goes(tmp_path: Path) -> None:
    folder = MetricsDir.prepare(tmp_path / "metrics")
    first, second = run_child(folder, 3), run_child(folder, 4)
    registry = folder.registry()
    ok = {"model": "mp-model", "outcome": "ok"}
    assert sample(registry, "imagejobs_gemini_calls_total", **ok) == 7
    assert sample(registry, "imagejobs_gemini_call_duration_seconds_count", **ok) == 7
    assert sample(registry, "imagejobs_gemini_calls_in_flight", model="mp-model") == 2
    finished = {"task": "caption", "model": "mp-model", "status": "succeeded"}
    assert sample(registry, "imagejobs_jobs_finished_total", **finished, error_code="none") == 2
    tokens = {"model": "mp-model", "producer": "none"}
    assert sample(registry, "imagejobs_tokens_total", **tokens, kind="prompt") == 40
    assert sample(registry, "imagejobs_cost_usd_total", **tokens) == 0.5

    folder.process_dead(first)
    assert sample(registry, "imagejobs_gemini_calls_in_flight", model="mp-model") == 1
    folder.process_dead(second)
    assert sample(registry, "imagejobs_gemini_calls_in_flight", model="mp-model") is None
    assert sample(registry, "imagejobs_gemini_calls_total", **ok) == 7  # counters stay


def test_a_configured_folder_is_emptied_of_metric_files_at_start(tmp_path: Path) -> None:
    configured = tmp_path / "metrics"
    configured.mkdir()
    (configured / "counter_123.db").write_bytes(b"stale")
    (configured / "README").write_text("not ours")
    folder = MetricsDir.prepare(configured)
    assert sorted(p.name for p in configured.iterdir()) == ["README"]
    folder.close()
    assert configured.is_dir()  # configured: kept


def test_a_temporary_folder_is_removed_at_close() -> None:
    folder = MetricsDir.prepare(None)
    assert folder.path.is_dir() and folder.owned
    folder.close()
    assert not folder.path.exists()


def test_an_unusable_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="IMAGEJOBS_METRICS_DIR"):
        MetricsDir.prepare(blocker / "metrics")


def test_the_endpoint_serves_metrics_and_asks_for_basic_auth_when_set(tmp_path: Path) -> None:
    folder = MetricsDir.prepare(tmp_path / "metrics")
    run_child(folder, 2)
    accepted = credentials(SecretStr("prom:pw"))
    endpoint = MetricsEndpoint(folder.registry(), "127.0.0.1", 0, accepted).start()
    try:
        url = f"http://127.0.0.1:{endpoint.port}"
        refused = httpx.get(f"{url}/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic")
        good = "Basic " + base64.b64encode(b"prom:pw").decode()
        answer = httpx.get(f"{url}/metrics", headers={"Authorization": good})
        assert answer.status_code == 200
        assert 'imagejobs_gemini_calls_total{model="mp-model",outcome="ok"} 2.0' in answer.text
        assert httpx.get(f"{url}/other", headers={"Authorization": good}).status_code == 404
    finally:
        endpoint.stop()


def test_host_metrics_off_without_a_port() -> None:
    with host_metrics(load_settings(metrics_port=None), children=True) as metrics:
        assert metrics.endpoint is None
        assert metrics.child_env() == {}
        metrics.child_exited(12345)  # nothing to do


def test_host_metrics_for_children_names_the_folder_and_unsets_their_port() -> None:
    settings = load_settings(metrics_port=0)
    with host_metrics(settings, children=True) as metrics:
        env = metrics.child_env()
        assert env["IMAGEJOBS_METRICS_PORT"] == ""  # a child must not serve it too
        folder = Path(env[ENV])
        assert folder.is_dir()
        assert metrics.endpoint is not None
        port = metrics.endpoint.port
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
    assert not folder.exists()  # the temporary folder goes with the supervisor
    assert load_settings(**{"metrics_port": env["IMAGEJOBS_METRICS_PORT"]}).metrics_port is None


def test_a_port_in_use_is_a_settings_error_naming_the_setting() -> None:
    settings = load_settings(metrics_port=0)
    with host_metrics(settings, children=False) as metrics:
        assert metrics.endpoint is not None
        taken = load_settings(metrics_port=metrics.endpoint.port)
        with (
            pytest.raises(Exception, match="IMAGEJOBS_METRICS_PORT"),
            host_metrics(taken, children=True),
        ):
            pass


def test_the_supervisor_tells_each_childs_exit() -> None:
    host = Host()
    exited: list[int] = []
    sup = host.supervisor(2, base_s=1.0)
    sup.on_exit = exited.append
    first, second = host.spawned[0][1], host.spawned[1][1]
    host.now = 100.0
    first.code = -9
    assert sup.check()
    assert exited == [first.pid]
    assert sup.check()  # waiting for the restart: not told again
    assert exited == [first.pid]
    host.now = 102.0
    assert sup.check()  # started again
    restarted = host.spawned[2][1]
    sup.signal_all(15)
    assert sup.wait() == 0
    assert sorted(exited) == sorted([first.pid, second.pid, restarted.pid])
