"""Per-key admission: budgets (daily / weekly / monthly USD) and request, token and
concurrency limits, checked before a call is routed.

- `rpm`: calls admitted in the last 60 s (sliding window).
- `tpm`: tokens in the last 60 s. A call is admitted against its estimate (prompt size plus
  `max_tokens`); when it ends the estimate is replaced by the real usage (input + output). A
  call is refused when the window already holds tokens and the estimate would pass the limit,
  so one call larger than the whole limit still runs when the window is empty.
- `max_concurrent`: calls of the key in flight.
- budgets: USD spent in the current UTC day, ISO week (from Monday 00:00 UTC) and calendar
  month (UTC), read from the spend ledger (rollups + costs not yet committed; no SQLite query
  per request). At `budget_warning` (a share, 0.8 = 80 %) of a budget the call still runs, is
  logged once per period, and its answer carries `x-omniroute-budget-warning`.

A refused call raises GatewayError 429 (rendered in the client's dialect) with `retry-after`:
seconds until the window frees enough room, or until the budget period resets. Codes:
`budget_exceeded`, `key_rate_limited`, `key_concurrency_limited`. Limits of 0 or None are off.

Counts (rpm, tpm, concurrency) are per process: with several workers each enforces the limit
on its own share. Budgets read the shared rollups, so they hold across workers (up to the
ledger's refresh interval).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec

from omniroute import _core
from omniroute.errors import GatewayError
from omniroute.store.records import ApiKeyRow
from omniroute.store.spend_ledger import SpendLedger

log = logging.getLogger("omniroute.keys")

WINDOW = 60.0
BUDGET_WARNING_HEADER = "x-omniroute-budget-warning"


class KeyLimits(msgspec.Struct, frozen=True, kw_only=True):
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    daily_budget: float | None = None
    weekly_budget: float | None = None
    monthly_budget: float | None = None
    budget_warning: float = 0.8

    def budgets(self) -> list[tuple[str, float]]:
        found = (
            ("daily", self.daily_budget),
            ("weekly", self.weekly_budget),
            ("monthly", self.monthly_budget),
        )
        return [(period, amount) for period, amount in found if amount is not None and amount > 0]

    @property
    def counted(self) -> bool:
        return any(v is not None and v > 0 for v in (self.rpm, self.tpm, self.max_concurrent))


#: Key rows whose limits `KeyPolicy` keeps worked out (emptied when full).
_LIMITS_MEMO = 4096


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _positive_float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def key_limits(key: ApiKeyRow) -> KeyLimits:
    """The limits a key row carries (0 or None = off; a warning share outside (0, 1] = 0.8)."""
    warning = _positive_float(key.budget_warning)
    return KeyLimits(
        rpm=_positive_int(key.rpm),
        tpm=_positive_int(key.tpm),
        max_concurrent=_positive_int(key.max_concurrent),
        daily_budget=_positive_float(key.daily_budget),
        weekly_budget=_positive_float(key.weekly_budget),
        monthly_budget=_positive_float(key.monthly_budget),
        budget_warning=0.8 if warning is None or warning > 1 else warning,
    )


class BudgetPeriod(msgspec.Struct, frozen=True):
    name: str
    #: First UTC day of the period ('YYYY-MM-DD') and the Unix time it ends.
    start_day: str
    resets_at: float


def budget_periods(now: float) -> dict[str, BudgetPeriod]:
    """The UTC day, ISO week (Monday start) and calendar month containing `now`."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return {
        "daily": BudgetPeriod("daily", today.strftime("%Y-%m-%d"), (today + timedelta(days=1)).timestamp()),
        "weekly": BudgetPeriod("weekly", week.strftime("%Y-%m-%d"), (week + timedelta(days=7)).timestamp()),
        "monthly": BudgetPeriod("monthly", month.strftime("%Y-%m-%d"), next_month.timestamp()),
    }


def _retry_after(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(1, math.ceil(seconds)))}


