"""State-machine test of the outbound limiter (`omniroute._core.Limiter`).

Hypothesis drives one limiter with an injected clock (`now` in ms, passed to every call):
time advances by random amounts, requests are acquired (also with a clock that reads earlier
than before), released, and upstream limits are learned. The admission log kept here is the
reference: no 60 000 ms window holds more than `rpm` admissions, no two admissions are closer
than `min_gap_ms`, no more than `max_concurrent` are in flight, and a wait hint is honest —
retrying after it, with nothing else changed, succeeds unless all concurrency slots are taken
(and retrying one millisecond earlier does not, so hints are not padded).
"""

from __future__ import annotations

from bisect import bisect_right

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from omniroute import _core

WINDOW_MS = 60_000
MAX_LEARNED_MS = 86_400_000
CONCURRENCY_POLL_MS = 50

steps = st.one_of(
    st.integers(0, 300),
    st.integers(0, 20_000),
    st.sampled_from([WINDOW_MS - 1, WINDOW_MS, WINDOW_MS + 1]),
)
optional_ms = st.none() | st.integers(0, 5_000) | st.integers(0, 120_000)


class LimiterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.limiter = _core.Limiter()
        self.rpm = self.min_gap_ms = self.max_concurrent = 0
        self.now = 0
        self.latest = 0  # the largest time passed to the limiter
        self.admitted: list[int] = []
        self.in_flight = 0

    @initialize(
        rpm=st.integers(0, 6),
        min_gap_ms=st.sampled_from([0, 1, 50, 200, 1_000, 7_000]),
        max_concurrent=st.integers(0, 4),
        start=st.integers(0, 10**12),
    )
    def configure(self, rpm: int, min_gap_ms: int, max_concurrent: int, start: int) -> None:
        self.limiter = _core.Limiter(rpm=rpm, min_gap_ms=min_gap_ms, max_concurrent=max_concurrent)
        self.rpm, self.min_gap_ms, self.max_concurrent = rpm, min_gap_ms, max_concurrent
        self.now = start

    def slots_full(self) -> bool:
        return self.max_concurrent > 0 and self.in_flight >= self.max_concurrent

    def attempt(self, at: int) -> int:
        """`try_acquire(at)`; an earlier `at` than seen before reads as the latest time seen."""
        wait = self.limiter.try_acquire(at)
        self.latest = max(self.latest, at)
        assert wait >= 0
        if wait == 0:
            self.admitted.append(self.latest)
            self.in_flight += 1
        elif self.slots_full():
            assert wait >= CONCURRENCY_POLL_MS
        return wait

    @rule(ms=steps)
    def advance(self, ms: int) -> None:
        self.now += ms

    @rule()
    def try_acquire(self) -> None:
        self.attempt(self.now)

    @rule(back=st.integers(1, 10**9))
    def try_acquire_with_stale_clock(self, back: int) -> None:
        self.attempt(max(0, self.now - back))

    @rule()
    def acquire_after_hint(self) -> None:
        wait = self.attempt(self.now)
        if wait == 0 or self.slots_full():
            return
        if wait > 1:
            assert self.limiter.try_acquire(self.now + wait - 1) > 0, "hint is padded"
            self.latest = self.now + wait - 1
        self.now += wait
        assert self.attempt(self.now) == 0, f"not admitted after waiting the {wait} ms hint"

    @precondition(lambda self: self.in_flight > 0)
    @rule()
    def release(self) -> None:
        self.limiter.release()
        self.in_flight -= 1

    @rule()
    def release_too_many(self) -> None:
        for _ in range(self.in_flight + 2):
            self.limiter.release()
        self.in_flight = 0

    @rule(
        remaining=st.none() | st.integers(0, 3),
        limit=st.none() | st.integers(0, 8),
        reset_after_ms=optional_ms,
        retry_after_ms=optional_ms | st.just(2**64 - 1),
    )
    def learn(
        self, remaining: int | None, limit: int | None, reset_after_ms: int | None, retry_after_ms: int | None
    ) -> None:
        before = self.limiter.state(self.now)["blocked_until_ms"] or 0
        self.limiter.learn(
            self.now,
            remaining=remaining,
            limit=limit,
            reset_after_ms=reset_after_ms,
            retry_after_ms=retry_after_ms,
        )
        self.latest = self.now
        state = self.limiter.state(self.now)
        expected = before
        if retry_after_ms:
            expected = max(expected, self.now + min(retry_after_ms, MAX_LEARNED_MS))
        if remaining == 0 and reset_after_ms:
            expected = max(expected, self.now + min(reset_after_ms, MAX_LEARNED_MS))
        assert (state["blocked_until_ms"] or 0) == (expected if expected > self.now else 0)
        if limit and (self.rpm == 0 or limit < self.rpm):
            assert state["effective_rpm"] == limit

    @invariant()
    def rpm_holds_over_every_window(self) -> None:
        if self.rpm == 0:
            return
        # Every window's worst case ends at an admission: count (t - 60 000, t] for each t.
        first = 0
        for last, t in enumerate(self.admitted):
            while self.admitted[first] <= t - WINDOW_MS:
                first += 1
            assert last - first + 1 <= self.rpm, f"{last - first + 1} admissions within 60 s ending at {t}"

    @invariant()
    def gaps_hold(self) -> None:
        for a, b in zip(self.admitted, self.admitted[1:], strict=False):
            assert b - a >= self.min_gap_ms

    @invariant()
    def state_matches_the_log(self) -> None:
        state = self.limiter.state(self.now)
        assert state["in_flight"] == self.in_flight
        if self.max_concurrent:
            assert self.in_flight <= self.max_concurrent
        window_start = bisect_right(self.admitted, self.now - WINDOW_MS)
        assert state["admitted_last_minute"] == len(self.admitted) - window_start
        blocked = state["blocked_until_ms"]
        assert blocked is None or blocked > self.now
        effective = state["effective_rpm"]
        assert effective is not None
        if self.rpm:
            assert 0 < effective <= self.rpm


LimiterMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestLimiterStateMachine = LimiterMachine.TestCase
