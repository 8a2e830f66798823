"""AccountSelector: which connection of a provider serves the next call, per strategy.

Round-robin fairness relies on one contract of the selector: a caller orders the accounts and
notes its pick (`note_attempt`) with no `await` in between, so concurrent calls see each other's
picks. The property test below interleaves many in-flight calls under that contract.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.routing.accounts import FAILURE_PENALTY, AccountSelector
from omniroute.routing.catalog import Account, build_catalog
from omniroute.store.records import ConnectionRow


def accounts(*names: str, priorities: Sequence[int] | None = None, provider: str = "openai") -> list[Account]:
    """The accounts the catalog builds for these connections (best priority first)."""
    prios = list(priorities) if priorities is not None else [1] * len(names)
    rows = [
        ConnectionRow(
            id=index + 1,
            provider=provider,
            name=name,
            base_url=None,
            priority=prio,
            enabled=True,
            api_key=f"key-{name}",
            models=(),
        )
        for index, (name, prio) in enumerate(zip(names, prios, strict=True))
    ]
    return list(build_catalog(rows, [], []).accounts[provider])


def no_cooling(_: Account) -> float | None:
    return None


def names(found: Sequence[Account]) -> list[str]:
    return [a.name for a in found]


def pick(selector: AccountSelector, accs: Sequence[Account], strategy: str, *, now: float, k: int = 3) -> str:
    """One call: order, then note the first account (atomically, as the gateway does)."""
    ordered, _ = selector.order(accs, strategy=strategy, sticky_limit=k, cooling=no_cooling)
    selector.note_attempt(ordered[0], now)
    return ordered[0].name


class FixedPair(random.Random):
    """A Random whose `sample` returns a chosen pair (p2c's two candidates)."""

    def __init__(self, pair: tuple[str, str]) -> None:
        super().__init__(0)
        self.pair = pair

    def sample(  # type: ignore[override]
        self, population: Sequence[Account], k: int, *, counts: object = None
    ) -> list[Account]:
        chosen = [next(a for a in population if a.name == name) for name in self.pair]
        assert k == len(chosen)
        return chosen


# fill-first and friends ------------------------------------------------------------------------


def test_fill_first_keeps_priority_order_regardless_of_use() -> None:
    accs = accounts("c", "a", "b", priorities=[3, 1, 2])
    selector = AccountSelector()
    for now in range(1, 6):
        assert pick(selector, accs, "fill-first", now=float(now)) == "a"
    ordered, soonest = selector.order(accs, strategy="fill-first", sticky_limit=3, cooling=no_cooling)
    assert (names(ordered), soonest) == (["a", "b", "c"], None)


@pytest.mark.parametrize("strategy", ["cost-optimized", "no-such-strategy"])
def test_cost_optimized_and_unknown_strategy_keep_priority_order(strategy: str) -> None:
    accs = accounts("x", "y", "z", priorities=[2, 1, 3])
    selector = AccountSelector()
    for now in (1.0, 2.0, 3.0, 4.0):
        assert pick(selector, accs, strategy, now=now) == "y"
    ordered, _ = selector.order(accs, strategy=strategy, sticky_limit=3, cooling=no_cooling)
    assert names(ordered) == ["y", "x", "z"]


@pytest.mark.parametrize("strategy", ["fill-first", "round-robin", "p2c", "random", "least-used"])
def test_single_usable_account_is_returned_for_every_strategy(strategy: str) -> None:
    (only,) = accounts("solo")
    ordered, soonest = AccountSelector().order([only], strategy=strategy, sticky_limit=1, cooling=no_cooling)
    assert (names(ordered), soonest) == (["solo"], None)


def test_empty_account_list_gives_nothing_and_no_wait() -> None:
    assert AccountSelector().order([], strategy="p2c", sticky_limit=3, cooling=no_cooling) == ([], None)


# cooldowns -------------------------------------------------------------------------------------------


def test_cooling_accounts_are_left_out_and_soonest_wait_reported() -> None:
    accs = accounts("a", "b", "c", "d")
    waits = {"a": 30.0, "c": 4.5}
    ordered, soonest = AccountSelector().order(
        accs, strategy="fill-first", sticky_limit=3, cooling=lambda a: waits.get(a.name)
    )
    assert names(ordered) == ["b", "d"]
    assert soonest == 4.5


def test_all_accounts_cooling_gives_empty_list_and_soonest_reset() -> None:
    accs = accounts("a", "b", "c")
    waits = {"a": 12.0, "b": 3.0, "c": 7.0}
    for strategy in ("fill-first", "round-robin", "p2c", "random", "least-used", "cost-optimized"):
        ordered, soonest = AccountSelector().order(
            accs, strategy=strategy, sticky_limit=3, cooling=lambda a: waits[a.name]
        )
        assert (ordered, soonest) == ([], 3.0)


def test_zero_second_wait_still_counts_as_cooling() -> None:
    accs = accounts("a", "b")
    ordered, soonest = AccountSelector().order(
        accs, strategy="fill-first", sticky_limit=3, cooling=lambda a: 0.0 if a.name == "a" else None
    )
    assert (names(ordered), soonest) == (["b"], 0.0)


# round-robin ------------------------------------------------------------------------------------------


def test_round_robin_gives_each_account_sticky_limit_calls_in_turn() -> None:
    accs = accounts("a", "b", "c")
    selector = AccountSelector()
    picks = [pick(selector, accs, "round-robin", now=float(t), k=2) for t in range(1, 13)]
    assert picks == ["a", "a", "b", "b", "c", "c"] * 2


def test_round_robin_sticky_limit_one_alternates() -> None:
    accs = accounts("a", "b")
    selector = AccountSelector()
    picks = [pick(selector, accs, "round-robin", now=float(t), k=1) for t in range(1, 7)]
    assert picks == ["a", "b"] * 3


def test_round_robin_next_holder_is_least_recently_used() -> None:
    accs = accounts("a", "b", "c")
    selector = AccountSelector()
    # c served most recently long ago, a and b more recently: after the holder's turn the
    # oldest last use takes over.
    selector.note_attempt(accs[2], 1.0)
    selector.note_attempt(accs[1], 2.0)
    selector.note_attempt(accs[0], 3.0)
    assert pick(selector, accs, "round-robin", now=4.0, k=1) == "c"
    assert pick(selector, accs, "round-robin", now=5.0, k=1) == "b"


def test_round_robin_switch_resets_previous_holders_streak() -> None:
    accs = accounts("a", "b")
    selector = AccountSelector()
    for t in (1.0, 2.0, 3.0):
        pick(selector, accs, "round-robin", now=t, k=3)
    assert selector.snapshot()["openai/a"]["streak"] == 3
    assert pick(selector, accs, "round-robin", now=4.0, k=3) == "b"
    snap = selector.snapshot()
    assert (snap["openai/a"]["streak"], snap["openai/b"]["streak"]) == (0, 1)


def test_round_robin_skips_cooling_holder_and_hands_over_the_turn() -> None:
    accs = accounts("a", "b", "c")
    selector = AccountSelector()
    assert pick(selector, accs, "round-robin", now=1.0) == "a"
    ordered, _ = selector.order(
        accs, strategy="round-robin", sticky_limit=3, cooling=lambda a: 9.0 if a.name == "a" else None
    )
    assert names(ordered) == ["b", "c"]
    selector.note_attempt(ordered[0], 2.0)
    # b now holds the turn; a is back but must wait for b's streak to end
    assert [pick(selector, accs, "round-robin", now=t) for t in (3.0, 4.0, 5.0)] == ["b", "b", "c"]


def test_round_robin_state_is_kept_per_provider() -> None:
    oa = accounts("o1", "o2", provider="openai")
    ds = accounts("d1", "d2", provider="deepseek")
    selector = AccountSelector()
    seen: list[str] = []
    for t in range(1, 9):
        seen.append(pick(selector, oa, "round-robin", now=float(2 * t), k=2))
        seen.append(pick(selector, ds, "round-robin", now=float(2 * t + 1), k=2))
    assert seen[0::2] == ["o1", "o1", "o2", "o2"] * 2
    assert seen[1::2] == ["d1", "d1", "d2", "d2"] * 2


def test_round_robin_order_without_note_does_not_advance() -> None:
    """Why ordering and noting must not be split by an `await`: two calls that both order
    before either notes its pick get the same account (the turn only moves on a note)."""
    accs = accounts("a", "b")
    selector = AccountSelector()
    first, _ = selector.order(accs, strategy="round-robin", sticky_limit=1, cooling=no_cooling)
    second, _ = selector.order(accs, strategy="round-robin", sticky_limit=1, cooling=no_cooling)
    assert names(first)[0] == names(second)[0] == "a"


def test_round_robin_hands_over_after_sticky_limit_even_when_times_tie() -> None:
    accs = accounts("a", "b", "c")
    selector = AccountSelector()
    picks = [pick(selector, accs, "round-robin", now=5.0, k=2) for _ in range(12)]
    assert Counter(picks) == {"a": 4, "b": 4, "c": 4}


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 4),
    k=st.integers(1, 3),
    cycles=st.integers(1, 2),
    extra=st.integers(0, 19),
    priorities=st.lists(st.integers(0, 3), min_size=5, max_size=5),
    data=st.data(),
)
def test_round_robin_fair_under_any_interleaving_of_calls(
    n: int, k: int, cycles: int, extra: int, priorities: list[int], data: st.DataObject
) -> None:
    """Calls start (order + note_attempt, atomically) and finish (note_result, ok or not) in any
    interleaving. After `cycles·k·n` picks every account has exactly `cycles·k` of them (so floor
    and ceil of calls/n coincide), the picks come in runs of exactly k, and at any count the
    busiest and idlest accounts differ by at most k."""
    accs = accounts(*(f"acct{i}" for i in range(n)), priorities=priorities[:n])
    selector = AccountSelector(random.Random(0))
    total = cycles * k * n + extra % (k * n)
    in_flight: list[Account] = []
    picks: list[str] = []
    clock = 0.0
    while len(picks) < total or in_flight:
        finish = bool(in_flight) and (len(picks) == total or data.draw(st.booleans(), label="finish"))
        if finish:
            done = in_flight.pop(data.draw(st.integers(0, len(in_flight) - 1), label="which"))
            selector.note_result(done, ok=data.draw(st.booleans(), label="ok"))
            continue
        clock += data.draw(st.sampled_from([0.001, 0.5, 7.0]), label="gap")
        ordered, soonest = selector.order(accs, strategy="round-robin", sticky_limit=k, cooling=no_cooling)
        assert soonest is None
        assert sorted(names(ordered)) == sorted(names(accs))
        selector.note_attempt(ordered[0], clock)
        in_flight.append(ordered[0])
        picks.append(ordered[0].name)
        counts = Counter(picks)
        assert max(counts.values()) - min(counts.get(a.name, 0) for a in accs) <= k
    whole = picks[: cycles * k * n]
    assert Counter(whole) == {a.name: cycles * k for a in accs}
    runs = [whole[i : i + k] for i in range(0, len(whole), k)]
    assert all(len(set(run)) == 1 for run in runs)
    if n > 1:
        assert all(a[0] != b[0] for a, b in pairwise(runs))


