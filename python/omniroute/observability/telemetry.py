"""Latency telemetry per provider over a sliding window, and request counts, for this worker.

Window: the calls of the last `window` seconds (default 300), at most the newest
`max_samples` (default 1000) per provider, whichever is fewer. Over the successful calls in it,
p50 / p95 / p99 of total latency, time to first token (streams) and gateway overhead
(total minus upstream wait); failed calls are counted, not timed (a fast 429 would flatter the
percentiles). Percentiles use the nearest-rank method: the smallest sample with at least p % of
the samples at or below it, so every reported value is one that was measured.

State lives in the worker process (no I/O, no locks: one event loop); with several workers each
answers for its own traffic, and `/api/telemetry` says which process answered.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

WINDOW_SECONDS = 300.0
MAX_SAMPLES = 1000
PERCENTILES = (50, 95, 99)


def percentile(ascending: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence; None when it is empty."""
    if not ascending:
        return None
    rank = min(len(ascending), max(1, math.ceil(p / 100.0 * len(ascending))))
    return ascending[rank - 1]


def summarise(values: Sequence[float]) -> dict[str, float | int | None]:
    ordered = sorted(values)
    out: dict[str, float | int | None] = {"count": len(ordered)}
    for p in PERCENTILES:
        value = percentile(ordered, p)
        out[f"p{p}"] = None if value is None else round(value, 3)
    return out


class Sample(NamedTuple):
    at: float
    ok: bool
    total_ms: float
    ttft_ms: float | None
    overhead_ms: float


class Telemetry:
    def __init__(
        self,
        *,
        window: float = WINDOW_SECONDS,
        max_samples: int = MAX_SAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.max_samples = max_samples
        self._clock = clock
        self._samples: dict[str, deque[Sample]] = {}
        #: When this worker started (wall clock, and the monotonic clock for uptime).
        self.started_at = time.time()
        self.started_monotonic = time.monotonic()
        #: Calls this worker finished since it started, by outcome and by status class.
        self.requests = 0
        self.by_outcome: dict[str, int] = {}
        self.by_status: dict[str, int] = {}

    def observe(
        self,
        provider: str | None,
        *,
        outcome: str,
        status: int,
        total_ms: float,
        ttft_ms: float | None,
        overhead_ms: float,
        now: float | None = None,
    ) -> None:
        self.requests += 1
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1
        status_class = f"{status // 100}xx"
        self.by_status[status_class] = self.by_status.get(status_class, 0) + 1
        if provider is None:
            return  # refused before routing: nothing to say about a provider
        at = self._clock() if now is None else now
        samples = self._samples.get(provider)
        if samples is None:
            samples = self._samples[provider] = deque(maxlen=self.max_samples)
        samples.append(Sample(at, outcome == "success", total_ms, ttft_ms, overhead_ms))
        self._prune(samples, at)

    def _prune(self, samples: deque[Sample], now: float) -> None:
        cutoff = now - self.window
        while samples and samples[0].at < cutoff:
            samples.popleft()

    def window_samples(self, provider: str, now: float | None = None) -> list[Sample]:
        samples = self._samples.get(provider)
        if samples is None:
            return []
        self._prune(samples, self._clock() if now is None else now)
        return list(samples)

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        at = self._clock() if now is None else now
        providers: dict[str, Any] = {}
        for provider in sorted(self._samples):
            samples = self.window_samples(provider, at)
            if not samples:
                continue
            ok = [s for s in samples if s.ok]
            providers[provider] = {
                "requests": len(samples),
                "errors": len(samples) - len(ok),
                "total_ms": summarise([s.total_ms for s in ok]),
                "ttft_ms": summarise([s.ttft_ms for s in ok if s.ttft_ms is not None]),
                "overhead_ms": summarise([s.overhead_ms for s in ok]),
            }
        return {
            "window_seconds": self.window,
            "max_samples": self.max_samples,
            "method": "nearest-rank",
            "providers": providers,
        }

    def counts(self) -> dict[str, Any]:
        return {
            "total": self.requests,
            "by_outcome": dict(sorted(self.by_outcome.items())),
            "by_status": dict(sorted(self.by_status.items())),
        }
