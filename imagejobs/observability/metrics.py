"""Every metric imagejobs exposes, and the hooks that count into them.

The metrics live on prometheus_client's default registry. In a worker host's children the
client runs in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the supervisor, see
:mod:`imagejobs.observability.multiproc`), so each gauge names how the children's values are
combined. The queue depth is not here: it is read at scrape time
(:mod:`imagejobs.observability.depth`).

Hooks never change the work they watch: they only count. The ones called by code owned elsewhere
(the runner, quota governance) are :func:`observe_job_end`, :func:`observe_lease_takeover`,
:func:`observe_limiter_wait` and :func:`observe_breaker_state`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

NONE = "none"  # the label value for "no producer" and "no error code"

# Buckets, in seconds.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CALL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0)
JOB_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
WAIT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)

# The API ---------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "imagejobs_http_requests",
    "HTTP requests answered by the API, by method, route template and status code",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "imagejobs_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)
JOBS_ACCEPTED = Counter(
    "imagejobs_jobs_accepted",
    "Jobs created by POST /v1/jobs (idempotent replays not counted), by task and producer id",
    ["task", "producer"],
)

# Jobs, counted by the runner through observe_job_end -----------------------------------------

JOBS_FINISHED = Counter(
    "imagejobs_jobs_finished",
    "Jobs that reached a final status, by task, model, status and error code",
    ["task", "model", "status", "error_code"],
)
JOB_DURATION = Histogram(
    "imagejobs_job_duration_seconds",
    "Run time of the attempt that finished a job (claim to final write)",
    ["task", "model"],
    buckets=JOB_BUCKETS,
)
JOB_QUEUE_WAIT = Histogram(
    "imagejobs_job_queue_wait_seconds",
    "Time from a job's submission to the claim of the attempt that finished it",
    ["task", "model"],
    buckets=WAIT_BUCKETS,
)
TOKENS = Counter(
    "imagejobs_tokens",
    "Tokens of finished jobs: kind=estimated (the quote), prompt and output (billed)",
    ["model", "producer", "kind"],
)
COST = Counter(
    "imagejobs_cost_usd",
    "Cost in USD of finished jobs' billed tokens, by model and producer id",
    ["model", "producer"],
)

# Gemini ----------------------------------------------------------------------------------------

GEMINI_CALLS = Counter(
    "imagejobs_gemini_calls",
    "generateContent calls by model and outcome (ok, 429, 5xx, timeout, other)",
    ["model", "outcome"],
)
GEMINI_DURATION = Histogram(
    "imagejobs_gemini_call_duration_seconds",
    "Latency of generateContent calls, by model and outcome",
    ["model", "outcome"],
    buckets=CALL_BUCKETS,
)
GEMINI_IN_FLIGHT = Gauge(
    "imagejobs_gemini_calls_in_flight",
    "generateContent calls waiting for their answer now",
    ["model"],
    multiprocess_mode="livesum",
)
FILE_UPLOADS = Counter(
    "imagejobs_files_uploads",
    "Files API uploads (outcome ok: ACTIVE and recorded; error: the upload failed)",
    ["outcome"],
)
FILE_REUSES = Counter(
    "imagejobs_files_reuses",
    "Images sent as an earlier upload of the same bytes instead of a new upload",
)

# Leases, the sweeper and webhooks --------------------------------------------------------------

LEASE_TAKEOVERS = Counter(
    "imagejobs_lease_takeovers",
    "Jobs claimed from a worker whose lease had expired (a crash, or a lease too short)",
    ["task"],
)
LEASES_LOST = Counter(
    "imagejobs_leases_lost",
    "Running jobs whose worker found its lease taken over (when=outage: after a DB outage)",
    ["when"],
)
SWEEPER_RESENDS = Counter(
    "imagejobs_sweeper_resends",
    "Messages the sweeper sent again: kind=job (parked and due, unsent, lease expired), delivery",
    ["kind"],
)
SWEEPER_BROKER_LOST = Counter(
    "imagejobs_sweeper_broker_lost",
    "Times the sweeper found the broker had lost its messages, with queued jobs to send again",
)
SWEEPER_ERRORS = Counter("imagejobs_sweeper_errors", "Sweeps that failed (retried next interval)")
SWEEPER_LAST_SWEEP = Gauge(
    "imagejobs_sweeper_last_sweep_timestamp_seconds",
    "Unix time of each live worker process's last completed sweep",
    multiprocess_mode="liveall",
)
WEBHOOK_ATTEMPTS = Counter(
    "imagejobs_webhook_attempts",
    "Webhook delivery attempts by outcome (ok, 3xx, 4xx, 410, 5xx, error, no_secret)",
    ["outcome"],
)
WEBHOOK_FINISHED = Counter(
    "imagejobs_webhook_deliveries_finished",
    "Webhook deliveries that ended, by status (succeeded, failed, disabled)",
    ["status"],
)

# Quota governance ------------------------------------------------------------------------------

LIMITER_WAITS = Counter(
    "imagejobs_limiter_waits",
    "Calls the shared limiter held back, by project, model, reason and action (wait, park)",
    ["project", "model", "reason", "action"],
)
LIMITER_WAIT_SECONDS = Counter(
    "imagejobs_limiter_wait_seconds",
    "Seconds calls were told to wait by the shared limiter",
    ["project", "model"],
)
BREAKER_STATE = Gauge(
    "imagejobs_breaker_state",
    "Circuit breaker per (project, model) as last seen: 0 closed, 1 half_open, 2 open",
    ["project", "model"],
    multiprocess_mode="mostrecent",
)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
LIMITER_ACTIONS = ("wait", "park")

ALL = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    JOBS_ACCEPTED,
    JOBS_FINISHED,
    JOB_DURATION,
    JOB_QUEUE_WAIT,
    TOKENS,
    COST,
    GEMINI_CALLS,
    GEMINI_DURATION,
    GEMINI_IN_FLIGHT,
    FILE_UPLOADS,
    FILE_REUSES,
    LEASE_TAKEOVERS,
    LEASES_LOST,
    SWEEPER_RESENDS,
    SWEEPER_BROKER_LOST,
    SWEEPER_ERRORS,
    SWEEPER_LAST_SWEEP,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_FINISHED,
    LIMITER_WAITS,
    LIMITER_WAIT_SECONDS,
    BREAKER_STATE,
)


# Hooks -----------------------------------------------------------------------------------------


def _count(name: str, value: int | float | None) -> float:
    if value is None:
        return 0.0
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


def _label(name: str, value: str) -> str:
    if not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def observe_job_end(
    task: str,
    model: str,
    producer: str | None,
    status: str,
    error_code: str | None,
    duration_s: float | None,
    queue_wait_s: float | None,
    estimated_tokens: int | None,
    billed_prompt_tokens: int | None,
    billed_output_tokens: int | None,
    cost_usd: float | None,
) -> None:
    """Count one job that reached a final status (call once, after its final write).

    ``producer`` is the job's producer id (None: ``none``); ``error_code`` None is ``none``.
    Durations below 0 (clocks of two hosts) count as 0; None skips that histogram. Token counts
    and the cost must be >= 0 (None or 0: nothing added); otherwise ValueError names the argument.
    """
    task, model, status = _label("task", task), _label("model", model), _label("status", status)
    counts = {
        "estimated": _count("estimated_tokens", estimated_tokens),
        "prompt": _count("billed_prompt_tokens", billed_prompt_tokens),
        "output": _count("billed_output_tokens", billed_output_tokens),
    }
    cost = _count("cost_usd", cost_usd)
    who = producer or NONE
    JOBS_FINISHED.labels(task, model, status, error_code or NONE).inc()
    if duration_s is not None:
        JOB_DURATION.labels(task, model).observe(max(0.0, duration_s))
    if queue_wait_s is not None:
        JOB_QUEUE_WAIT.labels(task, model).observe(max(0.0, queue_wait_s))
    for kind, amount in counts.items():
        if amount:
            TOKENS.labels(model, who, kind).inc(amount)
    if cost:
        COST.labels(model, who).inc(cost)


def observe_job_accepted(task: str, producer: str | None) -> None:
    JOBS_ACCEPTED.labels(_label("task", task), producer or NONE).inc()


def observe_lease_takeover(task: str) -> None:
    """A claim took a job whose lease had expired (the claimer calls this)."""
    LEASE_TAKEOVERS.labels(_label("task", task)).inc()


def observe_limiter_wait(
    project: str, model: str, reason: str, action: str = "wait", wait_s: float = 0.0
) -> None:
    """The shared limiter said Wait: ``reason`` as the limiter names it (rpm, tpm, rpd,
    concurrency, retry_delay), ``action`` what the worker did (``wait`` in the thread, or
    ``park`` the job), ``wait_s`` how long it was told to wait."""
    if action not in LIMITER_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(LIMITER_ACTIONS)}, got {action!r}")
    labels = (_label("project", project), _label("model", model))
    LIMITER_WAITS.labels(*labels, _label("reason", reason), action).inc()
    seconds = _count("wait_s", wait_s)
    if seconds:
        LIMITER_WAIT_SECONDS.labels(*labels).inc(seconds)


def observe_breaker_state(project: str, model: str, state: str) -> None:
    """The breaker of (project, model) is in ``state`` (closed, half_open, open) as of now."""
    if state not in BREAKER_STATES:
        raise ValueError(f"state must be one of {', '.join(BREAKER_STATES)}, got {state!r}")
    BREAKER_STATE.labels(_label("project", project), _label("model", model)).set(
        BREAKER_STATES[state]
    )


def call_outcome(code: int | None, status: str | None) -> str:
    """The outcome label of a failed Gemini call: 429, 5xx, timeout or other."""
    if code == 429:
        return "429"
    if code is not None and code >= 500:
        return "5xx"
    if code == 408 or (code is None and status == "TIMEOUT"):
        return "timeout"
    return "other"


@dataclass
class GeminiCall:
    """The outcome of the call being timed (``ok`` unless the caller says otherwise)."""

    outcome: str = "ok"


@contextmanager
def gemini_call(model: str) -> Iterator[GeminiCall]:
    """Time one generateContent call, counting it in flight meanwhile. An exception that leaves
    the block with ``outcome`` still ``ok`` counts as ``other``."""
    call = GeminiCall()
    in_flight = GEMINI_IN_FLIGHT.labels(model)
    in_flight.inc()
    started = time.perf_counter()
    try:
        yield call
    except BaseException:
        if call.outcome == "ok":
            call.outcome = "other"
        raise
    finally:
        in_flight.dec()
        GEMINI_CALLS.labels(model, call.outcome).inc()
        GEMINI_DURATION.labels(model, call.outcome).observe(time.perf_counter() - started)


def webhook_outcome(status_code: int | None) -> str:
    """The outcome label of a webhook attempt: ok (2xx), 3xx, 4xx, 410, 5xx or error (none)."""
    if status_code is None:
        return "error"
    if 200 <= status_code < 300:
        return "ok"
    if status_code == 410:
        return "410"
    return f"{min(5, max(1, status_code // 100))}xx"


def observe_webhook_attempt(
    status_code: int | None, final: str | None, *, outcome: str | None = None
) -> None:
    """One delivery attempt (``status_code`` None: no answer; ``outcome`` names one that was
    not sent, e.g. ``no_secret``); ``final``: the status it ended the delivery with, if it did."""
    WEBHOOK_ATTEMPTS.labels(outcome or webhook_outcome(status_code)).inc()
    if final is not None:
        WEBHOOK_FINISHED.labels(final).inc()


def observe_sweep(jobs_sent: int, deliveries_sent: int, broker_lost: bool) -> None:
    if jobs_sent:
        SWEEPER_RESENDS.labels("job").inc(jobs_sent)
    if deliveries_sent:
        SWEEPER_RESENDS.labels("delivery").inc(deliveries_sent)
    if broker_lost:
        SWEEPER_BROKER_LOST.inc()
    SWEEPER_LAST_SWEEP.set(time.time())
