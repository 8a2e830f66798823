"""Outbound limits per upstream connection (one API key / account).

Each account key gets its own `omniroute._core.Limiter` (created on first use) enforcing three
limits, any of which `0` switches off:

* `rpm`: admissions in any 60-second sliding window (exact, no bursts across window edges);
* `min_gap_ms`: minimum distance between two admissions;
* `max_concurrent`: admitted requests not yet released.

The limits come from a default (a `LimitConfig`, or any object with the same three attributes
such as the `[limits]` settings; editable at run time and applied to existing limiters) and
optional per-account `(rpm, min_gap_ms, max_concurrent)` overrides whose `None`s keep the
default. What an upstream reports in its response
headers tightens them: `retry-after` / `retry-after-ms` block the account until then, an
exhausted `*-remaining` blocks it until the window's reset, and a `*-limit` below the configured
RPM caps the RPM for the next minute (the rules live in `rust/core/src/limits.rs`).

Recognised headers (names case-insensitive): `x-ratelimit-{remaining,limit,reset}-requests`
(OpenAI style; the reset is a Go duration such as `1s`, `6m0s`, `20ms`, `1h2m3.5s`, or bare
seconds), `anthropic-ratelimit-requests-{remaining,limit,reset}` (the reset is an RFC 3339
timestamp), `retry-after-ms` (milliseconds) and `retry-after` (seconds or an HTTP date;
`retry-after-ms` wins when both are present). Unparseable values are ignored.

Time comes from injectable clocks: `clock` (monotonic seconds) drives the limiters and
`wall_clock` (Unix seconds) converts absolute timestamps into durations.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from fractions import Fraction
from typing import Protocol

from omniroute import _core

__all__ = [
    "NO_OVERRIDES",
    "LearnedLimits",
    "LimitConfig",
    "LimitConfigLike",
    "LimitOverrides",
    "OutboundLimits",
    "parse_duration_ms",
    "parse_rate_limit_headers",
    "resolve_config",
]

_U32_MAX = 2**32 - 1
_U64_MAX = 2**64 - 1

_DURATION_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
_DURATION_FULL = re.compile(rf"(?:{_DURATION_PART})+")
_DURATION_PARTS = re.compile(_DURATION_PART)
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_COUNT = re.compile(r"\d+")
_UNIT_MS: dict[str, Fraction] = {
    "h": Fraction(3_600_000),
    "m": Fraction(60_000),
    "s": Fraction(1_000),
    "ms": Fraction(1),
    "us": Fraction(1, 1_000),
    "µs": Fraction(1, 1_000),
    "μs": Fraction(1, 1_000),
    "ns": Fraction(1, 1_000_000),
}


def _to_ms(seconds: float) -> int:
    """Clock seconds as the limiter's non-negative integer milliseconds."""
    return min(max(0, math.floor(seconds * 1_000)), _U64_MAX)


