"""Cooldowns per (account, model), or per account for account-wide failures (auth, quota).

Anti-thundering-herd: a failure of a call that started before the current cooldown was set is
the same incident seen by a concurrent call, so it neither extends the cooldown nor raises its
level. A success clears the model's cooldown state and the account-wide one.
"""

from __future__ import annotations

from typing import Literal

import msgspec

ACCOUNT_WIDE = "*"


class Cooldown(msgspec.Struct, kw_only=True):
    until: float
    level: int
    set_at: float
    reason: str


class Cooldowns:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Cooldown] = {}

    def remaining(self, account: str, model: str, now: float) -> float | None:
        """Seconds until the account may serve `model` again, or None when it may now."""
        found = None
        for key in ((account, model), (account, ACCOUNT_WIDE)):
            entry = self._entries.get(key)
            if entry is not None and entry.until > now:
                found = max(found or 0.0, entry.until - now)
        return found

    def level(self, account: str, model: str) -> int:
        """Consecutive cooldowns so far (the `n` of exponential backoff)."""
        entry = self._entries.get((account, model))
        return entry.level if entry is not None else 0

    def record(
        self,
        account: str,
        model: str,
        *,
        scope: Literal["model", "account"],
        seconds: float,
        started_at: float,
        now: float,
        reason: str,
    ) -> float:
        """Sets a cooldown unless a concurrent failure already did; returns the seconds in force."""
        key = (account, model if scope == "model" else ACCOUNT_WIDE)
        current = self._entries.get(key)
        if current is not None and current.set_at >= started_at:
            # The same incident seen by a call that was already under way (even if it reports
            # after the cooldown ended): neither extend nor escalate.
            return max(current.until - now, 0.0)
        level = (current.level if current is not None else 0) + 1
        self._entries[key] = Cooldown(until=now + seconds, level=level, set_at=now, reason=reason)
        return seconds

    def clear(self, account: str, model: str) -> None:
        self._entries.pop((account, model), None)
        self._entries.pop((account, ACCOUNT_WIDE), None)

    def reset(self, account: str | None = None) -> int:
        keys = [k for k in self._entries if account is None or k[0] == account]
        for key in keys:
            del self._entries[key]
        return len(keys)

    def snapshot(self, now: float) -> list[dict[str, object]]:
        return [
            {
                "account": account,
                "model": None if model == ACCOUNT_WIDE else model,
                "remaining_s": round(entry.until - now, 3),
                "level": entry.level,
                "reason": entry.reason,
            }
            for (account, model), entry in sorted(self._entries.items())
            if entry.until > now
        ]