class _TokenEntry:
    __slots__ = ("at", "live", "tokens")

    def __init__(self, at: float, tokens: int) -> None:
        self.at = at
        self.tokens = tokens
        self.live = True


class _KeyState:
    """Windows and in-flight count of one key in this process."""

    __slots__ = ("in_flight", "requests", "token_sum", "tokens")

    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        self.tokens: deque[_TokenEntry] = deque()
        self.token_sum = 0
        self.in_flight = 0

    def prune(self, now: float) -> None:
        cutoff = now - WINDOW
        while self.requests and self.requests[0] <= cutoff:
            self.requests.popleft()
        while self.tokens and self.tokens[0].at <= cutoff:
            entry = self.tokens.popleft()
            entry.live = False
            self.token_sum -= entry.tokens

    def tokens_free_in(self, now: float, needed: int, limit: int) -> float:
        """Seconds until the window has room for `needed` tokens (or is empty)."""
        used = self.token_sum
        for entry in self.tokens:
            used -= entry.tokens
            if used <= 0 or used + needed <= limit:
                return entry.at + WINDOW - now
        return 0.0


class Admission:
    """One admitted call; `release` is called exactly once when it ends."""

    #: Response headers for the client (budget warnings).
    headers: tuple[tuple[str, str], ...] = ()

    def release(self, usage: _core.Usage | None, cost_usd: float | None) -> None:
        return None


#: What a key without limits or budgets gets: nothing to count, nothing to release.
FREE_ADMISSION = Admission()


class _CountedAdmission(Admission):
    def __init__(
        self, state: _KeyState, entry: _TokenEntry | None, headers: tuple[tuple[str, str], ...]
    ) -> None:
        self._state = state
        self._entry = entry
        self._released = False
        self.headers = headers

    def release(self, usage: _core.Usage | None, cost_usd: float | None) -> None:
        if self._released:
            return
        self._released = True
        state = self._state
        state.in_flight = max(state.in_flight - 1, 0)
        entry = self._entry
        if entry is not None and usage is not None:
            real = usage.input_tokens + usage.output_tokens
            if entry.live:
                state.token_sum += real - entry.tokens
            entry.tokens = real


