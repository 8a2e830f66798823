"""Cooldowns per (account, model) and per account, with the anti-thundering-herd rule: a failure
of a call that started before the current cooldown was set is the same incident and neither
extends nor escalates it."""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.resilience.cooldowns import Cooldowns


def fail(
    cd: Cooldowns,
    *,
    started: float,
    now: float,
    seconds: float = 10.0,
    account: str = "acct",
    model: str = "m",
    scope: Literal["model", "account"] = "model",
    reason: str = "rate_limit",
) -> float:
    return cd.record(account, model, scope=scope, seconds=seconds, started_at=started, now=now, reason=reason)


# basics ---------------------------------------------------------------------------------------------


def test_no_cooldown_means_usable_and_level_zero() -> None:
    cd = Cooldowns()
    assert cd.remaining("acct", "m", 0.0) is None
    assert cd.level("acct", "m") == 0
    assert cd.snapshot(0.0) == []


def test_model_cooldown_runs_out() -> None:
    cd = Cooldowns()
    assert fail(cd, started=99.0, now=100.0, seconds=5.0) == 5.0
    assert cd.remaining("acct", "m", 100.0) == 5.0
    assert cd.remaining("acct", "m", 103.0) == pytest.approx(2.0)
    assert cd.remaining("acct", "m", 105.0) is None
    assert cd.remaining("acct", "m", 200.0) is None


def test_model_cooldown_leaves_other_models_and_accounts_alone() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=1.0, model="gpt-4o")
    assert cd.remaining("acct", "gpt-4o", 2.0) == pytest.approx(9.0)
    assert cd.remaining("acct", "gpt-4o-mini", 2.0) is None
    assert cd.remaining("other", "gpt-4o", 2.0) is None


def test_account_wide_cooldown_blocks_every_model_of_the_account() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=1.0, scope="account", seconds=120.0, reason="auth")
    for model in ("gpt-4o", "o3", "anything"):
        assert cd.remaining("acct", model, 2.0) == pytest.approx(119.0)
    assert cd.remaining("other", "gpt-4o", 2.0) is None
    # the account-wide state has its own level; model levels are untouched
    assert cd.level("acct", "gpt-4o") == 0


def test_remaining_is_the_longer_of_model_and_account_cooldowns() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=0.0, seconds=30.0, model="m")
    fail(cd, started=0.0, now=0.0, seconds=10.0, scope="account")
    assert cd.remaining("acct", "m", 5.0) == pytest.approx(25.0)
    assert cd.remaining("acct", "n", 5.0) == pytest.approx(5.0)
    assert cd.remaining("acct", "m", 20.0) == pytest.approx(10.0)


def test_sequential_failures_escalate_the_level() -> None:
    cd = Cooldowns()
    for n in range(1, 6):
        start = 100.0 * n
        assert fail(cd, started=start, now=start + 1, seconds=float(n)) == float(n)
        assert cd.level("acct", "m") == n


def test_fresh_failure_during_an_active_cooldown_replaces_it() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=1.0, seconds=100.0)
    # started after the cooldown was set: a new incident (e.g. a call let through early)
    assert fail(cd, started=2.0, now=3.0, seconds=4.0) == 4.0
    assert cd.level("acct", "m") == 2
    assert cd.remaining("acct", "m", 3.0) == 4.0


# anti thundering herd ---------------------------------------------------------------------------------------


def test_concurrent_failure_does_not_extend_or_escalate() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=10.0, seconds=5.0)
    # a call that started before the cooldown was set fails a bit later, with a longer hint
    assert fail(cd, started=9.0, now=11.0, seconds=60.0) == pytest.approx(4.0)
    assert cd.level("acct", "m") == 1
    assert cd.remaining("acct", "m", 11.0) == pytest.approx(4.0)


def test_call_started_at_the_instant_the_cooldown_was_set_is_the_same_incident() -> None:
    cd = Cooldowns()
    fail(cd, started=5.0, now=10.0)
    fail(cd, started=10.0, now=10.5, seconds=99.0)
    assert cd.level("acct", "m") == 1
    assert cd.remaining("acct", "m", 10.5) == pytest.approx(9.5)


def test_herd_of_concurrent_failures_sets_one_cooldown() -> None:
    cd = Cooldowns()
    # twenty calls start together; their 429s arrive one after another
    results = [fail(cd, started=0.0, now=1.0 + i / 100, seconds=8.0) for i in range(20)]
    assert results[0] == 8.0
    assert all(r == pytest.approx(8.0 - i / 100) for i, r in enumerate(results))
    assert cd.level("acct", "m") == 1


def test_account_wide_anti_herd_is_separate_from_the_model_entry() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=1.0, scope="account", seconds=50.0)
    fail(cd, started=0.5, now=2.0, scope="account", seconds=50.0)  # same incident
    fail(cd, started=0.5, now=2.0, scope="model", seconds=3.0)  # the model entry is its own
    assert cd.level("acct", "m") == 1
    assert cd.remaining("acct", "m", 2.0) == pytest.approx(49.0)
    (account_entry, model_entry) = sorted(cd.snapshot(2.0), key=lambda e: e["model"] is not None)
    assert account_entry["level"] == 1
    assert model_entry["level"] == 1


def test_stale_failure_arriving_after_expiry_does_not_escalate() -> None:
    cd = Cooldowns()
    fail(cd, started=9.0, now=10.0, seconds=1.0)  # level 1, until 11
    # a call that started at 9.5 (before the cooldown was set at 10) times out at 12
    fail(cd, started=9.5, now=12.0, seconds=2.0)
    assert cd.level("acct", "m") == 1


