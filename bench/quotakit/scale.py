"""How big a run of bench/quota.py is: ``full`` (issue 9's sizes) or ``quick`` (development)."""

from __future__ import annotations

from dataclasses import dataclass

MODEL = "gemini-3.8-flash"  # every job's model (the default one)
FALLBACK = "gemini-2.5-flash-lite"  # the fallback named by the breaker part's rescued jobs


@dataclass(frozen=True)
class QuotaScale:
    name: str
    hosts: int  # separate `imagejobs worker` processes, as separate hosts would be
    threads: int  # threads of each
    latency_s: float  # the emulator's answer time
    rpm: int  # the emulator's quota (per model) and the limiter's
    headroom: float  # the share of the quota the limiter aims at
    image_side: int
    limiter_jobs: int
    baseline_jobs: int  # the same run without the limiter
    fair_a: int  # producer A's backlog
    fair_b: int  # producer B's jobs, submitted after A's
    fair_baseline_cap_s: float  # the unfair baseline stops waiting for B after this long
    breaker_jobs: int  # half of them name a fallback model
    outage_s: float  # 100 % 503 on MODEL for this long
    outage_after_s: float  # the outage starts this long after the first submit
    probe_interval_s: float
    budget_jobs: int
    budget_quotes: int  # the budget is this many jobs' quoted cost
    cache_jobs: int
    cache_images: int


FULL = QuotaScale(
    name="full",
    hosts=3,
    threads=100,
    latency_s=2.0,
    rpm=600,
    headroom=0.97,
    image_side=128,
    limiter_jobs=1500,
    baseline_jobs=750,
    fair_a=3000,
    fair_b=30,
    fair_baseline_cap_s=180,
    breaker_jobs=300,
    outage_s=60,
    outage_after_s=5,
    probe_interval_s=10,
    budget_jobs=200,
    budget_quotes=50,
    cache_jobs=1000,
    cache_images=100,
)

QUICK = QuotaScale(
    name="quick",
    hosts=3,
    threads=20,
    latency_s=0.5,
    rpm=240,
    headroom=0.97,
    image_side=96,
    limiter_jobs=120,
    baseline_jobs=80,
    fair_a=300,
    fair_b=10,
    fair_baseline_cap_s=90,
    breaker_jobs=60,
    outage_s=10,
    outage_after_s=3,
    probe_interval_s=2,
    budget_jobs=40,
    budget_quotes=10,
    cache_jobs=100,
    cache_images=10,
)
