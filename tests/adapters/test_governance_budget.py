"""Budget reservations on the real Redis: atomic under 200 threads, settled once, expiring."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
import redis

from imagejobs.core.budget import BudgetLimits, BudgetRefusal, PeriodSpend, overshoot_bound
from imagejobs.governance import BudgetStore, Reservation

QUOTE = 1_000_000  # nanos: $0.001


@pytest.fixture
def prefix() -> str:
    return "test-budget-" + secrets.token_hex(4)


def daily(nanos: int) -> BudgetLimits:
    return BudgetLimits(daily_usd=Decimal(nanos) / 10**9)


def reservation(result: Reservation | BudgetRefusal) -> Reservation:
    assert isinstance(result, Reservation), result
    return result


def test_reserve_until_the_limit_then_refuse_with_the_figures(
    client: redis.Redis, prefix: str
) -> None:
    store = BudgetStore(client, prefix=prefix)
    limits = daily(3 * QUOTE)
    held = [reservation(store.reserve("shop", QUOTE, limits)) for _ in range(3)]
    refusal = store.reserve("shop", 1, limits)
    assert refusal == BudgetRefusal("day", 3 * QUOTE, 0, 3 * QUOTE, 1)
    assert "the daily budget of $0.003000 would be exceeded" in refusal.message("shop")
    assert isinstance(store.reserve("other-producer", QUOTE, limits), Reservation)
    assert store.settle(held[0], QUOTE // 2) is True  # billed half the quote
    spend = store.spend("shop")
    assert spend["day"] == PeriodSpend(QUOTE // 2, 2 * QUOTE) and spend["reservations"] == 2
    assert spend["month"] == spend["day"]
    assert isinstance(store.reserve("shop", QUOTE // 2, limits), Reservation)  # what is left


def test_settling_twice_charges_once_and_release_spends_nothing(
    client: redis.Redis, prefix: str
) -> None:
    store = BudgetStore(client, prefix=prefix)
    limits = BudgetLimits()
    first = reservation(store.reserve("shop", QUOTE, limits))
    assert store.settle(first, 3 * QUOTE) is True
    assert store.settle(first, 3 * QUOTE) is False
    second = reservation(store.reserve("shop", QUOTE, limits))
    assert store.release(second) is True
    assert store.spend("shop")["day"] == PeriodSpend(3 * QUOTE, 0)
    free = reservation(store.reserve("shop", 0, limits))  # a zero quote is fine too
    assert store.settle(free, 0) is True


def test_the_same_reservation_id_is_reserved_once(client: redis.Redis, prefix: str) -> None:
    store = BudgetStore(client, prefix=prefix)
    for _ in range(3):
        reservation(store.reserve("shop", QUOTE, daily(10 * QUOTE), reservation_id="job-1-try-1"))
    assert store.spend("shop")["day"] == PeriodSpend(0, QUOTE)


def test_monthly_limit_counts_too(client: redis.Redis, prefix: str) -> None:
    store = BudgetStore(client, prefix=prefix)
    limits = BudgetLimits(daily_usd=Decimal(1), monthly_usd=Decimal(QUOTE) / 10**9)
    store.settle(reservation(store.reserve("shop", QUOTE, limits)), QUOTE)
    refusal = store.reserve("shop", 1, limits)
    assert isinstance(refusal, BudgetRefusal) and refusal.period == "month"
    assert refusal.spent == QUOTE and "monthly budget" in refusal.message("shop")


def test_an_unsettled_reservation_expires_and_frees_its_amount(
    client: redis.Redis, prefix: str
) -> None:
    store = BudgetStore(client, ttl_s=0.2, prefix=prefix)
    limits = daily(QUOTE)
    lost = reservation(store.reserve("shop", QUOTE, limits))  # its worker is killed
    assert isinstance(store.reserve("shop", QUOTE, limits), BudgetRefusal)
    time.sleep(0.3)
    assert store.spend("shop")["day"] == PeriodSpend(0, 0)
    late = reservation(store.reserve("shop", QUOTE // 2, limits))
    assert store.settle(lost, QUOTE // 4) is True  # a late bill is still charged
    assert store.spend("shop")["day"] == PeriodSpend(QUOTE // 4, QUOTE // 2)
    assert store.settle(late, QUOTE // 2) is True


def run_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)


def test_200_concurrent_reservations_never_overshoot_more_than_the_quote_error(
    redis_url: str, prefix: str
) -> None:
    """200 threads (own connections) reserve at once against a budget of 50 quotes, then all
    settle with bills 30 % off the quote either way: all admitted were in flight at the last
    admission, so spend <= budget + sum(billed - quoted) of the admitted."""
    limit = 50 * QUOTE
    rng = random.Random(9)
    bills = [int(QUOTE * rng.uniform(0.7, 1.3)) for _ in range(200)]
    admitted: dict[int, Reservation] = {}
    refused = 0
    guard = threading.Lock()
    reserved_all = threading.Barrier(200)

    def job(index: int) -> None:
        nonlocal refused
        connection = redis.Redis.from_url(redis_url)
        store = BudgetStore(connection, prefix=prefix)
        result = store.reserve("shop", QUOTE, daily(limit))
        with guard:
            if isinstance(result, Reservation):
                admitted[index] = result
            else:
                refused += 1
        reserved_all.wait(60)
        if isinstance(result, Reservation):
            store.settle(result, bills[index])
        connection.close()

    run_threads(200, job)
    spent = BudgetStore(redis.Redis.from_url(redis_url), prefix=prefix).spend("shop")["day"]
    error = overshoot_bound((QUOTE, bills[i]) for i in admitted)
    print(
        f"\n200 at once, budget {limit / 1e9:.3f} USD (50 quotes): {len(admitted)} admitted, "
        f"{refused} refused; spent {spent.spent / 1e9:.6f} USD, quote error of those in flight "
        f"{error / 1e9:+.6f} USD, bound {(limit + error) / 1e9:.6f} USD"
    )
    assert len(admitted) == 50 and refused == 150
    assert spent.reserved == 0 and spent.spent == sum(bills[i] for i in admitted)
    assert spent.spent <= limit + error


def interleaved_run(
    redis_url: str, prefix: str, producer: str, limit: int, high: float
) -> tuple[int, int, int]:
    """(admitted, spent, sum of bills above their quotes) of 200 threads that reserve a random
    quote, hold it a random while and settle a bill of 0.7 to ``high`` times the quote."""
    rng = random.Random(producer)
    plan = []
    for _ in range(200):
        quote = rng.randint(QUOTE // 2, 3 * QUOTE // 2)
        plan.append((quote, int(quote * rng.uniform(0.7, high)), rng.uniform(0, 0.02)))
    outcomes: list[tuple[int, int]] = []
    guard = threading.Lock()

    def job(index: int) -> None:
        connection = redis.Redis.from_url(redis_url)
        store = BudgetStore(connection, prefix=prefix)
        quote, billed, pause = plan[index]
        time.sleep(pause)
        result = store.reserve(producer, quote, daily(limit))
        if isinstance(result, Reservation):
            time.sleep(plan[-index][2])
            store.settle(result, billed)
            with guard:
                outcomes.append((quote, billed))
        connection.close()

    run_threads(200, job)
    spent = BudgetStore(redis.Redis.from_url(redis_url), prefix=prefix).spend(producer)["day"]
    assert spent.reserved == 0 and spent.spent == sum(b for _, b in outcomes)
    return len(outcomes), spent.spent, sum(max(0, b - q) for q, b in outcomes)


def test_interleaved_reservations_under_200_threads_respect_both_bounds(
    redis_url: str, prefix: str
) -> None:
    """200 threads reserve random quotes, hold them a random while, settle with random bills;
    bills never above quotes for producer 'exact', up to 30 % above for 'loose'."""
    limit = 50 * QUOTE
    figures: dict[str, tuple[int, int, int]] = {}
    for producer, high in (("exact", 1.0), ("loose", 1.3)):
        figures[producer] = interleaved_run(redis_url, prefix, producer, limit, high)
    print(
        "\n"
        + "\n".join(
            f"{name}: {n} admitted of 200, spent {s / 1e9:.6f} USD of a {limit / 1e9:.3f} USD "
            f"budget (+ at most {e / 1e9:.6f} USD of bills above quotes)"
            for name, (n, s, e) in figures.items()
        )
    )
    assert figures["exact"][1] <= limit  # bills never above quotes: never above the budget
    assert figures["loose"][1] <= limit + figures["loose"][2]


def test_bad_input_is_named(client: redis.Redis, prefix: str) -> None:
    store = BudgetStore(client, prefix=prefix)
    with pytest.raises(ValueError, match="producer name '' is not usable"):
        store.reserve("", QUOTE, BudgetLimits())
    with pytest.raises(ValueError, match="a quote must be >= 0"):
        store.reserve("shop", -1, BudgetLimits())
    with pytest.raises(ValueError, match="ttl_s must be > 0"):
        BudgetStore(client, ttl_s=0)