# clear / reset / snapshot -----------------------------------------------------------------------------------


def test_success_clears_model_and_account_wide_state() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=1.0, model="m")
    fail(cd, started=0.0, now=1.0, model="m", scope="account")
    fail(cd, started=0.0, now=1.0, model="other")
    cd.clear("acct", "m")
    assert cd.remaining("acct", "m", 2.0) is None
    assert cd.level("acct", "m") == 0
    assert cd.remaining("acct", "other", 2.0) == pytest.approx(9.0)
    assert fail(cd, started=3.0, now=4.0) == 10.0
    assert cd.level("acct", "m") == 1


def test_clear_of_unknown_entry_is_harmless() -> None:
    Cooldowns().clear("nobody", "nothing")


def test_reset_one_account_or_all() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=1.0, account="a", model="x")
    fail(cd, started=0.0, now=1.0, account="a", scope="account")
    fail(cd, started=0.0, now=1.0, account="b", model="x")
    assert cd.reset("a") == 2
    assert cd.remaining("a", "x", 2.0) is None
    assert cd.remaining("b", "x", 2.0) is not None
    assert cd.reset("a") == 0
    assert cd.reset() == 1
    assert cd.snapshot(2.0) == []


def test_snapshot_lists_active_entries_sorted() -> None:
    cd = Cooldowns()
    fail(cd, started=0.0, now=1.0, account="b", model="x", seconds=2.0, reason="transient")
    fail(cd, started=0.0, now=1.0, account="a", model="y", seconds=10.12345, reason="rate_limit")
    fail(cd, started=0.0, now=1.0, account="a", scope="account", seconds=100.0, reason="auth")
    fail(cd, started=0.0, now=1.0, account="c", model="z", seconds=0.5, reason="transient")
    assert cd.snapshot(2.0) == [
        {"account": "a", "model": None, "remaining_s": 99.0, "level": 1, "reason": "auth"},
        {"account": "a", "model": "y", "remaining_s": 9.123, "level": 1, "reason": "rate_limit"},
        {"account": "b", "model": "x", "remaining_s": 1.0, "level": 1, "reason": "transient"},
    ]


# properties --------------------------------------------------------------------------------------------------

calls = st.lists(
    st.tuples(st.integers(0, 50), st.integers(0, 20), st.booleans()), min_size=1, max_size=25
)  # (start tick, duration ticks, failed?)


@settings(max_examples=300, deadline=None)
@given(schedule=calls, seconds=st.sampled_from([1_000.0, 5_000.0]))
def test_level_rises_only_for_failures_started_after_the_last_cooldown(
    schedule: list[tuple[int, int, bool]], seconds: float
) -> None:
    """Concurrent failures (cooldowns outlast the schedule): the level counts exactly the
    failures whose call started after the previous cooldown was set; the others change nothing."""
    cd = Cooldowns()
    events = sorted(((start + length, start) for start, length, failed in schedule if failed))
    set_at: float | None = None
    level = 0
    until = 0.0
    for end, start in events:
        now, started = float(end), float(start)
        fresh = set_at is None or started > set_at
        in_force = fail(cd, started=started, now=now, seconds=seconds)
        if fresh:
            level, set_at, until = level + 1, now, now + seconds
        assert cd.level("acct", "m") == level
        assert in_force == pytest.approx(until - now)
        assert cd.remaining("acct", "m", now) == pytest.approx(until - now)


@settings(max_examples=300, deadline=None)
@given(
    schedule=st.lists(
        st.tuples(
            st.integers(0, 60),  # start tick
            st.integers(0, 15),  # duration ticks
            st.sampled_from(["fail", "fail", "fail", "ok"]),
            st.sampled_from([1.0, 3.0, 8.0, 30.0]),  # cooldown seconds a failure asks for
        ),
        min_size=1,
        max_size=30,
    )
)
def test_anti_herd_contract_with_expiring_cooldowns_and_successes(
    schedule: list[tuple[int, int, str, float]],
) -> None:
    """Any schedule of overlapping calls ending in failure or success, cooldowns that expire:
    a failure started after the last cooldown was set escalates by exactly one and sets the
    requested cooldown; a failure started before it, while it is in force, changes nothing;
    a success clears everything; the level never exceeds the failures since the last success."""
    cd = Cooldowns()
    events = sorted((start + length, start, outcome, secs) for start, length, outcome, secs in schedule)
    set_at: float | None = None
    failures_since_success = 0
    for end, start, outcome, secs in events:
        now, started = float(end), float(start)
        before_level = cd.level("acct", "m")
        before_remaining = cd.remaining("acct", "m", now)
        if outcome == "ok":
            cd.clear("acct", "m")
            set_at, failures_since_success = None, 0
            assert (cd.level("acct", "m"), cd.remaining("acct", "m", now)) == (0, None)
            continue
        failures_since_success += 1
        in_force = fail(cd, started=started, now=now, seconds=secs)
        level = cd.level("acct", "m")
        if set_at is None or started > set_at:
            assert level == before_level + 1
            assert in_force == secs
            assert cd.remaining("acct", "m", now) == secs
        elif before_remaining is not None:
            assert level == before_level
            assert in_force == pytest.approx(before_remaining)
            assert cd.remaining("acct", "m", now) == pytest.approx(before_remaining)
        if level != before_level:
            set_at = now
        assert 1 <= level <= failures_since_success
