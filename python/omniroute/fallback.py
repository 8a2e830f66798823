"""The fallback loop: try a plan's targets and their accounts in order until one answers.

Per target: skip it while its circuit (or its provider's) is open; order its accounts by the
provider's strategy, leaving out those in cooldown; for round-robin combos, take a per-model
concurrency slot. Per account: wait for an outbound slot, send, and on failure classify the
answer (one table, `resilience.classify`): retry the same account (transient failures, up to the
policy's retries), move to the next account, move to the next target, or stop. Cooldowns,
breaker failures and selection state are updated from the decision. When everything failed,
the client gets the most meaningful status, every attempt listed, `retry-after` when a
cooldown says when to come back, and `x-should-retry: false`.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING

from omniroute.attempt import AttemptFailure, AttemptInput, run_attempt
from omniroute.errors import GatewayError
from omniroute.http.request import Request
from omniroute.relay import RelayResult
from omniroute.resilience.classify import Decision, FailureKind, classify
from omniroute.routing.catalog import Account
from omniroute.routing.plan import Plan
from omniroute.routing.resolve import Target

if TYPE_CHECKING:
    from omniroute.gateway import CallState, Gateway


class AttemptRecord:
    __slots__ = ("kind", "label", "message", "status", "transport")

    def __init__(
        self, label: str, kind: str, status: int | None, message: str, *, transport: str | None = None
    ) -> None:
        self.label = label
        self.kind = kind
        self.status = status
        self.message = message
        #: "timeout", "connect" or "protocol" when the upstream gave no HTTP answer.
        self.transport = transport

    def describe(self) -> str:
        head = str(self.status) if self.status is not None else self.kind
        return f"{self.label}: {head} {self.message}".strip()


class _Outcome:
    """What the loop learned, for the final answer when nothing succeeded."""

    def __init__(self) -> None:
        self.attempts: list[AttemptRecord] = []
        self.retry_after: float | None = None
        #: The last upstream failure and its provider, to relay when every attempt agreed.
        self.last_failure: tuple[AttemptFailure, str] | None = None

    def last_kind(self) -> str | None:
        return str(self.attempts[-1].kind) if self.attempts else None

    def wait_hint(self, seconds: float | None) -> None:
        if seconds is not None and seconds > 0:
            self.retry_after = seconds if self.retry_after is None else min(self.retry_after, seconds)


def _provider_key(target: Target) -> str:
    return f"provider:{target.provider.id}"


def _target_key(target: Target) -> str:
    return f"target:{target.provider.id}/{target.model}"


async def run_plan(
    gateway: Gateway, req: Request, call: CallState, plan: Plan, attempt: AttemptInput
) -> RelayResult:
    rt = gateway.rt
    outcome = _Outcome()
    allowed = [t for t in plan.targets if gateway.key_allows(call.api_key, t)]
    if not allowed:
        raise gateway.model_not_allowed(plan.targets[0])
    for position, target in enumerate(allowed):
        if position:  # the previous target failed (or was skipped): the next one is tried
            rt.metrics.fallback(allowed[position - 1], target, outcome.last_kind())
        now = time.monotonic()
        if not rt.breakers.allow(_provider_key(target), now) or not rt.breakers.allow(
            _target_key(target), now
        ):
            outcome.attempts.append(AttemptRecord(target.label, "circuit_open", None, "circuit breaker open"))
            outcome.wait_hint(rt.breakers.get(_provider_key(target)).retry_in(now))
            continue
        slot = None
        if plan.strategy == "round-robin":
            slot = f"{plan.combo}|{target.label}"
            last = position == len(allowed) - 1
            timeout = plan.policy.queue_timeout if last else 0.0
            if not await rt.model_slots.acquire(slot, plan.policy.concurrency_per_model, timeout):
                outcome.attempts.append(
                    AttemptRecord(target.label, "busy", None, "model concurrency limit reached")
                )
                continue
        try:
            result = await _try_target(gateway, req, call, plan, target, attempt, outcome)
        finally:
            if slot is not None:
                rt.model_slots.release(slot)
        if result is not None:
            call.attempts = len(outcome.attempts) + 1
            if plan.combo is not None:
                rt.combo_ordering.note_used(plan.combo, target.model, time.monotonic())
            return result
    call.attempts = len(outcome.attempts)
    raise _exhausted(gateway, attempt.dialect, plan, outcome)


async def _try_target(
    gateway: Gateway,
    req: Request,
    call: CallState,
    plan: Plan,
    target: Target,
    attempt: AttemptInput,
    outcome: _Outcome,
) -> RelayResult | None:
    rt = gateway.rt
    routing = gateway.settings.routing
    provider_routing = routing.providers.get(target.provider.id)
    strategy = (provider_routing.account_strategy if provider_routing else None) or routing.account_strategy
    sticky = (provider_routing.sticky_limit if provider_routing else None) or routing.sticky_limit
    now = time.monotonic()
    accounts, cooling = rt.selector.order(
        target.accounts,
        strategy=strategy,
        sticky_limit=sticky,
        cooling=lambda a: rt.cooldowns.remaining(a.key, target.model, now),
    )
    if not accounts:
        outcome.attempts.append(
            AttemptRecord(target.label, "cooldown", None, "every account is cooling down")
        )
        outcome.wait_hint(cooling)
        return None
    for account in accounts:
        retries = 0
        while True:
            if not await rt.limits.acquire(
                account.key, timeout=gateway.settings.limits.queue_timeout, overrides=account.limits
            ):
                outcome.attempts.append(
                    AttemptRecord(_label(target, account), "limited", None, "outbound limit")
                )
                break
            started = time.monotonic()
            rt.selector.note_attempt(account, started)
            call.provider, call.model, call.connection_id = (
                target.provider.id,
                target.model,
                account.connection_id,
            )
            try:
                result = await run_attempt(gateway, req, attempt, target, account)
            except AttemptFailure as failure:
                decision = _note_failure(gateway, target, account, failure, started, outcome)
                if decision.retry_same_account and retries < plan.policy.max_retries:
                    retries += 1
                    if plan.policy.retry_delay:
                        await asyncio.sleep(plan.policy.retry_delay)
                    continue
                if not decision.next_account and not decision.next_target:
                    raise failure.as_client_error(target.provider.id) from None
                if not decision.next_account:
                    return None
                break
            finally:
                rt.limits.release(account.key)
            rt.metrics.upstream_attempt(
                target.provider.id, "success" if result.completed else "stream_failed"
            )
            rt.cooldowns.clear(account.key, target.model)
            rt.breakers.success(_provider_key(target))
            rt.breakers.success(_target_key(target))
            rt.selector.note_result(account, ok=True)
            return result
    return None


def _label(target: Target, account: Account) -> str:
    return f"{target.label} via {account.name}"


def _note_failure(
    gateway: Gateway,
    target: Target,
    account: Account,
    failure: AttemptFailure,
    started: float,
    outcome: _Outcome,
) -> Decision:
    rt = gateway.rt
    now = time.monotonic()
    decision = classify(
        failure.status,
        failure.headers,
        failure.body or failure.message.encode(),
        failures_so_far=rt.cooldowns.level(account.key, target.model),
        error=failure.transport,
        now=time.time(),
    )
    rt.metrics.upstream_attempt(target.provider.id, str(decision.kind))
    outcome.attempts.append(
        AttemptRecord(
            _label(target, account),
            decision.kind,
            failure.status,
            failure.message,
            transport=failure.transport,
        )
    )
    if decision.cooldown is not None and decision.cooldown_scope is not None:
        seconds = rt.cooldowns.record(
            account.key,
            target.model,
            scope=decision.cooldown_scope,
            seconds=decision.cooldown,
            started_at=started,
            now=now,
            reason=str(decision.kind),
        )
        if decision.kind in (FailureKind.RATE_LIMIT, FailureKind.QUOTA):
            outcome.wait_hint(seconds)
    if decision.counts_for_breaker:
        rt.breakers.failure(_provider_key(target), now)
        rt.breakers.failure(_target_key(target), now)
    rt.selector.note_result(account, ok=False)
    outcome.last_failure = (failure, target.provider.id)
    return decision


def _exhausted(gateway: Gateway, dialect: str, plan: Plan, outcome: _Outcome) -> GatewayError:
    kinds = {a.kind for a in outcome.attempts}
    listed = "; ".join(a.describe() for a in outcome.attempts)
    what = f"combo '{plan.combo}'" if plan.combo else plan.targets[0].label
    headers: dict[str, str] = {}
    if outcome.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(outcome.retry_after)))
        headers["retry-after-ms"] = str(max(1, math.ceil(outcome.retry_after * 1000)))
    statuses = {a.status for a in outcome.attempts}
    if outcome.last_failure is not None and len(statuses) == 1 and None not in statuses:
        # Every attempt got the same upstream answer: relay it as the upstream gave it (status,
        # type, message, rate-limit headers), noting the attempts when there were several.
        failure, provider = outcome.last_failure
        error = failure.as_client_error(provider)
        if len(outcome.attempts) > 1:
            error.message = f"{error.message} (after {len(outcome.attempts)} attempts: {listed})"
        error.headers.update(headers)
        return error
    if kinds & {FailureKind.RATE_LIMIT, FailureKind.QUOTA, "cooldown", "limited", "busy"}:
        status, code = 429, "rate_limited"
    elif kinds and kinds <= {FailureKind.NOT_FOUND}:
        status, code = 404, "model_not_found"
    elif kinds and kinds <= {FailureKind.AUTH}:
        status, code = 502, "upstream_auth_failed"
    elif outcome.attempts and all(a.transport == "timeout" for a in outcome.attempts):
        status, code = 504, "upstream_timeout"
    elif outcome.attempts and all(a.transport is not None for a in outcome.attempts):
        status, code = 502, "upstream_unreachable"
    else:
        status, code = (529 if dialect == "anthropic" else 503), "upstream_unavailable"
    count = len(outcome.attempts)
    message = f"All upstream attempts for {what} failed ({count}): {listed}"
    return GatewayError(status, message, code=code, headers=headers)