# least-used ----------------------------------------------------------------------------------------------


def test_least_used_orders_by_oldest_last_use_then_priority() -> None:
    accs = accounts("a", "b", "c", priorities=[1, 2, 3])
    selector = AccountSelector()
    ordered, _ = selector.order(accs, strategy="least-used", sticky_limit=3, cooling=no_cooling)
    assert names(ordered) == ["a", "b", "c"]
    selector.note_attempt(accs[0], 10.0)
    selector.note_attempt(accs[2], 5.0)
    ordered, _ = selector.order(accs, strategy="least-used", sticky_limit=3, cooling=no_cooling)
    assert names(ordered) == ["b", "c", "a"]


def test_least_used_rotates_through_accounts() -> None:
    accs = accounts("a", "b", "c")
    selector = AccountSelector()
    picks = [pick(selector, accs, "least-used", now=float(t)) for t in range(1, 10)]
    assert picks == ["a", "b", "c"] * 3


# p2c ----------------------------------------------------------------------------------------------------


def test_p2c_prefers_the_candidate_whose_last_call_succeeded() -> None:
    accs = accounts("a", "b")
    selector = AccountSelector(random.Random(7))
    selector.note_result(accs[0], ok=False)
    # b keeps winning while its streak stays below a's failure penalty
    for t in range(1, FAILURE_PENALTY + 1):
        ordered, _ = selector.order(accs, strategy="p2c", sticky_limit=3, cooling=no_cooling)
        assert names(ordered) == ["b", "a"]
        selector.note_attempt(ordered[0], float(t))
        selector.note_result(ordered[0], ok=True)


