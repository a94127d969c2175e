"""The metric hooks and their labels, read back from prometheus_client's registry (this process
runs it in its ordinary single-process mode); basic auth; the dashboard's metric names."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from imagejobs.broker.app import make_celery
from imagejobs.broker.depth import QUEUE_LISTS
from imagejobs.observability import metrics
from imagejobs.observability.auth import authorized, credentials
from imagejobs.observability.depth import QueueDepthCollector
from imagejobs.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "imagejobs.json"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def job_end(**changes: object) -> None:
    args: dict[str, object] = {
        "task": "detect",
        "model": "unit-model",
        "producer": "p-unit",
        "status": "succeeded",
        "error_code": None,
        "duration_s": 3.0,
        "queue_wait_s": 0.7,
        "estimated_tokens": 1200,
        "billed_prompt_tokens": 1100,
        "billed_output_tokens": 80,
        "cost_usd": 0.0012,
    }
    metrics.observe_job_end(**{**args, **changes})  # type: ignore[arg-type]


def test_observe_job_end_counts_the_job_its_times_tokens_and_cost() -> None:
    finished = {"task": "detect", "model": "unit-model", "status": "succeeded"}
    hist = {"task": "detect", "model": "unit-model"}
    tokens = {"model": "unit-model", "producer": "p-unit"}
    before = {
        "jobs": value("imagejobs_jobs_finished_total", **finished, error_code="none"),
        "runs": value("imagejobs_job_duration_seconds_count", **hist),
        "run_s": value("imagejobs_job_duration_seconds_sum", **hist),
        "fast": value("imagejobs_job_duration_seconds_bucket", **hist, le="5.0"),
        "waits": value("imagejobs_job_queue_wait_seconds_sum", **hist),
        "estimated": value("imagejobs_tokens_total", **tokens, kind="estimated"),
        "prompt": value("imagejobs_tokens_total", **tokens, kind="prompt"),
        "output": value("imagejobs_tokens_total", **tokens, kind="output"),
        "cost": value("imagejobs_cost_usd_total", **tokens),
    }
    job_end()
    job_end()
    assert value("imagejobs_jobs_finished_total", **finished, error_code="none") == (
        before["jobs"] + 2
    )
    assert value("imagejobs_job_duration_seconds_count", **hist) == before["runs"] + 2
    assert value("imagejobs_job_duration_seconds_sum", **hist) == pytest.approx(
        before["run_s"] + 6.0
    )
    assert value("imagejobs_job_duration_seconds_bucket", **hist, le="5.0") == before["fast"] + 2
    assert value("imagejobs_job_queue_wait_seconds_sum", **hist) == pytest.approx(
        before["waits"] + 1.4
    )
    assert value("imagejobs_tokens_total", **tokens, kind="estimated") == before["estimated"] + 2400
    assert value("imagejobs_tokens_total", **tokens, kind="prompt") == before["prompt"] + 2200
    assert value("imagejobs_tokens_total", **tokens, kind="output") == before["output"] + 160
    assert value("imagejobs_cost_usd_total", **tokens) == pytest.approx(before["cost"] + 0.0024)


def test_a_failed_job_without_producer_or_usage_counts_under_none() -> None:
    labels = {"task": "caption", "model": "unit-model", "status": "failed"}
    before = value("imagejobs_jobs_finished_total", **labels, error_code="gemini_400")
    waits = value("imagejobs_job_queue_wait_seconds_count", task="caption", model="unit-model")
    zero = value(
        "imagejobs_job_queue_wait_seconds_bucket", task="caption", model="unit-model", le="0.1"
    )
    job_end(
        task="caption",
        producer=None,
        status="failed",
        error_code="gemini_400",
        queue_wait_s=-2.0,  # another host's clock: counted as no wait
        estimated_tokens=None,
        billed_prompt_tokens=None,
        billed_output_tokens=0,
        cost_usd=None,
    )
    assert value("imagejobs_jobs_finished_total", **labels, error_code="gemini_400") == before + 1
    assert value("imagejobs_job_queue_wait_seconds_count", task="caption", model="unit-model") == (
        waits + 1
    )
    assert value(
        "imagejobs_job_queue_wait_seconds_bucket", task="caption", model="unit-model", le="0.1"
    ) == (zero + 1)
    assert (
        REGISTRY.get_sample_value(
            "imagejobs_tokens_total", {"model": "unit-model", "producer": "none", "kind": "output"}
        )
        is None
    )  # nothing billed: no series made


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"estimated_tokens": -1}, "estimated_tokens"),
        ({"billed_output_tokens": -5}, "billed_output_tokens"),
        ({"cost_usd": -0.1}, "cost_usd"),
        ({"task": ""}, "task"),
        ({"status": ""}, "status"),
    ],
)
def test_observe_job_end_refuses_bad_values_naming_them(
    changes: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        job_end(**changes)


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        (429, "RESOURCE_EXHAUSTED", "429"),
        (500, "INTERNAL", "5xx"),
        (503, "UNAVAILABLE", "5xx"),
        (504, "DEADLINE_EXCEEDED", "5xx"),
        (408, None, "timeout"),
        (None, "TIMEOUT", "timeout"),
        (None, "CONNECTION", "other"),
        (400, "INVALID_ARGUMENT", "other"),
        (None, "UNKNOWN", "other"),
    ],
)
def test_call_outcome(code: int | None, status: str | None, outcome: str) -> None:
    assert metrics.call_outcome(code, status) == outcome


def test_gemini_call_counts_times_and_holds_in_flight() -> None:
    model = "unit-gemini"
    before_ok = value("imagejobs_gemini_calls_total", model=model, outcome="ok")
    before_429 = value("imagejobs_gemini_calls_total", model=model, outcome="429")
    before_other = value("imagejobs_gemini_calls_total", model=model, outcome="other")
    with metrics.gemini_call(model):
        assert value("imagejobs_gemini_calls_in_flight", model=model) == 1
    with pytest.raises(RuntimeError), metrics.gemini_call(model) as call:
        call.outcome = "429"
        raise RuntimeError("quota")
    with pytest.raises(KeyError), metrics.gemini_call(model):
        raise KeyError("a bug")  # not classified: other
    assert value("imagejobs_gemini_calls_in_flight", model=model) == 0
    assert value("imagejobs_gemini_calls_total", model=model, outcome="ok") == before_ok + 1
    assert value("imagejobs_gemini_calls_total", model=model, outcome="429") == before_429 + 1
    assert value("imagejobs_gemini_calls_total", model=model, outcome="other") == before_other + 1
    assert value("imagejobs_gemini_call_duration_seconds_count", model=model, outcome="ok") >= 1


@pytest.mark.parametrize(
    ("status_code", "outcome"),
    [
        (200, "ok"),
        (204, "ok"),
        (301, "3xx"),
        (404, "4xx"),
        (410, "410"),
        (503, "5xx"),
        (None, "error"),
    ],
)
def test_webhook_outcome(status_code: int | None, outcome: str) -> None:
    assert metrics.webhook_outcome(status_code) == outcome


def test_webhook_attempts_and_final_statuses() -> None:
    before = {
        o: value("imagejobs_webhook_attempts_total", outcome=o) for o in ("5xx", "ok", "no_secret")
    }
    done = value("imagejobs_webhook_deliveries_finished_total", status="succeeded")
    metrics.observe_webhook_attempt(500, None)
    metrics.observe_webhook_attempt(200, "succeeded")
    metrics.observe_webhook_attempt(None, "failed", outcome="no_secret")
    assert value("imagejobs_webhook_attempts_total", outcome="5xx") == before["5xx"] + 1
    assert value("imagejobs_webhook_attempts_total", outcome="ok") == before["ok"] + 1
    assert value("imagejobs_webhook_attempts_total", outcome="no_secret") == before["no_secret"] + 1
    assert value("imagejobs_webhook_deliveries_finished_total", status="succeeded") == done + 1


def test_limiter_waits_and_breaker_state() -> None:
    labels = {"project": "unit-proj", "model": "unit-model"}
    waits = value("imagejobs_limiter_waits_total", **labels, reason="rpm", action="park")
    seconds = value("imagejobs_limiter_wait_seconds_total", **labels)
    metrics.observe_limiter_wait("unit-proj", "unit-model", "rpm", "park", wait_s=12.5)
    metrics.observe_limiter_wait("unit-proj", "unit-model", "tpm", wait_s=0.5)
    assert (
        value("imagejobs_limiter_waits_total", **labels, reason="rpm", action="park") == waits + 1
    )
    assert value("imagejobs_limiter_waits_total", **labels, reason="tpm", action="wait") >= 1
    assert value("imagejobs_limiter_wait_seconds_total", **labels) == pytest.approx(seconds + 13.0)
    for state, number in (("open", 2), ("half_open", 1), ("closed", 0)):
        metrics.observe_breaker_state("unit-proj", "unit-model", state)
        assert value("imagejobs_breaker_state", **labels) == number
    with pytest.raises(ValueError, match="state must be one of closed, half_open, open"):
        metrics.observe_breaker_state("unit-proj", "unit-model", "ajar")
    with pytest.raises(ValueError, match="action must be one of wait, park"):
        metrics.observe_limiter_wait("unit-proj", "unit-model", "rpm", "sleep")


def test_sweep_and_takeover_counters() -> None:
    jobs = value("imagejobs_sweeper_resends_total", kind="job")
    lost = value("imagejobs_sweeper_broker_lost_total")
    takeovers = value("imagejobs_lease_takeovers_total", task="segment")
    metrics.observe_sweep(3, 0, broker_lost=True)
    metrics.observe_lease_takeover("segment")
    assert value("imagejobs_sweeper_resends_total", kind="job") == jobs + 3
    assert value("imagejobs_sweeper_broker_lost_total") == lost + 1
    assert value("imagejobs_lease_takeovers_total", task="segment") == takeovers + 1
    assert value("imagejobs_sweeper_last_sweep_timestamp_seconds") > 0


def basic(pair: str) -> str:
    return "Basic " + base64.b64encode(pair.encode()).decode()


def test_basic_auth() -> None:
    accepted = credentials(SecretStr("prom:s3cret,other:pw2"))
    assert authorized(basic("prom:s3cret"), accepted)
    assert authorized(basic("other:pw2"), accepted)
    assert not authorized(basic("prom:wrong"), accepted)
    assert not authorized(None, accepted)
    assert not authorized("Bearer prom:s3cret", accepted)
    assert not authorized("Basic not-base64!", accepted)
    assert authorized(None, credentials(None))  # nothing set: open


def test_metrics_settings_are_checked() -> None:
    assert load_settings(metrics_port="").metrics_port is None
    assert load_settings(metrics_port="9464").metrics_port == 9464
    with pytest.raises(Exception, match="IMAGEJOBS_METRICS_PORT"):
        load_settings(metrics_port="70000")
    with pytest.raises(Exception, match="IMAGEJOBS_METRICS_BASIC_AUTH: must be user:password"):
        load_settings(metrics_basic_auth="justauser")


def test_broker_lists_match_the_celery_transport() -> None:
    options = make_celery(load_settings(broker_url="redis://127.0.0.1:1/0")).conf
    transport = options.broker_transport_options
    steps, sep = transport["priority_steps"], transport["sep"]
    assert tuple(f"imagejobs{sep}{s}" if s else "imagejobs" for s in steps) == QUEUE_LISTS


# The Grafana dashboard ------------------------------------------------------------------------

SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
}


def exposed_names() -> set[str]:
    """Every series name the metrics (and the queue-depth collector) put on /metrics."""
    names = set()
    families = [family for metric in metrics.ALL for family in metric.describe()]
    families += list(QueueDepthCollector(None, None).describe())  # type: ignore[arg-type]
    for family in families:
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def dashboard_exprs() -> list[str]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key == "expr" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(DASHBOARD.read_text()))
    return found


def test_every_dashboard_query_uses_metrics_that_exist() -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 15
    names = exposed_names()
    unknown = {}
    for expr in exprs:
        used = set(re.findall(r"\bimagejobs_[a-z0-9_]+", expr))
        assert used, f"a dashboard query uses no imagejobs metric: {expr}"
        if used - names:
            unknown[expr] = sorted(used - names)
    assert unknown == {}


def test_the_dashboard_shows_every_metric() -> None:
    shown = {
        name for expr in dashboard_exprs() for name in re.findall(r"\bimagejobs_[a-z0-9_]+", expr)
    }
    families = [family for metric in metrics.ALL for family in metric.describe()]
    families += list(QueueDepthCollector(None, None).describe())  # type: ignore[arg-type]
    missing = sorted(
        f.name for f in families if not any(f.name + s in shown for s in SUFFIXES[f.type])
    )
    assert missing == []


def test_the_readme_lists_every_metric() -> None:
    text = (REPO / "README.md").read_text()
    start = text.index("\n## Metrics\n")
    section = text[start : text.index("\n## ", start + 1)]
    listed = set(re.findall(r"`(imagejobs_[a-z0-9_]+)`", section))
    families = [family for metric in metrics.ALL for family in metric.describe()]
    families += list(QueueDepthCollector(None, None).describe())  # type: ignore[arg-type]
    missing = sorted(
        f.name
        for f in families
        if f.name not in listed and not any(f.name + s in listed for s in SUFFIXES[f.type])
    )
    assert missing == []
