"""Outbound limits per account (`omniroute.resilience.limits`): header parsing, waiting with a
timeout, learned blocks, per-account overrides and the health snapshot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from omniroute.resilience.limits import (
    LearnedLimits,
    LimitConfig,
    LimitOverrides,
    OutboundLimits,
    parse_duration_ms,
    parse_rate_limit_headers,
    resolve_config,
)

WALL_NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@dataclass
class FakeTime:
    """A monotonic clock that only moves when someone sleeps on it."""

    now: float = 1_000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0, "busy spin"
        self.sleeps.append(seconds)
        self.now += seconds


def fake_limits(
    default: LimitConfig, fake: FakeTime, overrides: Mapping[str, LimitOverrides] | None = None
) -> OutboundLimits:
    return OutboundLimits(default, overrides, clock=fake, wall_clock=lambda: WALL_NOW, sleep=fake.sleep)


OFF = LimitConfig(rpm=0, min_gap_ms=0, max_concurrent=0)


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1s", 1_000),
        ("6m0s", 360_000),
        ("20ms", 20),
        ("1h2m3.5s", 3_723_500),
        ("0.5s", 500),
        ("59.123s", 59_123),
        ("1m30.0001s", 90_001),  # rounded up to whole ms
        ("250us", 1),
        ("250µs", 1),
        ("1500ns", 1),
        ("0s", 0),
        (" 2s ", 2_000),
        ("2", 2_000),  # bare seconds
        ("1.25", 1_250),
        ("", None),
        ("s", None),
        ("1x", None),
        ("1s2", None),
        ("-1s", None),
        ("1 s", None),
        ("soon", None),
    ],
)
def test_parse_duration_ms(text: str, ms: int | None) -> None:
    assert parse_duration_ms(text) == ms


def test_openai_headers_case_insensitive() -> None:
    learned = parse_rate_limit_headers(
        {
            "X-RateLimit-Limit-Requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "X-RATELIMIT-RESET-REQUESTS": "6m0s",
            "x-ratelimit-remaining-tokens": "0",  # token limits are not request limits
            "x-ratelimit-reset-tokens": "1h",
        },
        wall_now=WALL_NOW,
    )
    assert learned == LearnedLimits(remaining=0, limit=500, reset_after_ms=360_000)


def test_anthropic_headers_use_rfc3339_resets() -> None:
    learned = parse_rate_limit_headers(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2025-03-01T12:00:07.250Z",
        },
        wall_now=WALL_NOW,
    )
    assert learned == LearnedLimits(remaining=49, limit=50, reset_after_ms=7_250)
    offset = parse_rate_limit_headers(
        {"anthropic-ratelimit-requests-reset": "2025-03-01T13:00:30+01:00"}, wall_now=WALL_NOW
    )
    assert offset.reset_after_ms == 30_000
    past = parse_rate_limit_headers(
        {"anthropic-ratelimit-requests-reset": "2025-03-01T11:59:00Z"}, wall_now=WALL_NOW
    )
    assert past.reset_after_ms == 0


@pytest.mark.parametrize(
    ("headers", "retry_after_ms"),
    [
        ({"Retry-After": "2"}, 2_000),
        ({"retry-after": "1.5"}, 1_500),
        ({"retry-after": "0"}, 0),
        ({"retry-after": format_datetime(datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)}, 30_000),
        ({"retry-after": "Sat, 01 Mar 2025 11:00:00 GMT"}, 0),  # in the past
        ({"retry-after-ms": "250"}, 250),
        ({"retry-after-ms": "12.2"}, 13),
        ({"retry-after-ms": "250", "retry-after": "30"}, 250),  # the precise one wins
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3_000),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": "-5"}, None),
        ({"retry-after": "Mon, 99 Feb 2025 00:00:00 GMT"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], retry_after_ms: int | None) -> None:
    assert parse_rate_limit_headers(headers, wall_now=WALL_NOW).retry_after_ms == retry_after_ms


def test_garbage_values_are_ignored() -> None:
    learned = parse_rate_limit_headers(
        {
            "x-ratelimit-remaining-requests": "-1",
            "x-ratelimit-limit-requests": "lots",
            "x-ratelimit-reset-requests": "whenever",
            "anthropic-ratelimit-requests-reset": "not a date",
            "anthropic-ratelimit-requests-limit": "1e3",
        },
        wall_now=WALL_NOW,
    )
    assert learned.empty
    huge = parse_rate_limit_headers({"x-ratelimit-limit-requests": "9" * 40}, wall_now=WALL_NOW)
    assert huge.limit == 2**64 - 1


def test_multidict_headers() -> None:
    from multidict import CIMultiDict

    headers = CIMultiDict([("X-Ratelimit-Remaining-Requests", "0"), ("x-ratelimit-reset-requests", "20ms")])
    learned = parse_rate_limit_headers(headers, wall_now=WALL_NOW)
    assert (learned.remaining, learned.reset_after_ms) == (0, 20)


# --- acquiring -----------------------------------------------------------------------------


def test_acquire_sleeps_the_hints_and_times_out() -> None:
    fake = FakeTime()
    limits = fake_limits(LimitConfig(rpm=0, min_gap_ms=400, max_concurrent=0), fake)

    async def scenario() -> None:
        assert await limits.acquire("a", timeout=0)
        assert not await limits.acquire("a", timeout=0)  # one try, no sleep
        assert fake.sleeps == []
        assert not await limits.acquire("a", timeout=0.25)
        assert fake.sleeps == [0.25]  # the 400 ms hint, cut at the timeout
        assert await limits.acquire("a", timeout=1.0)
        assert fake.sleeps == [0.25, 0.15]  # exactly the rest of the gap

    asyncio.run(scenario())


def test_acquire_polls_while_slots_are_full() -> None:
    fake = FakeTime()
    limits = fake_limits(LimitConfig(rpm=0, min_gap_ms=0, max_concurrent=1), fake)

    async def scenario() -> None:
        assert await limits.acquire("a", timeout=1)
        assert not await limits.acquire("a", timeout=0.2)
        assert fake.sleeps == [0.05, 0.05, 0.05, 0.05]
        limits.release("a")
        assert await limits.acquire("a", timeout=0.2)

    asyncio.run(scenario())


def test_acquire_real_clock_waits_for_a_release() -> None:
    limits = OutboundLimits(LimitConfig(rpm=0, min_gap_ms=0, max_concurrent=1))

    async def scenario() -> None:
        assert await limits.acquire("a", timeout=1)
        started = time.monotonic()
        assert not await limits.acquire("a", timeout=0.12)
        assert time.monotonic() - started >= 0.1
        waiter = asyncio.ensure_future(limits.acquire("a", timeout=2))
        await asyncio.sleep(0.06)
        assert not waiter.done()
        limits.release("a")
        assert await waiter
        assert limits.snapshot()["a"]["in_flight"] == 1

    asyncio.run(scenario())


def test_rpm_admits_exactly_rpm_per_minute() -> None:
    fake = FakeTime()
    limits = fake_limits(LimitConfig(rpm=3, min_gap_ms=0, max_concurrent=0), fake)

    async def scenario() -> None:
        for _ in range(3):
            assert await limits.acquire("a", timeout=0)
            limits.release("a")
        assert not await limits.acquire("a", timeout=59.9)
        assert await limits.acquire("a", timeout=1)
        assert fake.now == pytest.approx(1_060.0)

    asyncio.run(scenario())


def test_release_of_unknown_or_idle_key_is_harmless() -> None:
    limits = OutboundLimits(LimitConfig(rpm=0, min_gap_ms=0, max_concurrent=1))
    limits.release("never-seen")
    assert limits.snapshot() == {}

    async def scenario() -> None:
        assert await limits.acquire("a", timeout=0)
        limits.release("a")
        limits.release("a")
        assert await limits.acquire("a", timeout=0)
        assert not await limits.acquire("a", timeout=0)

    asyncio.run(scenario())


def test_nan_timeout_is_rejected() -> None:
    with pytest.raises(ValueError, match="timeout"):
        asyncio.run(OutboundLimits(OFF).acquire("a", timeout=float("nan")))


# --- learning ------------------------------------------------------------------------------


def test_retry_after_blocks_the_account_only() -> None:
    fake = FakeTime()
    limits = fake_limits(OFF, fake)

    async def scenario() -> None:
        learned = limits.learn_from_headers("a", {"retry-after": "2"})
        assert learned.retry_after_ms == 2_000
        assert not await limits.acquire("a", timeout=1.5)
        assert await limits.acquire("b", timeout=0)
        assert await limits.acquire("a", timeout=1)
        assert fake.now == pytest.approx(1_002.0)

    asyncio.run(scenario())


def test_exhausted_remaining_blocks_until_reset() -> None:
    fake = FakeTime()
    limits = fake_limits(OFF, fake)
    limits.learn_from_headers(
        "a",
        {
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": "2025-03-01T12:00:03Z",
        },
    )
    snap = limits.snapshot()["a"]
    assert snap["blocked_until_ms"] == 1_003_000
    assert snap["blocked_for_ms"] == 3_000

    async def scenario() -> None:
        assert not await limits.acquire("a", timeout=2.9)
        assert await limits.acquire("a", timeout=1)
        assert fake.now == pytest.approx(1_003.0)

    asyncio.run(scenario())
    assert limits.snapshot()["a"]["blocked_until_ms"] is None


def test_learned_limit_tightens_rpm_for_a_minute() -> None:
    fake = FakeTime()
    limits = fake_limits(LimitConfig(rpm=10, min_gap_ms=0, max_concurrent=0), fake)
    limits.learn_from_headers("a", {"x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "1"})
    assert limits.snapshot()["a"]["effective_rpm"] == 2

    async def scenario() -> None:
        assert await limits.acquire("a", timeout=0)
        assert await limits.acquire("a", timeout=0)
        assert not await limits.acquire("a", timeout=0)

    asyncio.run(scenario())
    fake.now += 60
    assert limits.snapshot()["a"]["effective_rpm"] == 10


def test_empty_headers_create_no_limiter() -> None:
    limits = OutboundLimits(OFF)
    assert limits.learn_from_headers("a", {"content-type": "application/json"}).empty
    assert limits.snapshot() == {}


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsLike:
    rpm: int = 1
    min_gap_ms: int = 0
    max_concurrent: int = 0
    queue_timeout: float = 5.0


def test_default_accepts_any_config_like_object() -> None:
    limits = OutboundLimits(SettingsLike(rpm=7))
    assert limits.default == LimitConfig(rpm=7, min_gap_ms=0, max_concurrent=0)
    assert OutboundLimits().default == LimitConfig(rpm=100, min_gap_ms=200, max_concurrent=10)


def test_per_account_overrides() -> None:
    fake = FakeTime()
    limits = fake_limits(
        LimitConfig(rpm=1, min_gap_ms=0, max_concurrent=0), fake, overrides={"b": (2, None, None)}
    )
    assert limits.config_for("b") == LimitConfig(rpm=2, min_gap_ms=0, max_concurrent=0)

    async def scenario() -> None:
        assert await limits.acquire("a", timeout=0)
        assert not await limits.acquire("a", timeout=0)
        assert await limits.acquire("b", timeout=0)
        assert await limits.acquire("b", timeout=0)
        assert not await limits.acquire("b", timeout=0)
        # Overrides passed with acquire replace the stored ones, on an existing limiter too.
        assert await limits.acquire("a", timeout=0, overrides=(3, None, None))
        assert await limits.acquire("c", timeout=0, overrides=(None, None, 1))
        assert not await limits.acquire("c", timeout=0, overrides=(None, None, 1))
        # All-None overrides fall back to the default.
        assert not await limits.acquire("b", timeout=0, overrides=(None, None, None))

    asyncio.run(scenario())
    assert limits.config_for("a").rpm == 3
    assert limits.config_for("b").rpm == 1
    assert limits.config_for("c").max_concurrent == 1


def test_edited_default_applies_to_existing_limiters() -> None:
    fake = FakeTime()
    limits = fake_limits(
        LimitConfig(rpm=1, min_gap_ms=0, max_concurrent=0), fake, overrides={"b": (None, 0, 5)}
    )

    async def scenario() -> None:
        assert await limits.acquire("a", timeout=0)
        assert await limits.acquire("b", timeout=0)
        assert not await limits.acquire("a", timeout=0)
        limits.set_default(LimitConfig(rpm=5, min_gap_ms=0, max_concurrent=0))
        assert await limits.acquire("a", timeout=0)
        assert await limits.acquire("b", timeout=0)

    asyncio.run(scenario())
    snap = limits.snapshot()
    assert (snap["a"]["rpm"], snap["b"]["rpm"], snap["b"]["max_concurrent"]) == (5, 5, 5)
    limits.set_overrides("b", None)
    assert limits.snapshot()["b"]["max_concurrent"] == 0


@pytest.mark.parametrize("bad", [(-1, None, None), (None, -5, None), (None, None, 2**32)])
def test_invalid_overrides_are_rejected(bad: tuple[int | None, int | None, int | None]) -> None:
    limits = OutboundLimits(OFF)
    with pytest.raises(ValueError, match="must be an integer"):
        limits.set_overrides("a", bad)
    with pytest.raises(ValueError, match="must be an integer"):
        resolve_config(OFF, bad)
    with pytest.raises(ValueError, match="must be an integer"):
        OutboundLimits(OFF, {"a": bad})


def test_snapshot_shape() -> None:
    fake = FakeTime(now=50.0)
    limits = fake_limits(LimitConfig(rpm=4, min_gap_ms=100, max_concurrent=2), fake)

    async def scenario() -> None:
        assert await limits.acquire("p/one", timeout=0)

    asyncio.run(scenario())
    assert limits.snapshot() == {
        "p/one": {
            "in_flight": 1,
            "admitted_last_minute": 1,
            "blocked_until_ms": None,
            "effective_rpm": 4,
            "blocked_for_ms": None,
            "rpm": 4,
            "min_gap_ms": 100,
            "max_concurrent": 2,
        }
    }