def test_p2c_pair_first_sorted_by_score_then_the_rest() -> None:
    accs = accounts("a", "b", "c", "d")
    selector = AccountSelector(FixedPair(("c", "a")))
    selector.note_attempt(accs[0], 1.0)  # a: streak 1
    selector.note_result(accs[1], ok=False)  # b: failed, score 10
    ordered, _ = selector.order(accs, strategy="p2c", sticky_limit=3, cooling=no_cooling)
    # the pair (c: 0, a: 1) comes first in score order, then the rest (d: 0, b: 10)
    assert names(ordered) == ["c", "a", "d", "b"]


def test_p2c_failure_penalty_outweighs_a_short_streak() -> None:
    accs = accounts("a", "b")
    selector = AccountSelector(FixedPair(("a", "b")))
    for t in range(FAILURE_PENALTY - 1):
        selector.note_attempt(accs[0], float(t + 1))  # a: streak 9, healthy
    selector.note_result(accs[1], ok=False)  # b: streak 0, failed -> 10
    ordered, _ = selector.order(accs, strategy="p2c", sticky_limit=3, cooling=no_cooling)
    assert names(ordered) == ["a", "b"]
    selector.note_attempt(accs[0], 20.0)
    selector.note_attempt(accs[0], 21.0)  # a: streak 11 > 10
    ordered, _ = selector.order(accs, strategy="p2c", sticky_limit=3, cooling=no_cooling)
    assert names(ordered) == ["b", "a"]


