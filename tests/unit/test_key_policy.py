"""KeyPolicy with an injected clock: rpm / tpm sliding windows, concurrency, UTC budget periods,
warnings, 429s with retry-after, and the spend ledger it reads budgets from."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from omniroute.errors import GatewayError
from omniroute.security.key_policy import (
    BUDGET_WARNING_HEADER,
    FREE_ADMISSION,
    Admission,
    KeyPolicy,
    budget_periods,
    key_limits,
)
from omniroute.store.records import ApiKeyRow, UsageRecord
from omniroute.store.spend_ledger import SpendLedger

# Wednesday 2025-01-15 12:00:00 UTC.
NOON = datetime(2025, 1, 15, 12, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, wall: float = NOON) -> None:
        self.wall = wall
        self.mono = 1000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@dataclass(frozen=True)
class Tokens:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0


def key(**limits: Any) -> ApiKeyRow:
    return ApiKeyRow(
        id="key_1",
        name="team",
        key_hash="h",
        key_hint="...abcd",
        allowed_models=(),
        created_at=0.0,
        revoked_at=None,
        **limits,
    )


class Spend:
    """A rollup reader returning fixed per-day spend, counting its calls."""

    def __init__(self, days: dict[str, float] | None = None) -> None:
        self.days = days or {}
        self.calls = 0

    def __call__(self, api_key_id: str, since: str) -> dict[str, float]:
        self.calls += 1
        return {d: c for d, c in self.days.items() if d >= since}


def policy(clock: Clock, spend: Spend | None = None, refresh_after: float = 5.0) -> KeyPolicy:
    ledger = SpendLedger(reader=spend or Spend(), refresh_after=refresh_after, monotonic=clock.monotonic)
    return KeyPolicy(ledger, clock=clock.time, monotonic=clock.monotonic)


def admit(p: KeyPolicy, k: ApiKeyRow | None, tokens: int = 0) -> Admission:
    return asyncio.run(p.admit(k, dialect="openai", estimated_tokens=tokens))


def refused(p: KeyPolicy, k: ApiKeyRow, tokens: int = 0) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        admit(p, k, tokens)
    assert info.value.status == 429
    return info.value


def test_keys_without_limits_are_not_counted() -> None:
    p = policy(Clock())
    assert admit(p, None) is FREE_ADMISSION
    assert admit(p, key()) is FREE_ADMISSION
    assert admit(p, key(rpm=0, tpm=None, daily_budget=0.0)) is FREE_ADMISSION


def test_limits_read_from_key_row_with_defaults() -> None:
    limits = key_limits(key(rpm=5, tpm=0, daily_budget=2.5, budget_warning=1.5))
    assert (limits.rpm, limits.tpm, limits.daily_budget, limits.budget_warning) == (5, None, 2.5, 0.8)
    assert limits.budgets() == [("daily", 2.5)]


def test_rpm_refuses_the_third_call_until_the_first_leaves_the_window() -> None:
    clock = Clock()
    p = policy(clock)
    k = key(rpm=2)
    admit(p, k).release(None, None)
    clock.advance(20)
    admit(p, k).release(None, None)
    clock.advance(10)
    err = refused(p, k)
    assert err.code == "key_rate_limited"
    assert err.headers["retry-after"] == "30"  # the first call leaves the window at t=60
    clock.advance(29)
    assert refused(p, k).headers["retry-after"] == "1"
    clock.advance(1)
    admit(p, k)
    # Refused calls did not take a slot: the next one waits for the second call (t=20 -> 80).
    assert refused(p, k).headers["retry-after"] == "20"


def test_concurrency_limit_counts_calls_in_flight() -> None:
    p = policy(Clock())
    k = key(max_concurrent=2)
    first, second = admit(p, k), admit(p, k)
    err = refused(p, k)
    assert err.code == "key_concurrency_limited"
    assert err.headers["retry-after"] == "1"
    first.release(None, None)
    first.release(None, None)  # a second release changes nothing
    third = admit(p, k)
    assert refused(p, k).code == "key_concurrency_limited"
    second.release(None, None)
    third.release(None, None)
    admit(p, k)


def test_tpm_admits_on_estimates_and_corrects_with_real_usage() -> None:
    clock = Clock()
    p = policy(clock)
    k = key(tpm=1000)
    first = admit(p, k, tokens=600)
    err = refused(p, k, tokens=600)
    assert err.code == "key_rate_limited" and "1000 tokens per minute" in str(err)
    assert err.headers["retry-after"] == "60"
    first.release(Tokens(input_tokens=80, output_tokens=20), 0.0)  # it really used 100
    second = admit(p, k, tokens=600)
    clock.advance(30)
    second.release(Tokens(input_tokens=500, output_tokens=100), 0.0)
    # The window holds 100 + 600 tokens: 400 more fit once the first call (100) leaves at t=60.
    err = refused(p, k, tokens=400)
    assert err.headers["retry-after"] == "30"
    assert admit(p, k, tokens=300)


def test_tpm_lets_one_oversized_call_through_an_empty_window() -> None:
    clock = Clock()
    p = policy(clock)
    k = key(tpm=100)
    big = admit(p, k, tokens=5000)
    assert refused(p, k, tokens=1).headers["retry-after"] == "60"
    big.release(None, None)  # no usage: the estimate stays counted
    clock.advance(60)
    admit(p, k, tokens=5000)


def test_budget_periods_are_utc_day_iso_week_and_calendar_month() -> None:
    periods = budget_periods(NOON)
    assert periods["daily"].start_day == "2025-01-15"
    assert periods["daily"].resets_at == datetime(2025, 1, 16, tzinfo=UTC).timestamp()
    assert periods["weekly"].start_day == "2025-01-13"  # Monday
    assert periods["weekly"].resets_at == datetime(2025, 1, 20, tzinfo=UTC).timestamp()
    assert periods["monthly"].start_day == "2025-01-01"
    assert periods["monthly"].resets_at == datetime(2025, 2, 1, tzinfo=UTC).timestamp()
    december = budget_periods(datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    assert december["monthly"].resets_at == datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    assert december["weekly"].start_day == "2024-12-30"


def test_daily_budget_warns_then_refuses_until_utc_midnight(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    spend = Spend({"2025-01-15": 0.5, "2025-01-14": 5.0})
    p = policy(clock, spend)
    k = key(daily_budget=1.0)
    assert admit(p, k).headers == ()
    spend.days["2025-01-15"] = 0.85
    clock.advance(5)  # past the ledger's refresh interval
    with caplog.at_level("WARNING", logger="omniroute.keys"):
        warned = admit(p, k)
        admit(p, k)
    assert warned.headers == ((BUDGET_WARNING_HEADER, "daily; spent=0.850000; budget=1.000000"),)
    assert len([r for r in caplog.records if "daily budget" in r.getMessage()]) == 1  # logged once
    spend.days["2025-01-15"] = 1.0
    clock.advance(5)
    err = refused(p, k)
    assert err.code == "budget_exceeded"
    assert "daily budget" in str(err) and "$1.0000" in str(err)
    assert err.headers["retry-after"] == str(12 * 3600 - 10)
    # A new UTC day: yesterday's spend no longer counts.
    clock.advance(12 * 3600)
    assert admit(p, k).headers == ()


def test_the_longest_exhausted_period_sets_retry_after() -> None:
    clock = Clock()
    p = policy(clock, Spend({"2025-01-15": 3.0, "2025-01-02": 7.0}))
    err = refused(p, key(daily_budget=2.0, weekly_budget=100.0, monthly_budget=10.0))
    assert "monthly budget" in str(err)
    assert err.headers["retry-after"] == str(int(datetime(2025, 2, 1, tzinfo=UTC).timestamp() - NOON))


def test_weekly_budget_counts_days_since_monday() -> None:
    clock = Clock()
    spend = Spend({"2025-01-12": 50.0, "2025-01-13": 4.0, "2025-01-14": 4.0})
    p = policy(clock, spend)
    k = key(weekly_budget=10.0, budget_warning=0.5)
    assert admit(p, k).headers == ((BUDGET_WARNING_HEADER, "weekly; spent=8.000000; budget=10.000000"),)
    assert p.spent("key_1") == {"daily": 0.0, "weekly": 8.0, "monthly": 58.0}


def test_recorded_but_uncommitted_spend_counts_without_a_refresh() -> None:
    clock = Clock()
    spend = Spend({"2025-01-15": 0.9})
    ledger = SpendLedger(reader=spend, refresh_after=3600, monotonic=clock.monotonic)
    p = KeyPolicy(ledger, clock=clock.time, monotonic=clock.monotonic)
    k = key(daily_budget=1.0, budget_warning=1.0)
    admit(p, k).release(Tokens(input_tokens=1), 0.2)
    assert spend.calls == 1
    ledger.add_pending(record(cost=0.2))
    assert refused(p, k).code == "budget_exceeded"
    assert spend.calls == 1  # no SQLite read on the request path while the copy is fresh
    # The writer commits: the amount moves from pending to committed, still counted once.
    with ledger.committing():
        ledger.settle([record(cost=0.2)])
    assert p.spent("key_1")["daily"] == pytest.approx(1.1)
    ledger.remove_pending([record(cost=0.2)])  # not pending any more: nothing to take back
    assert p.spent("key_1")["daily"] == pytest.approx(1.1)


def test_ledger_refreshes_committed_spend_after_the_interval() -> None:
    clock = Clock()
    spend = Spend({"2025-01-15": 0.1})
    p = policy(clock, spend, refresh_after=5.0)
    k = key(daily_budget=1.0)
    admit(p, k)
    admit(p, k)
    assert spend.calls == 1
    spend.days["2025-01-15"] = 2.0  # another worker spent
    clock.advance(5)
    assert refused(p, k).code == "budget_exceeded"
    assert spend.calls == 2


def test_dropped_records_are_taken_back_from_pending() -> None:
    ledger = SpendLedger(reader=Spend())
    ledger.add_pending(record(cost=0.5))
    ledger.add_pending(record(cost=0.25))
    assert ledger.day_totals("key_1") == {"2025-01-15": 0.75}
    ledger.remove_pending([record(cost=0.5), record(cost=0.25)])
    assert ledger.day_totals("key_1") == {}
    assert ledger.add_pending(record(cost=0.0)) is False
    assert ledger.add_pending(record(cost=None)) is False


def record(cost: float | None, ts: float = NOON) -> UsageRecord:
    return UsageRecord(
        ts=ts,
        request_id="req",
        api_key_id="key_1",
        route="/v1/chat/completions",
        client_dialect="openai",
        provider="openai",
        connection_id=1,
        requested_model="gpt-4o",
        model="gpt-4o",
        stream=False,
        status=200,
        outcome="success",
        latency_ms=1.0,
        ttft_ms=None,
        cost_usd=cost,
    )
