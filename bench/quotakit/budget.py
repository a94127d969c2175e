"""Part (d): budgets under concurrency. Jobs submitted at once against a producer budget of a
few jobs' quoted cost: what was admitted and spent, against the budget plus the quote error of
the jobs in flight; the rest end ``budget_exceeded`` with nothing sent."""

from __future__ import annotations

import json
from decimal import Decimal

from bench.faultkit.report import ScenarioResult
from bench.faultkit.suite import Suite
from bench.quotakit.scale import MODEL, QuotaScale
from bench.quotakit.stage import JobRow, Stage, scene, statuses
from imagejobs.core.budget import (
    NANOS_PER_USD,
    PeriodSpend,
    format_usd,
    output_allowance,
    quote_nanos,
)
from imagejobs.core.jobspec import JobSpec
from imagejobs.execution.runner import run_job
from imagejobs.governance import BudgetStore
from imagejobs.runtime import Runtime
from imagejobs.settings import load_settings
from imagejobs.submission import ImageInput, submit_job

PAYER = "payer"


def calibrate(stage: Stage) -> tuple[int, int]:
    """One job of the same shape run in this process (no budget): its estimated prompt tokens
    and the quote the runner reserves for it (nanos), as ``JobRun._reserve_budget`` makes it."""
    run = stage.run
    settings = load_settings(
        database_url=run.db_url,
        broker_url=run.settings.effective_broker_url,
        blob_dir=run.folder / "blobs",
        data_dir=run.folder / "data",
        gemini_base_url=stage.emulator.base_url,
        result_cache_ttl_s=0,
    )
    runtime = Runtime.from_settings(settings)
    try:
        image = ImageInput(data=scene(10**6, stage.scale.image_side))
        job_id = submit_job(
            runtime, JobSpec(task="caption", model=MODEL), [image], enqueue=False
        ).job_id
        ended = run_job(runtime, job_id)
        if ended.status != "succeeded":
            raise RuntimeError(f"the calibration job ended {ended}")
        (row,) = stage.rows([job_id])
        tokens = int(row.estimated_tokens or 0)
        quote = quote_nanos(MODEL, tokens, output_allowance("caption", None), settings.prices)
        assert quote is not None, f"{MODEL} has no price"
        return tokens, quote
    finally:
        runtime.close()


def budget_env(quote: int, quotes: int) -> dict[str, str]:
    limit = Decimal(quote * quotes) / NANOS_PER_USD
    return {"IMAGEJOBS_BUDGETS": json.dumps({PAYER: {"daily_usd": str(limit)}})}


def run(suite: Suite, scale: QuotaScale) -> ScenarioResult:
    title = (
        f"{scale.budget_jobs} jobs at once against a budget of {scale.budget_quotes} jobs' "
        f"quoted cost; no limiter, emulator latency {scale.latency_s:g} s"
    )
    with Stage(suite, scale, "budget", title, env={}) as stage:
        tokens, quote = calibrate(stage)  # before the hosts start: they read the budget
        stage.env.update(budget_env(quote, scale.budget_quotes))
        stage.run.worker_env = stage.env
        stage.start_hosts()
        payer = stage.producer(PAYER)
        calls_before = sum(stage.calls().values())
        ids = stage.submit(range(scale.budget_jobs), producer_id=payer)
        stage.wait(ids)
        calls = sum(stage.calls().values()) - calls_before
        booked = BudgetStore(suite.redis.client()).spend(PAYER)["day"]
        figures(stage, scale, stage.rows(ids), quote, tokens, calls, booked)
        return stage.result


def usd(nanos: int) -> str:
    return format_usd(nanos) if nanos >= 0 else "-" + format_usd(-nanos)


def figures(
    stage: Stage,
    scale: QuotaScale,
    rows: list[JobRow],
    quote: int,
    tokens: int,
    calls: int,
    booked: PeriodSpend,
) -> None:
    budget = quote * scale.budget_quotes
    admitted = [row for row in rows if row.status == "succeeded"]
    refused = [row for row in rows if row.error_code == "budget_exceeded"]
    billed = [round((row.cost_usd or 0.0) * NANOS_PER_USD) for row in admitted]
    spend = sum(billed)
    error = sum(bill - quote for bill in billed)  # billed minus quoted, all were in flight
    bound = budget + max(0, error)
    result = stage.result
    result.figure("quote of one job", f"{usd(quote)} ({tokens} prompt tokens + output allowance)")
    result.figure("budget (daily_usd)", f"{usd(budget)} = {scale.budget_quotes} quotes")
    result.figure("jobs", statuses(rows))
    result.figure("admitted (sent) / refused budget_exceeded", f"{len(admitted)} / {len(refused)}")
    result.figure("Gemini calls (emulator)", calls)
    in_flight = stage.emulator.control.stats()["max_in_flight"]
    result.figure("most calls in flight at once (emulator)", in_flight)
    result.figure("spend (billed, the jobs' usage)", usd(spend))
    result.figure(
        "spent / reserved in the budget store", f"{usd(booked.spent)} / {usd(booked.reserved)}"
    )
    result.figure("quote error of the admitted jobs (billed - quoted)", usd(error))
    if refused:
        result.figure("a refusal's message", refused[0].error_message)
    result.check(
        "spend <= budget + in-flight quote error",
        spend <= bound,
        f"{usd(spend)} <= {usd(bound)}",
    )
    result.check(
        "every job admitted or refused budget_exceeded",
        len(admitted) + len(refused) == len(rows),
        statuses(rows),
    )
    result.check(
        "nothing sent for a refused job",
        calls == len(admitted) and all(row.calls == 0 for row in refused),
        f"{calls} calls for {len(admitted)} admitted",
    )
