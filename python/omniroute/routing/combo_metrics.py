"""Per-combo counters of this process: calls, successes, failures, fallbacks, winning targets."""

from __future__ import annotations

import time
from typing import Any


class _ComboCounters:
    __slots__ = ("failures", "fallbacks", "last_used", "requests", "successes", "targets")

    def __init__(self) -> None:
        self.requests = 0
        self.successes = 0
        self.failures = 0
        self.fallbacks = 0
        self.targets: dict[str, int] = {}
        self.last_used: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "successes": self.successes,
            "failures": self.failures,
            "fallbacks": self.fallbacks,
            "targets": dict(self.targets),
            "last_used": self.last_used,
        }


class ComboMetrics:
    def __init__(self) -> None:
        self._counters: dict[str, _ComboCounters] = {}

    def record(self, combo: str, *, ok: bool, attempts: int, target: str | None) -> None:
        counters = self._counters.setdefault(combo, _ComboCounters())
        counters.requests += 1
        if ok:
            counters.successes += 1
            if target is not None:
                counters.targets[target] = counters.targets.get(target, 0) + 1
        else:
            counters.failures += 1
        if attempts > 1:
            counters.fallbacks += 1
        counters.last_used = time.time()

    def get(self, combo: str) -> dict[str, Any]:
        return self._counters.get(combo, _ComboCounters()).as_dict()
