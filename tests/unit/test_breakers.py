"""Circuit breakers: CLOSED -> OPEN at the threshold -> HALF_OPEN (one probe) after the reset
timeout -> CLOSED on success / OPEN on failure; persistence on transitions only; restore."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.resilience.breakers import CLOSED, HALF_OPEN, OPEN, Breakers

Saved = tuple[str, str, int, float | None]


def make(threshold: int = 3, reset_timeout: float = 30.0) -> tuple[Breakers, list[Saved]]:
    saved: list[Saved] = []
    breakers = Breakers(
        threshold=threshold,
        reset_timeout=reset_timeout,
        persist=lambda key, state, failures, opened_at: saved.append((key, state, failures, opened_at)),
    )
    return breakers, saved


def opened(threshold: int = 3, at: float = 100.0) -> tuple[Breakers, list[Saved]]:
    breakers, saved = make(threshold)
    for _ in range(threshold):
        breakers.failure("p", at)
    return breakers, saved


# CLOSED -> OPEN --------------------------------------------------------------------------------------


def test_unknown_key_is_allowed_and_not_created() -> None:
    breakers, saved = make()
    assert breakers.allow("never-seen", 0.0) is True
    assert breakers.snapshot(0.0) == []
    assert saved == []


def test_opens_exactly_at_the_threshold() -> None:
    breakers, saved = make(threshold=3)
    breakers.failure("p", 1.0)
    breakers.failure("p", 2.0)
    assert breakers.allow("p", 2.0) is True
    assert breakers.get("p").state == CLOSED
    assert saved == []
    breakers.failure("p", 3.0)
    assert breakers.get("p").state == OPEN
    assert breakers.allow("p", 3.0) is False
    assert saved == [("p", OPEN, 3, 3.0)]


def test_success_resets_the_count_so_failures_must_be_consecutive() -> None:
    breakers, saved = make(threshold=3)
    for t in range(10):
        breakers.failure("p", float(t))
        breakers.failure("p", float(t))
        breakers.success("p")
    assert breakers.get("p").state == CLOSED
    assert breakers.get("p").failures == 0
    assert saved == []


def test_threshold_one_opens_on_first_failure() -> None:
    breakers, saved = make(threshold=1)
    breakers.failure("p", 5.0)
    assert (breakers.get("p").state, saved) == (OPEN, [("p", OPEN, 1, 5.0)])


def test_keys_are_independent() -> None:
    breakers, _ = make(threshold=2)
    breakers.failure("provider:openai", 1.0)
    breakers.failure("provider:openai", 1.0)
    breakers.failure("target:openai/gpt-4o", 1.0)
    assert breakers.allow("provider:openai", 2.0) is False
    assert breakers.allow("target:openai/gpt-4o", 2.0) is True
    assert breakers.allow("provider:deepseek", 2.0) is True


# OPEN -> HALF_OPEN -> CLOSED / OPEN ------------------------------------------------------------------------


def test_open_rejects_until_reset_timeout_then_allows_exactly_one_probe() -> None:
    breakers, _ = opened(at=100.0)
    assert breakers.allow("p", 129.999) is False
    assert breakers.get("p").retry_in(110.0) == pytest.approx(20.0)
    assert breakers.allow("p", 130.0) is True
    assert breakers.get("p").state == HALF_OPEN
    assert breakers.allow("p", 130.0) is False
    assert breakers.allow("p", 159.9) is False  # the probe is still out
    assert breakers.allow("p", 160.0) is True  # ... until it is given up after reset_timeout
    assert breakers.get("p").retry_in(130.0) is None


def test_successful_probe_closes_and_persists() -> None:
    breakers, saved = opened(at=100.0)
    assert breakers.allow("p", 131.0)
    breakers.success("p")
    breakers_p = breakers.get("p")
    assert (breakers_p.state, breakers_p.failures, breakers_p.opened_at) == (CLOSED, 0, None)
    assert saved[-1] == ("p", CLOSED, 0, None)
    assert all(breakers.allow("p", 132.0) for _ in range(5))
    assert breakers.snapshot(132.0) == []


def test_failed_probe_reopens_with_a_fresh_timeout() -> None:
    breakers, saved = opened(at=100.0)
    assert breakers.allow("p", 135.0)
    breakers.failure("p", 136.0)
    assert breakers.get("p").state == OPEN
    assert saved[-1] == ("p", OPEN, 4, 136.0)
    assert breakers.allow("p", 165.0) is False
    assert breakers.allow("p", 166.0) is True


def test_a_single_failure_in_half_open_reopens_even_with_high_threshold() -> None:
    breakers, _ = opened(threshold=5, at=0.0)
    assert breakers.allow("p", 30.0)
    breakers.failure("p", 31.0)
    assert breakers.get("p").state == OPEN


def test_late_failure_while_open_neither_persists_nor_moves_the_timeout() -> None:
    breakers, saved = opened(at=100.0)
    before = list(saved)
    breakers.failure("p", 120.0)  # a call let through before the breaker opened
    assert saved == before
    assert breakers.get("p").opened_at == 100.0
    assert breakers.allow("p", 130.0) is True


def test_success_while_open_closes_and_persists() -> None:
    breakers, saved = opened(at=100.0)
    breakers.success("p")
    assert breakers.get("p").state == CLOSED
    assert saved[-1] == ("p", CLOSED, 0, None)


def test_success_on_a_healthy_breaker_persists_nothing() -> None:
    breakers, saved = make()
    breakers.success("p")
    breakers.failure("p", 1.0)
    breakers.success("p")
    assert saved == []


def test_unreported_probe_does_not_block_forever() -> None:
    breakers, _ = opened(at=100.0)
    assert breakers.allow("p", 130.0) is True  # the probe, never reported
    assert breakers.allow("p", 160.0) is True  # another reset_timeout later a new probe goes through


# persistence and restore ----------------------------------------------------------------------------------------


def test_persistence_callback_is_optional() -> None:
    breakers = Breakers(threshold=1, reset_timeout=1.0)
    breakers.failure("p", 0.0)
    assert breakers.allow("p", 1.0)
    breakers.success("p")
    assert breakers.reset() == ["p"]


def test_load_converts_wall_clock_opened_at_to_the_monotonic_clock() -> None:
    breakers, saved = make(threshold=3, reset_timeout=30.0)
    # opened 10 s ago (wall clock), restored at monotonic 500
    breakers.load([("p", OPEN, 3, 1_000_000.0)], now=500.0, wall_now=1_000_010.0)
    assert breakers.get("p").opened_at == pytest.approx(490.0)
    assert breakers.get("p").retry_in(500.0) == pytest.approx(20.0)
    assert breakers.allow("p", 519.9) is False
    assert breakers.allow("p", 520.0) is True
    assert saved == []


def test_load_of_long_expired_open_breaker_allows_a_probe_at_once() -> None:
    breakers, _ = make(reset_timeout=30.0)
    breakers.load([("p", OPEN, 5, 1_000.0)], now=10.0, wall_now=90_000.0)
    assert breakers.allow("p", 10.0) is True
    assert breakers.allow("p", 10.0) is False


def test_load_turns_half_open_into_open() -> None:
    breakers, _ = make(reset_timeout=30.0)
    breakers.load([("p", HALF_OPEN, 3, 995.0)], now=50.0, wall_now=1_000.0)
    breaker = breakers.get("p")
    assert breaker.state == OPEN
    assert breakers.allow("p", 50.0) is False
    assert breakers.allow("p", 75.0) is True


def test_load_restores_closed_failure_count() -> None:
    breakers, _ = make(threshold=3)
    breakers.load([("p", CLOSED, 2, None)], now=0.0, wall_now=0.0)
    assert breakers.allow("p", 0.0) is True
    breakers.failure("p", 1.0)
    assert breakers.get("p").state == OPEN


def test_round_trip_through_the_persistence_callback() -> None:
    _, saved = opened(threshold=2, at=200.0)
    wall_offset = 1_700_000_000.0  # what the runtime adds when it stores monotonic times
    rows = [
        (key, state, failures, None if at is None else at + wall_offset) for key, state, failures, at in saved
    ]
    second, _ = make(threshold=2)
    second.load(rows, now=210.0, wall_now=210.0 + wall_offset)
    assert second.get("p").state == OPEN
    assert second.get("p").retry_in(210.0) == pytest.approx(20.0)


# reset and snapshot ---------------------------------------------------------------------------------------------------


def test_reset_selected_keys_closes_them_and_reports_which() -> None:
    breakers, saved = make(threshold=1)
    breakers.failure("a", 1.0)
    breakers.failure("b", 1.0)
    assert breakers.reset(["a", "missing"]) == ["a"]
    assert breakers.allow("a", 2.0) is True
    assert breakers.allow("b", 2.0) is False
    assert saved[-1][:2] == ("a", CLOSED)
    assert sorted(breakers.reset()) == ["b"]
    assert breakers.allow("b", 2.0) is True
    assert breakers.reset() == []


def test_reset_breaker_starts_over_with_zero_failures() -> None:
    breakers, _ = opened(threshold=3)
    breakers.reset(["p"])
    breakers.failure("p", 200.0)
    assert breakers.get("p").state == CLOSED


def test_reset_persists_a_clean_closed_state() -> None:
    breakers, saved = opened(threshold=3)
    breakers.reset(["p"])
    assert saved[-1] == ("p", CLOSED, 0, None)


def test_snapshot_shows_open_and_failing_breakers_only() -> None:
    breakers, _ = make(threshold=2, reset_timeout=30.0)
    breakers.failure("open", 100.0)
    breakers.failure("open", 100.0)
    breakers.failure("failing", 101.0)
    breakers.failure("healed", 101.0)
    breakers.success("healed")
    assert breakers.snapshot(110.12345) == [
        {"key": "failing", "state": CLOSED, "failures": 1, "retry_in_s": None},
        {"key": "open", "state": OPEN, "failures": 2, "retry_in_s": 19.877},
    ]


# property: the state machine against a reference ------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    threshold=st.integers(1, 4),
    events=st.lists(
        st.tuples(st.sampled_from(["allow", "success", "failure"]), st.sampled_from([0.0, 1.0, 5.0, 12.0])),
        max_size=40,
    ),
)
def test_breaker_follows_the_state_machine_and_persists_only_transitions(
    threshold: int, events: list[tuple[str, float]]
) -> None:
    reset_timeout = 10.0
    breakers, saved = make(threshold=threshold, reset_timeout=reset_timeout)
    state, failures, opened_at, probe_out = CLOSED, 0, None, False
    probe_started = 0.0
    transitions = 0
    now = 0.0
    for kind, step in events:
        now += step
        before = state
        if kind == "allow":
            if state == CLOSED:
                expected = True
            elif state == OPEN:
                expected = opened_at is not None and now - opened_at >= reset_timeout
                if expected:
                    state, probe_out, probe_started = HALF_OPEN, True, now
            else:
                # One probe at a time; a probe that never reported is given up after reset_timeout.
                expected = not probe_out or now - probe_started >= reset_timeout
                if expected:
                    probe_out, probe_started = True, now
            assert breakers.allow("p", now) is expected
        elif kind == "success":
            breakers.success("p")
            state, failures, opened_at, probe_out = CLOSED, 0, None, False
        else:
            breakers.failure("p", now)
            failures += 1
            probe_out = False
            if before == HALF_OPEN or (before == CLOSED and failures >= threshold):
                state, opened_at = OPEN, now
        if state != before and state != HALF_OPEN:
            transitions += 1
            assert saved[-1] == ("p", state, failures, opened_at)
        assert len(saved) == transitions
        assert breakers.get("p").state == state
