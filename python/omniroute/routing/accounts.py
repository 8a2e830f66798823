"""Account selection: which connection of a provider serves the next call.

Strategies: `fill-first` (priority order), `round-robin` (an account keeps `sticky_limit`
calls in a row, then the least recently used takes over), `p2c` (two random candidates, lower
score first: consecutive uses + 10 when its last call failed), `random`, `least-used` (oldest
last use first), `cost-optimized` (accounts of one provider cost the same: priority order).
Accounts in cooldown are left out. Ordering and noting the pick happen without an `await` in
between, so concurrent calls see each other's picks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from omniroute.routing.catalog import Account

FAILURE_PENALTY = 10


class _Usage:
    __slots__ = ("failed", "last_used", "picked", "streak")

    def __init__(self) -> None:
        self.last_used = 0.0
        #: Sequence number of the last pick: strictly increasing, so equal clock readings
        #: cannot tie (a coarse clock must not make one account win every rotation).
        self.picked = 0
        self.streak = 0
        self.failed = False


class AccountSelector:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._usage: dict[str, _Usage] = {}
        self._picks = 0
        #: Per provider: the account currently holding the round-robin turn.
        self._current: dict[str, str] = {}

    def _u(self, account: Account) -> _Usage:
        found = self._usage.get(account.key)
        if found is None:
            found = self._usage[account.key] = _Usage()
        return found

    def order(
        self,
        accounts: Sequence[Account],
        *,
        strategy: str,
        sticky_limit: int,
        cooling: Callable[[Account], float | None],
    ) -> tuple[list[Account], float | None]:
        """(usable accounts best first, soonest end of a cooldown among the others)."""
        usable: list[Account] = []
        soonest: float | None = None
        for account in accounts:
            wait = cooling(account)
            if wait is None:
                usable.append(account)
            else:
                soonest = wait if soonest is None else min(soonest, wait)
        if len(usable) > 1:
            usable = self._ordered(usable, strategy, sticky_limit)
        return usable, soonest

    def _ordered(self, accounts: list[Account], strategy: str, sticky_limit: int) -> list[Account]:
        by_last_use = sorted(accounts, key=lambda a: (self._u(a).last_used, self._u(a).picked, a.priority))
        match strategy:
            case "round-robin":
                current = self._current.get(accounts[0].provider.id)
                holder = next((a for a in accounts if a.key == current), None)
                if holder is not None and self._u(holder).streak < sticky_limit:
                    return [holder, *(a for a in by_last_use if a is not holder)]
                return by_last_use
            case "p2c":
                first, second = self._rng.sample(accounts, 2)
                pair = sorted((first, second), key=self._score)
                rest = sorted((a for a in accounts if a is not first and a is not second), key=self._score)
                return [*pair, *rest]
            case "random":
                shuffled = list(accounts)
                self._rng.shuffle(shuffled)
                return shuffled
            case "least-used":
                return by_last_use
            case _:
                return list(accounts)

    def _score(self, account: Account) -> int:
        usage = self._u(account)
        return usage.streak + (FAILURE_PENALTY if usage.failed else 0)

    def note_attempt(self, account: Account, now: float) -> None:
        """Called when a call is sent to `account` (before any await)."""
        provider = account.provider.id
        if self._current.get(provider) != account.key:
            previous = self._current.get(provider)
            if previous is not None and previous in self._usage:
                self._usage[previous].streak = 0
            self._current[provider] = account.key
        usage = self._u(account)
        usage.streak += 1
        usage.last_used = now
        self._picks += 1
        usage.picked = self._picks

    def note_result(self, account: Account, *, ok: bool) -> None:
        self._u(account).failed = not ok

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {
            key: {"last_used": round(u.last_used, 3), "streak": u.streak, "last_failed": u.failed}
            for key, u in sorted(self._usage.items())
        }
