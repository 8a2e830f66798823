"""build_plan: model string or combo -> ordered targets and the retry policy that applies."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from omniroute.errors import GatewayError
from omniroute.gateway import Gateway
from omniroute.providers.pricing import input_price
from omniroute.routing.catalog import Catalog, build_catalog
from omniroute.routing.combos import Combo, ComboEntry, ComboOrdering, ComboSettings
from omniroute.routing.plan import CallPolicy, Plan, build_plan
from omniroute.settings import RoutingSettings
from omniroute.store.records import ConnectionRow
from tests.support.rows import connection_row

ROUTING = RoutingSettings()


def conn(provider: str, row_id: int, *, enabled: bool = True) -> ConnectionRow:
    return connection_row(provider, row_id, enabled=enabled)


def combo(
    name: str,
    *models: str | tuple[str, int],
    strategy: str = "priority",
    enabled: bool = True,
    settings: ComboSettings | None = None,
) -> Combo:
    entries = tuple(
        ComboEntry(model=m) if isinstance(m, str) else ComboEntry(model=m[0], weight=m[1]) for m in models
    )
    return Combo(
        name=name, strategy=strategy, entries=entries, enabled=enabled, settings=settings or ComboSettings()
    )


def catalog(*combos: Combo, aliases: dict[str, str] | None = None) -> Catalog:
    rows = [
        conn("openai", 1),
        conn("deepseek", 2),
        conn("groq", 3),
        conn("minimax", 4),
        conn("minimax-cn", 5),
    ]
    return build_catalog(rows, [], [], combos=list(combos), aliases=aliases)


def plan(
    cat: Catalog,
    model: str,
    *,
    routing: RoutingSettings = ROUTING,
    ordering: ComboOrdering | None = None,
    pinned: str | None = None,
) -> Plan:
    return build_plan(
        cat,
        model,
        pinned_provider=pinned,
        routing=routing,
        ordering=ordering or ComboOrdering(random.Random(0)),
        now=1.0,
    )


def labels(p: Plan) -> list[str]:
    return [f"{t.provider.id}/{t.model}" for t in p.targets]


def plan_error(cat: Catalog, model: str, **kw: object) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        plan(cat, model, **kw)  # type: ignore[arg-type]
    return info.value


# single models ----------------------------------------------------------------------------------------


def test_plain_model_gives_one_target_and_the_default_policy() -> None:
    p = plan(catalog(), "ds/deepseek-chat")
    assert labels(p) == ["deepseek/deepseek-chat"]
    assert (p.combo, p.strategy) == (None, None)
    assert p.targets[0].combo is None
    assert p.policy == CallPolicy(max_retries=1, retry_delay=2.0, concurrency_per_model=3, queue_timeout=30.0)


def test_plain_model_policy_follows_routing_settings() -> None:
    routing = RoutingSettings(max_retries=4, retry_delay=0.5, concurrency_per_model=9, queue_timeout=1.0)
    assert plan(catalog(), "openai/gpt-4o", routing=routing).policy == CallPolicy(
        max_retries=4, retry_delay=0.5, concurrency_per_model=9, queue_timeout=1.0
    )


def test_plain_model_errors_propagate() -> None:
    failure = plan_error(catalog(), "anthropic/claude-sonnet-4-5")
    assert (failure.status, failure.code) == (400, "provider_not_configured")
    assert plan_error(catalog(), "MiniMax-M2").code == "ambiguous_model"


def test_model_string_is_checked_before_combo_lookup() -> None:
    cat = catalog(combo("../evil", "openai/gpt-4o"))
    assert plan_error(cat, "../evil").code == "invalid_model"


# combos ---------------------------------------------------------------------------------------------------


def test_combo_expands_in_priority_order_and_marks_targets() -> None:
    cat = catalog(combo("chain", "openai/gpt-4o", "ds/deepseek-chat", "groq/llama-3.3-70b-versatile"))
    p = plan(cat, "chain")
    assert labels(p) == ["openai/gpt-4o", "deepseek/deepseek-chat", "groq/llama-3.3-70b-versatile"]
    assert (p.combo, p.strategy) == ("chain", "priority")
    assert {t.combo for t in p.targets} == {"chain"}


def test_combo_name_wins_over_a_provider_prefix() -> None:
    cat = catalog(combo("openai/gpt-4o", "ds/deepseek-chat"))
    assert labels(plan(cat, "openai/gpt-4o")) == ["deepseek/deepseek-chat"]


def test_combo_name_wins_over_an_alias() -> None:
    cat = catalog(combo("fast", "groq/llama-3.3-70b-versatile"), aliases={"fast": "openai/gpt-4o"})
    assert labels(plan(cat, "fast")) == ["groq/llama-3.3-70b-versatile"]


def test_pinned_provider_bypasses_combos() -> None:
    cat = catalog(combo("fast", "ds/deepseek-chat"))
    p = plan(cat, "fast", pinned="openai")
    assert labels(p) == ["openai/fast"]
    assert p.combo is None


def test_disabled_combo_is_400() -> None:
    failure = plan_error(catalog(combo("off", "openai/gpt-4o", enabled=False)), "off")
    assert (failure.status, failure.code, failure.param) == (400, "combo_disabled", "model")


def test_combo_entries_resolve_aliases_and_bare_names() -> None:
    cat = catalog(combo("mix", "cheap", "deepseek-reasoner"), aliases={"cheap": "openai/gpt-4o-mini"})
    assert labels(plan(cat, "mix")) == ["openai/gpt-4o-mini", "deepseek/deepseek-reasoner"]


def test_unresolvable_entries_are_skipped() -> None:
    cat = catalog(
        combo(
            "partial",
            "anthropic/claude-sonnet-4-5",  # provider not connected
            "no-such-model",  # unknown with several providers
            "MiniMax-M2",  # ambiguous
            "ds/deepseek-chat",
        )
    )
    assert labels(plan(cat, "partial")) == ["deepseek/deepseek-chat"]


def test_all_entries_unresolvable_raises_the_first_error() -> None:
    cat = catalog(combo("broken", "anthropic/claude-sonnet-4-5", "no-such-model"))
    failure = plan_error(cat, "broken")
    assert (failure.status, failure.code) == (400, "provider_not_configured")


def test_combo_of_only_disabled_children_is_empty() -> None:
    cat = catalog(combo("outer", "inner"), combo("inner", "openai/gpt-4o", enabled=False))
    failure = plan_error(cat, "outer")
    assert (failure.status, failure.code) == (400, "combo_empty")


def test_duplicate_targets_are_removed_keeping_the_first() -> None:
    cat = catalog(
        combo(
            "dupes", "openai/gpt-4o", "ds/deepseek-chat", "gpt4", "openai/gpt-4o", "deepseek/deepseek-chat"
        ),
        aliases={"gpt4": "openai/gpt-4o"},
    )
    assert labels(plan(cat, "dupes")) == ["openai/gpt-4o", "deepseek/deepseek-chat"]


# nesting ---------------------------------------------------------------------------------------------------


def test_nested_combo_is_expanded_in_place() -> None:
    cat = catalog(
        combo("outer", "openai/gpt-4o", "inner", "groq/llama-3.3-70b-versatile"),
        combo("inner", "ds/deepseek-chat", "ds/deepseek-reasoner"),
    )
    p = plan(cat, "outer")
    assert labels(p) == [
        "openai/gpt-4o",
        "deepseek/deepseek-chat",
        "deepseek/deepseek-reasoner",
        "groq/llama-3.3-70b-versatile",
    ]
    # each target remembers its innermost combo; the plan keeps the outer one
    assert [t.combo for t in p.targets] == ["outer", "inner", "inner", "outer"]
    assert p.combo == "outer"


def test_disabled_nested_combo_is_skipped() -> None:
    cat = catalog(combo("outer", "inner", "openai/gpt-4o"), combo("inner", "ds/deepseek-chat", enabled=False))
    assert labels(plan(cat, "outer")) == ["openai/gpt-4o"]


def test_nested_duplicates_are_removed() -> None:
    cat = catalog(
        combo("outer", "left", "right"),
        combo("left", "openai/gpt-4o", "ds/deepseek-chat"),
        combo("right", "ds/deepseek-chat", "groq/llama-3.3-70b-versatile"),
    )
    assert labels(plan(cat, "outer")) == [
        "openai/gpt-4o",
        "deepseek/deepseek-chat",
        "groq/llama-3.3-70b-versatile",
    ]


def test_nesting_up_to_max_depth_is_expanded_and_deeper_levels_dropped() -> None:
    cat = catalog(
        combo("l1", "openai/gpt-4o", "l2"),
        combo("l2", "ds/deepseek-chat", "l3"),
        combo("l3", "groq/llama-3.3-70b-versatile", "l4"),
        combo("l4", "openai/o3"),
    )
    assert labels(plan(cat, "l1")) == [
        "openai/gpt-4o",
        "deepseek/deepseek-chat",
        "groq/llama-3.3-70b-versatile",
    ]
    assert labels(plan(cat, "l1", routing=RoutingSettings(max_depth=1))) == ["openai/gpt-4o"]
    assert labels(plan(cat, "l2", routing=RoutingSettings(max_depth=2))) == [
        "deepseek/deepseek-chat",
        "groq/llama-3.3-70b-versatile",
    ]


def test_nested_combo_is_ordered_by_its_own_strategy() -> None:
    cat = catalog(
        combo("outer", "inner", "openai/gpt-4o"),
        combo("inner", "ds/deepseek-chat", "groq/llama-3.3-70b-versatile", strategy="round-robin"),
    )
    ordering = ComboOrdering()
    firsts = [labels(plan(cat, "outer", ordering=ordering))[0] for _ in range(4)]
    assert firsts == ["deepseek/deepseek-chat", "groq/llama-3.3-70b-versatile"] * 2


# strategies through the plan -------------------------------------------------------------------------------------


def test_round_robin_combo_rotates_between_plans() -> None:
    cat = catalog(
        combo(
            "rr", "openai/gpt-4o", "ds/deepseek-chat", "groq/llama-3.3-70b-versatile", strategy="round-robin"
        )
    )
    ordering = ComboOrdering()
    assert [labels(plan(cat, "rr", ordering=ordering))[0] for _ in range(4)] == [
        "openai/gpt-4o",
        "deepseek/deepseek-chat",
        "groq/llama-3.3-70b-versatile",
        "openai/gpt-4o",
    ]
    assert plan(cat, "rr", ordering=ordering).strategy == "round-robin"


def test_cost_optimized_combo_orders_by_input_price_unknown_last() -> None:
    models = [
        "openai/gpt-4o",
        "groq/some-unpriced-model",
        "ds/deepseek-chat",
        "openai/gpt-4o-mini",
        "openai/o3",
    ]
    cat = catalog(combo("cheap-first", *models, strategy="cost-optimized"))
    ordered = plan(cat, "cheap-first").targets
    prices = [input_price(t.provider.id, t.model) for t in ordered]
    # the default price table may change; the order must follow whatever it says
    known = [p for p in prices if p is not None]
    assert len(known) == 4
    assert prices[:4] == sorted(known)
    assert labels(plan(cat, "cheap-first"))[-1] == "groq/some-unpriced-model"


def test_weighted_combo_never_leads_with_weight_zero() -> None:
    cat = catalog(
        combo(
            "w",
            ("openai/gpt-4o", 0),
            ("ds/deepseek-chat", 1),
            ("groq/llama-3.3-70b-versatile", 3),
            strategy="weighted",
        )
    )
    ordering = ComboOrdering(random.Random(5))
    firsts = {labels(plan(cat, "w", ordering=ordering))[0] for _ in range(200)}
    assert firsts == {"deepseek/deepseek-chat", "groq/llama-3.3-70b-versatile"}


# policy -------------------------------------------------------------------------------------------------------------


def test_combo_settings_override_routing_defaults_field_by_field() -> None:
    routing = RoutingSettings(max_retries=2, retry_delay=1.5, concurrency_per_model=4, queue_timeout=12.0)
    custom = combo("c", "openai/gpt-4o", settings=ComboSettings(max_retries=0, queue_timeout=0.0))
    assert plan(catalog(custom), "c", routing=routing).policy == CallPolicy(
        max_retries=0, retry_delay=1.5, concurrency_per_model=4, queue_timeout=0.0
    )
    full = combo(
        "c",
        "openai/gpt-4o",
        settings=ComboSettings(max_retries=5, retry_delay=0.0, concurrency_per_model=1, queue_timeout=3.0),
    )
    assert plan(catalog(full), "c", routing=routing).policy == CallPolicy(
        max_retries=5, retry_delay=0.0, concurrency_per_model=1, queue_timeout=3.0
    )


def test_combo_without_settings_uses_routing_defaults() -> None:
    routing = RoutingSettings(max_retries=3)
    p = plan(catalog(combo("c", "openai/gpt-4o")), "c", routing=routing)
    assert p.policy.max_retries == 3
    assert p.policy.queue_timeout == routing.queue_timeout


def test_outer_combo_settings_apply_to_nested_targets() -> None:
    cat = catalog(
        combo("outer", "inner", settings=ComboSettings(max_retries=7)),
        combo("inner", "openai/gpt-4o", settings=ComboSettings(max_retries=0)),
    )
    assert plan(cat, "outer").policy.max_retries == 7


# ---- the gateway's plan memo ------------------------------------------------------------------


def _gateway(ordering: ComboOrdering) -> Gateway:
    runtime = SimpleNamespace(settings=SimpleNamespace(routing=ROUTING), combo_ordering=ordering)
    return Gateway(runtime)  # type: ignore[arg-type]


def test_plain_model_plans_are_kept_per_catalog_and_combos_are_planned_per_call() -> None:
    first = catalog(combo("rr", "openai/gpt-4o", "groq/llama", strategy="round-robin"))
    gateway = _gateway(ComboOrdering(random.Random(0)))
    plain = gateway._plan(first, "openai/gpt-4o", None)
    assert gateway._plan(first, "openai/gpt-4o", None) is plain
    assert gateway._plan(first, "gpt-4o", "openai") is not plain  # the pinned provider is part of the key
    # Round-robin turns: the memo must not freeze a combo's order.
    orders = {tuple(labels(gateway._plan(first, "rr", None))) for _ in range(4)}
    assert len(orders) == 2
    # A rebuilt catalog (another connection, a changed alias...) is planned afresh.
    second = catalog(aliases={"fast": "groq/llama"})
    assert gateway._plan(second, "openai/gpt-4o", None) is not plain
    assert labels(gateway._plan(second, "fast", None)) == ["groq/llama"]
    with pytest.raises(GatewayError):
        gateway._plan(first, "fast", None)  # the alias exists only in the new catalog
