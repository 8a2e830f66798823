"""Circuit breakers per provider and per combo target: CLOSED -> OPEN after `threshold`
consecutive health failures -> HALF_OPEN after `reset_timeout` (one probe) -> CLOSED on
success, OPEN again on failure. Transitions are handed to a persistence callback so an open
breaker stays open across restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

Persist = Callable[[str, str, int, float | None], None]


class Breaker:
    __slots__ = (
        "failures",
        "key",
        "opened_at",
        "probe_started",
        "probing",
        "reset_timeout",
        "state",
        "threshold",
    )

    def __init__(self, key: str, threshold: int, reset_timeout: float) -> None:
        self.key = key
        self.threshold = threshold
        self.reset_timeout = reset_timeout
        self.state = CLOSED
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False
        self.probe_started: float | None = None

    def allow(self, now: float) -> bool:
        """May a call go through now? In HALF_OPEN exactly one probe is let through."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            if self.opened_at is not None and now - self.opened_at >= self.reset_timeout:
                self.state, self.probing, self.probe_started = HALF_OPEN, True, now
                return True
            return False
        # HALF_OPEN: one probe at a time; a probe that never reported (cancelled, stopped by a
        # client error...) is given up after another reset_timeout so the breaker cannot stick.
        stale = self.probe_started is not None and now - self.probe_started >= self.reset_timeout
        if not self.probing or stale:
            self.probing, self.probe_started = True, now
            return True
        return False

    def retry_in(self, now: float) -> float | None:
        if self.state != OPEN or self.opened_at is None:
            return None
        return max(0.0, self.opened_at + self.reset_timeout - now)


class Breakers:
    def __init__(self, *, threshold: int, reset_timeout: float, persist: Persist | None = None) -> None:
        self._threshold = threshold
        self._reset_timeout = reset_timeout
        self._persist = persist
        self._breakers: dict[str, Breaker] = {}

    def get(self, key: str) -> Breaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = Breaker(key, self._threshold, self._reset_timeout)
        return breaker

    def allow(self, key: str, now: float) -> bool:
        breaker = self._breakers.get(key)
        return breaker is None or breaker.allow(now)

    def success(self, key: str) -> None:
        breaker = self._breakers.get(key)
        if breaker is None or (breaker.state == CLOSED and breaker.failures == 0):
            return
        changed = breaker.state != CLOSED
        breaker.state, breaker.failures, breaker.opened_at, breaker.probing = CLOSED, 0, None, False
        if changed:
            self._save(breaker)

    def failure(self, key: str, now: float) -> None:
        breaker = self.get(key)
        breaker.failures += 1
        breaker.probing = False
        if breaker.state == HALF_OPEN or (breaker.state == CLOSED and breaker.failures >= breaker.threshold):
            breaker.state, breaker.opened_at = OPEN, now
            self._save(breaker)

    def _save(self, breaker: Breaker) -> None:
        if self._persist is not None:
            self._persist(breaker.key, breaker.state, breaker.failures, breaker.opened_at)

    def load(
        self, rows: Iterable[tuple[str, str, int, float | None]], *, now: float, wall_now: float
    ) -> None:
        """Restores persisted state; `opened_at` was stored as wall-clock time."""
        for key, state, failures, opened_at in rows:
            breaker = self.get(key)
            breaker.state = OPEN if state in (OPEN, HALF_OPEN) else CLOSED
            breaker.failures = failures
            breaker.opened_at = None if opened_at is None else now - (wall_now - opened_at)

    def reset(self, keys: Iterable[str] | None = None) -> list[str]:
        chosen = list(self._breakers) if keys is None else [k for k in keys if k in self._breakers]
        for key in chosen:
            breaker = self._breakers.pop(key)
            breaker.state, breaker.failures, breaker.opened_at, breaker.probing = CLOSED, 0, None, False
            self._save(breaker)
        return chosen

    def snapshot(self, now: float) -> list[dict[str, object]]:
        return [
            {
                "key": b.key,
                "state": b.state,
                "failures": b.failures,
                "retry_in_s": None if b.retry_in(now) is None else round(b.retry_in(now) or 0.0, 3),
            }
            for b in sorted(self._breakers.values(), key=lambda b: b.key)
            if b.state != CLOSED or b.failures
        ]
