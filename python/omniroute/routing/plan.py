"""A call's plan: the ordered targets to try and the retry policy that applies.

A model string is resolved to one target; a combo name is expanded (nested combos included,
each ordered by its own strategy) into several. Entries that cannot be resolved (no connection,
unknown model) are left out; only if none remains is the call answered with the first error.
"""

from __future__ import annotations

import msgspec

from omniroute.errors import GatewayError
from omniroute.providers.pricing import input_price
from omniroute.routing.catalog import Catalog
from omniroute.routing.combos import Combo, ComboOrdering
from omniroute.routing.resolve import Target, check_model_string, resolve_model
from omniroute.settings import RoutingSettings


class CallPolicy(msgspec.Struct, frozen=True, kw_only=True):
    max_retries: int
    retry_delay: float
    concurrency_per_model: int
    queue_timeout: float


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    targets: tuple[Target, ...]
    combo: str | None
    strategy: str | None
    policy: CallPolicy


def default_policy(routing: RoutingSettings) -> CallPolicy:
    return CallPolicy(
        max_retries=routing.max_retries,
        retry_delay=routing.retry_delay,
        concurrency_per_model=routing.concurrency_per_model,
        queue_timeout=routing.queue_timeout,
    )


def combo_policy(combo: Combo, routing: RoutingSettings) -> CallPolicy:
    s = combo.settings
    return CallPolicy(
        max_retries=routing.max_retries if s.max_retries is None else s.max_retries,
        retry_delay=routing.retry_delay if s.retry_delay is None else s.retry_delay,
        concurrency_per_model=routing.concurrency_per_model
        if s.concurrency_per_model is None
        else s.concurrency_per_model,
        queue_timeout=routing.queue_timeout if s.queue_timeout is None else s.queue_timeout,
    )


def build_plan(
    catalog: Catalog,
    model: str,
    *,
    pinned_provider: str | None,
    routing: RoutingSettings,
    ordering: ComboOrdering,
    now: float,
) -> Plan:
    check_model_string(model)
    combo = catalog.combos.get(model) if pinned_provider is None else None
    if combo is None:
        target = resolve_model(catalog, model, pinned_provider=pinned_provider)
        return Plan(targets=(target,), combo=None, strategy=None, policy=default_policy(routing))
    if not combo.enabled:
        raise GatewayError(400, f"Combo '{combo.name}' is disabled", param="model", code="combo_disabled")
    errors: list[GatewayError] = []
    targets = _expand(catalog, combo, ordering, now, depth=1, max_depth=routing.max_depth, errors=errors)
    unique: list[Target] = []
    seen: set[tuple[str, str]] = set()
    for target in targets:
        key = (target.provider.id, target.model)
        if key not in seen:
            seen.add(key)
            unique.append(target)
    if not unique:
        if errors:
            raise errors[0]
        raise GatewayError(
            400, f"Combo '{combo.name}' has no usable model", param="model", code="combo_empty"
        )
    return Plan(
        targets=tuple(unique), combo=combo.name, strategy=combo.strategy, policy=combo_policy(combo, routing)
    )


def _expand(
    catalog: Catalog,
    combo: Combo,
    ordering: ComboOrdering,
    now: float,
    *,
    depth: int,
    max_depth: int,
    errors: list[GatewayError],
) -> list[Target]:
    resolved: dict[str, Target] = {}
    prices: dict[str, float] = {}
    for entry in combo.entries:
        if entry.model in catalog.combos:
            continue
        try:
            target = resolve_model(catalog, entry.model)
        except GatewayError as exc:
            errors.append(exc)
            continue
        resolved[entry.model] = msgspec.structs.replace(target, combo=combo.name)
        price = input_price(target.provider.id, target.model)
        if price is not None:
            prices[entry.model] = price
    out: list[Target] = []
    for entry in ordering.order(combo, now=now, price_of=prices):
        child = catalog.combos.get(entry.model)
        if child is not None:
            if child.enabled and depth < max_depth:
                out.extend(
                    _expand(
                        catalog, child, ordering, now, depth=depth + 1, max_depth=max_depth, errors=errors
                    )
                )
        elif entry.model in resolved:
            out.append(resolved[entry.model])
    return out