class KeyPolicy:
    def __init__(
        self,
        ledger: SpendLedger | None = None,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ledger = ledger if ledger is not None else SpendLedger()
        self._clock = clock
        self._monotonic = monotonic
        self._states: dict[str, _KeyState] = {}
        #: (key id, period) -> the period start last warned about, so the log says it once.
        self._warned: dict[tuple[str, str], str] = {}
        self._limits: dict[int, tuple[ApiKeyRow, tuple[KeyLimits, list[tuple[str, float]], bool]]] = {}

    async def admit(self, key: ApiKeyRow | None, *, dialect: str, estimated_tokens: int) -> Admission:
        """Raises GatewayError (429 with retry-after) when the key is over a limit or budget."""
        if key is None:
            return FREE_ADMISSION
        limits, budgets, counted = self._limits_of(key)
        if not budgets and not counted:
            return FREE_ADMISSION
        headers: tuple[tuple[str, str], ...] = ()
        if budgets:
            headers = await self._check_budgets(key, limits, budgets)
        return self._count(key, limits, max(estimated_tokens, 0), headers)

    def _limits_of(self, key: ApiKeyRow) -> tuple[KeyLimits, list[tuple[str, float]], bool]:
        """A key row's limits, budgets and whether it is counted, worked out once per row object
        (rows are immutable; a changed key arrives as a new row with the reloaded catalog)."""
        cached = self._limits.get(id(key))
        if cached is not None and cached[0] is key:
            return cached[1]
        limits = key_limits(key)
        found = (limits, limits.budgets(), limits.counted)
        if len(self._limits) >= _LIMITS_MEMO:
            self._limits.clear()
        # The row is kept with its entry, so its id cannot be reused while the entry exists.
        self._limits[id(key)] = (key, found)
        return found

    def spent(self, api_key_id: str, now: float | None = None) -> dict[str, float]:
        """USD spent per budget period as this process knows it (without refreshing)."""
        periods = budget_periods(self._clock() if now is None else now)
        days = self._ledger.day_totals(api_key_id)
        return {
            name: round(sum(cost for day, cost in days.items() if day >= period.start_day), 10)
            for name, period in periods.items()
        }

    async def _check_budgets(
        self, key: ApiKeyRow, limits: KeyLimits, budgets: list[tuple[str, float]]
    ) -> tuple[tuple[str, str], ...]:
        now = self._clock()
        periods = budget_periods(now)
        # Load from the earliest period start, so `spent` is complete for every period.
        since = min(period.start_day for period in periods.values())
        if self._ledger.needs_refresh(key.id, since):
            await asyncio.to_thread(self._ledger.refresh, key.id, since)
        spent = self.spent(key.id, now)
        over = [(name, amount) for name, amount in budgets if spent[name] >= amount]
        if over:
            # Every exhausted budget must reset before the key may spend again.
            name, amount = max(over, key=lambda item: periods[item[0]].resets_at)
            wait = periods[name].resets_at - now
            raise GatewayError(
                429,
                f"Budget exceeded: API key '{key.name}' spent ${spent[name]:.4f} of its {name} budget of "
                f"${amount:.4f} (UTC {name} period; resets in {max(1, math.ceil(wait))} s)",
                code="budget_exceeded",
                headers=_retry_after(wait),
            )
        warnings: list[str] = []
        for name, amount in budgets:
            if spent[name] >= limits.budget_warning * amount:
                warnings.append(f"{name}; spent={spent[name]:.6f}; budget={amount:.6f}")
                if self._warned.get((key.id, name)) != periods[name].start_day:
                    self._warned[(key.id, name)] = periods[name].start_day
                    log.warning(
                        "API key '%s' has used %.0f%% of its %s budget ($%.4f of $%.4f)",
                        key.name,
                        100 * spent[name] / amount,
                        name,
                        spent[name],
                        amount,
                    )
        return ((BUDGET_WARNING_HEADER, ", ".join(warnings)),) if warnings else ()

    def _count(
        self, key: ApiKeyRow, limits: KeyLimits, estimate: int, headers: tuple[tuple[str, str], ...]
    ) -> Admission:
        state = self._states.get(key.id)
        if state is None:
            state = self._states[key.id] = _KeyState()
        now = self._monotonic()
        state.prune(now)
        if limits.max_concurrent is not None and state.in_flight >= limits.max_concurrent:
            raise GatewayError(
                429,
                f"Concurrency limit: API key '{key.name}' already has {state.in_flight} calls in flight "
                f"(max_concurrent {limits.max_concurrent})",
                code="key_concurrency_limited",
                headers=_retry_after(1),
            )
        if limits.rpm is not None and len(state.requests) >= limits.rpm:
            wait = state.requests[len(state.requests) - limits.rpm] + WINDOW - now
            raise GatewayError(
                429,
                f"Rate limit: API key '{key.name}' is limited to {limits.rpm} requests per minute",
                code="key_rate_limited",
                headers=_retry_after(wait),
            )
        if limits.tpm is not None and state.token_sum > 0 and state.token_sum + estimate > limits.tpm:
            wait = state.tokens_free_in(now, estimate, limits.tpm)
            raise GatewayError(
                429,
                f"Rate limit: API key '{key.name}' is limited to {limits.tpm} tokens per minute "
                f"({state.token_sum} used in the last minute, this call needs about {estimate})",
                code="key_rate_limited",
                headers=_retry_after(wait),
            )
        state.in_flight += 1
        if limits.rpm is not None:
            state.requests.append(now)
        entry: _TokenEntry | None = None
        if limits.tpm is not None:
            entry = _TokenEntry(now, estimate)
            state.tokens.append(entry)
            state.token_sum += estimate
        return _CountedAdmission(state, entry, headers)