def test_p2c_first_pick_always_from_the_sampled_pair_and_best_of_it() -> None:
    accs = accounts("a", "b", "c", "d", "e")
    rng = random.Random(3)
    selector = AccountSelector(rng)

    def score(name: str) -> int:
        usage = selector.snapshot().get(f"openai/{name}", {"streak": 0, "last_failed": False})
        return int(str(usage["streak"])) + (FAILURE_PENALTY if usage["last_failed"] else 0)

    for t in range(1, 60):
        replay = random.Random()
        replay.setstate(rng.getstate())
        pair = {a.name for a in replay.sample(accs, 2)}
        ordered, _ = selector.order(accs, strategy="p2c", sticky_limit=3, cooling=no_cooling)
        assert {ordered[0].name, ordered[1].name} == pair
        assert score(ordered[0].name) == min(score(name) for name in pair)
        assert sorted(names(ordered)) == sorted(names(accs))
        selector.note_attempt(ordered[0], float(t))
        selector.note_result(ordered[0], ok=t % 3 != 0)


# random --------------------------------------------------------------------------------------------------


def test_random_returns_a_permutation_and_spreads_first_picks() -> None:
    accs = accounts("a", "b", "c", "d")
    selector = AccountSelector(random.Random(11))
    firsts: Counter[str] = Counter()
    for t in range(200):
        ordered, _ = selector.order(accs, strategy="random", sticky_limit=3, cooling=no_cooling)
        assert sorted(names(ordered)) == ["a", "b", "c", "d"]
        selector.note_attempt(ordered[0], float(t))
        firsts[ordered[0].name] += 1
    assert set(firsts) == {"a", "b", "c", "d"}
    assert min(firsts.values()) > 20


def test_random_with_same_seed_is_reproducible() -> None:
    accs = accounts("a", "b", "c", "d", "e")

    def run() -> list[list[str]]:
        selector = AccountSelector(random.Random(5))
        return [
            names(selector.order(accs, strategy="random", sticky_limit=3, cooling=no_cooling)[0])
            for _ in range(10)
        ]

    assert run() == run()


# bookkeeping ---------------------------------------------------------------------------------------------


def test_note_result_and_attempt_show_in_snapshot() -> None:
    accs = accounts("b", "a")
    selector = AccountSelector()
    selector.note_attempt(accs[1], 12.34567)
    selector.note_result(accs[1], ok=False)
    selector.note_attempt(accs[0], 13.0)
    selector.note_result(accs[0], ok=True)
    assert selector.snapshot() == {
        "openai/a": {"last_used": 12.346, "streak": 0, "last_failed": True},
        "openai/b": {"last_used": 13.0, "streak": 1, "last_failed": False},
    }
    selector.note_result(accs[1], ok=True)
    assert selector.snapshot()["openai/a"]["last_failed"] is False


def test_fresh_selector_snapshot_is_empty() -> None:
    assert AccountSelector().snapshot() == {}