def _check_range(name: str, value: int, upper: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
        raise ValueError(f"{name} must be an integer in [0, {upper}], got {value!r}")


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """Limits of one connection; `0` switches a limit off. Defaults follow the gateway's."""

    rpm: int = 100
    min_gap_ms: int = 200
    max_concurrent: int = 10

    def __post_init__(self) -> None:
        _check_range("rpm", self.rpm, _U32_MAX)
        _check_range("min_gap_ms", self.min_gap_ms, _U64_MAX)
        _check_range("max_concurrent", self.max_concurrent, _U32_MAX)


class LimitConfigLike(Protocol):
    """Anything with the three limits as attributes (`LimitConfig`, the `[limits]` settings)."""

    @property
    def rpm(self) -> int: ...
    @property
    def min_gap_ms(self) -> int: ...
    @property
    def max_concurrent(self) -> int: ...


#: Per-account `(rpm, min_gap_ms, max_concurrent)`; `None` keeps the default's value.
LimitOverrides = tuple[int | None, int | None, int | None]
NO_OVERRIDES: LimitOverrides = (None, None, None)


def resolve_config(default: LimitConfigLike, overrides: LimitOverrides = NO_OVERRIDES) -> LimitConfig:
    """The default's limits with the non-`None` overrides applied (validated)."""
    rpm, min_gap_ms, max_concurrent = overrides
    return LimitConfig(
        rpm=default.rpm if rpm is None else rpm,
        min_gap_ms=default.min_gap_ms if min_gap_ms is None else min_gap_ms,
        max_concurrent=default.max_concurrent if max_concurrent is None else max_concurrent,
    )


@dataclass(frozen=True, slots=True)
class LearnedLimits:
    """What one upstream response said about its request limits (durations in ms from now)."""

    remaining: int | None = None
    limit: int | None = None
    reset_after_ms: int | None = None
    retry_after_ms: int | None = None

    @property
    def empty(self) -> bool:
        return (
            self.remaining is None
            and self.limit is None
            and self.reset_after_ms is None
            and self.retry_after_ms is None
        )


def _ceil_ms(value: Fraction) -> int:
    return min(math.ceil(value), _U64_MAX)


def parse_duration_ms(text: str) -> int | None:
    """A Go-style duration (`1s`, `6m0s`, `20ms`, `1h2m3.5s`) or bare seconds, in whole ms
    rounded up; `None` when it is not one."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        return _ceil_ms(Fraction(text) * 1_000)
    if not _DURATION_FULL.fullmatch(text):
        return None
    total = sum((Fraction(n) * _UNIT_MS[unit] for n, unit in _DURATION_PARTS.findall(text)), Fraction(0))
    return _ceil_ms(total)


def _parse_ms(text: str) -> int | None:
    text = text.strip()
    return _ceil_ms(Fraction(text)) if _NUMBER.fullmatch(text) else None


def _parse_count(text: str) -> int | None:
    text = text.strip()
    return min(int(text), _U64_MAX) if _COUNT.fullmatch(text) else None


def _ms_until(moment: datetime, wall_now: float) -> int | None:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        delta = Fraction(moment.timestamp()) - Fraction(wall_now)
    except (OverflowError, ValueError):
        return None
    return max(0, _ceil_ms(delta * 1_000))


def _parse_rfc3339_ms(text: str, wall_now: float) -> int | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return _ms_until(moment, wall_now)


def _parse_retry_after_ms(text: str, wall_now: float) -> int | None:
    text = text.strip()
    if _NUMBER.fullmatch(text):
        return _ceil_ms(Fraction(text) * 1_000)
    try:
        moment = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    return _ms_until(moment, wall_now)


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def parse_rate_limit_headers(headers: Mapping[str, str], *, wall_now: float) -> LearnedLimits:
    """Reads the request-limit headers of one upstream response (see the module docstring).

    `wall_now` is the current Unix time in seconds, used for absolute timestamps.
    """
    h = {name.lower(): value for name, value in headers.items()}

    def get(name: str, parse: Callable[[str], int | None]) -> int | None:
        value = h.get(name)
        return None if value is None else parse(value)

    def at(text: str) -> int | None:
        return _parse_rfc3339_ms(text, wall_now)

    def retry(text: str) -> int | None:
        return _parse_retry_after_ms(text, wall_now)

    return LearnedLimits(
        remaining=_first(
            get("x-ratelimit-remaining-requests", _parse_count),
            get("anthropic-ratelimit-requests-remaining", _parse_count),
        ),
        limit=_first(
            get("x-ratelimit-limit-requests", _parse_count),
            get("anthropic-ratelimit-requests-limit", _parse_count),
        ),
        reset_after_ms=_first(
            get("x-ratelimit-reset-requests", parse_duration_ms),
            get("anthropic-ratelimit-requests-reset", at),
        ),
        retry_after_ms=_first(get("retry-after-ms", _parse_ms), get("retry-after", retry)),
    )


#: Every header `parse_rate_limit_headers` reads (lower case).
_LIMIT_HEADERS = frozenset(
    (
        "x-ratelimit-remaining-requests",
        "anthropic-ratelimit-requests-remaining",
        "x-ratelimit-limit-requests",
        "anthropic-ratelimit-requests-limit",
        "x-ratelimit-reset-requests",
        "anthropic-ratelimit-requests-reset",
        "retry-after-ms",
        "retry-after",
    )
)
_NOTHING_LEARNED = LearnedLimits()


class OutboundLimits:
    """One `_core.Limiter` per account key, created lazily from the default limits plus that
    account's overrides. Not thread-safe: use it from one event loop."""

    def __init__(
        self,
        default: LimitConfigLike | None = None,
        overrides: Mapping[str, LimitOverrides] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._default = resolve_config(default if default is not None else LimitConfig())
        self._overrides: dict[str, LimitOverrides] = {}
        for key, value in (overrides or {}).items():
            resolve_config(self._default, value)
            if value != NO_OVERRIDES:
                self._overrides[key] = value
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._limiters: dict[str, _core.Limiter] = {}
        self._configs: dict[str, LimitConfig] = {}

    @property
    def default(self) -> LimitConfig:
        return self._default

    def set_default(self, config: LimitConfigLike) -> None:
        """Replaces the default limits; existing limiters pick them up at once."""
        self._default = resolve_config(config)
        for key in self._limiters:
            self._apply(key)

    def set_overrides(self, key: str, overrides: LimitOverrides | None) -> None:
        """Sets one account's overrides (`None` or all-`None` removes them); applied at once."""
        overrides = overrides if overrides is not None else NO_OVERRIDES
        if overrides == self._overrides.get(key, NO_OVERRIDES):
            return
        resolve_config(self._default, overrides)
        if overrides == NO_OVERRIDES:
            self._overrides.pop(key, None)
        else:
            self._overrides[key] = overrides
        if key in self._limiters:
            self._apply(key)

    def config_for(self, key: str) -> LimitConfig:
        """The limits `key` runs under."""
        return resolve_config(self._default, self._overrides.get(key, NO_OVERRIDES))

    def _apply(self, key: str) -> None:
        config = self.config_for(key)
        if config != self._configs.get(key):
            self._configs[key] = config
            self._limiters[key].configure(config.rpm, config.min_gap_ms, config.max_concurrent)

    def _limiter(self, key: str) -> _core.Limiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            config = self.config_for(key)
            limiter = _core.Limiter(
                rpm=config.rpm, min_gap_ms=config.min_gap_ms, max_concurrent=config.max_concurrent
            )
            self._limiters[key] = limiter
            self._configs[key] = config
        return limiter

    def _now_ms(self) -> int:
        return _to_ms(self._clock())

    async def acquire(self, key: str, *, timeout: float, overrides: LimitOverrides | None = None) -> bool:
        """Waits (sleeping the limiter's hints, never past `timeout` seconds) until `key` admits
        one request; `False` on timeout. Every `True` must be paired with `release(key)`.

        `overrides`, when given, first replaces the account's overrides (as `set_overrides`),
        so callers can pass the catalog's current values on every call."""
        if math.isnan(timeout):
            raise ValueError("timeout must be a number")
        if overrides is not None:
            self.set_overrides(key, overrides)
        limiter = self._limiter(key)
        deadline = self._clock() + max(timeout, 0.0)
        while True:
            now = self._clock()
            wait_ms = limiter.try_acquire(_to_ms(now))
            if wait_ms == 0:
                return True
            left = deadline - now
            if left < 0.001:  # the limiter counts whole milliseconds
                return False
            await self._sleep(min(wait_ms / 1_000, left))

    def release(self, key: str) -> None:
        """Ends one admitted request of `key` (ignored when nothing is in flight)."""
        limiter = self._limiters.get(key)
        if limiter is not None:
            limiter.release()

    def forget_learned(self, key: str | None = None) -> int:
        """Drops what upstream headers taught (blocks, caps) for idle limiters; returns how many.

        Limiters with requests in flight are kept, so their concurrency accounting stays true.
        """
        now = self._now_ms()
        chosen = [k for k in self._limiters if key is None or k == key]
        dropped = 0
        for name in chosen:
            if self._limiters[name].state(now)["in_flight"] == 0:
                del self._limiters[name]
                dropped += 1
        return dropped

    def learn(self, key: str, learned: LearnedLimits) -> None:
        """Applies already-parsed upstream limits to `key` (see the module docstring)."""
        if learned.empty:
            return
        self._limiter(key).learn(
            self._now_ms(),
            remaining=learned.remaining,
            limit=learned.limit,
            reset_after_ms=learned.reset_after_ms,
            retry_after_ms=learned.retry_after_ms,
        )

    def learn_from_headers(self, key: str, headers: Mapping[str, str]) -> LearnedLimits:
        """Applies an upstream response's rate-limit headers to `key`; returns what was read."""
        # Most answers carry none (or the upstream never sends them): skip the parse. The
        # client's header names are lower-case; a mixed-case mapping takes the full path.
        names = headers.keys()
        if _LIMIT_HEADERS.isdisjoint(names) and all(name.islower() for name in names):
            return _NOTHING_LEARNED
        learned = parse_rate_limit_headers(headers, wall_now=self._wall_clock())
        self.learn(key, learned)
        return learned

    def snapshot(self) -> dict[str, dict[str, int | None]]:
        """Per account: the limiter state plus its config and `blocked_for_ms` (time left of a
        learned block, or `None`)."""
        now_ms = self._now_ms()
        out: dict[str, dict[str, int | None]] = {}
        for key, limiter in self._limiters.items():
            state = limiter.state(now_ms)
            config = self._configs[key]
            blocked_until = state["blocked_until_ms"]
            out[key] = {
                **state,
                "blocked_for_ms": None if blocked_until is None else max(0, blocked_until - now_ms),
                "rpm": config.rpm,
                "min_gap_ms": config.min_gap_ms,
                "max_concurrent": config.max_concurrent,
            }
        return out
