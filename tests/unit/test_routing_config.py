"""The routing tables of the TOML file ([[combos]], [aliases], [[wildcard_aliases]], [routing],
[limits], [breakers], per-connection limits): parsing, errors naming file:line:key, Settings,
and their idempotent import into the database."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from omniroute.config_file import ComboModel, ConfigFile, parse_config
from omniroute.errors import ConfigError, GatewayError
from omniroute.routing.catalog import build_catalog
from omniroute.routing.combos import Combo, ComboEntry, ComboOrdering, ComboSettings
from omniroute.routing.plan import build_plan
from omniroute.security.vault import Vault
from omniroute.settings import ProviderRouting, RoutingSettings, Settings, build_settings
from omniroute.store.config_sync import apply_config
from omniroute.store.db import open_database
from omniroute.store.repositories import Repositories
from omniroute.store.routing_repo import RoutingRepository

CFG = Path("cfg.toml")

ROUTING_FILE = """\
[[connections]]
provider = "openai"
name = "main"
api_key = "sk-openai-routing-0001"
rpm = 60
min_gap_ms = 250
max_concurrent = 4

[[connections]]
provider = "ds"
name = "backup"
api_key = "sk-deepseek-routing-0002"

[[combos]]
name = "fast"
strategy = "weighted"
models = ["openai/gpt-4o-mini", { model = "ds/deepseek-chat", weight = 3 }]
max_retries = 0
queue_timeout = 5.0

[[combos]]
name = "chain"
models = ["fast", "openai/gpt-4o"]
enabled = false

[aliases]
smart = "openai/gpt-4o"
"openai/gpt-4" = "openai/gpt-4.1"

[[wildcard_aliases]]
pattern = "claude-sonnet-*"
target = "ds/deepseek-chat"

[routing]
account_strategy = "round-robin"
sticky_limit = 5
max_retries = 2
retry_delay = 0.5
concurrency_per_model = 6
queue_timeout = 10.0
max_depth = 2

[routing.providers.openai]
account_strategy = "p2c"
sticky_limit = 1

[limits]
rpm = 100
min_gap_ms = 200
max_concurrent = 10
queue_timeout = 2.5

[breakers]
failure_threshold = 3
reset_timeout = 60.0
"""


def cfg(text: str) -> ConfigFile:
    return parse_config(CFG, text)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        cfg(text)
    return str(info.value)


def settings_from(text: str) -> Settings:
    return build_settings(flags={}, environ={}, sections=cfg(text).settings_sections())


# parsing -------------------------------------------------------------------------------------------------


def test_full_routing_file_parses() -> None:
    config = cfg(ROUTING_FILE)
    fast, chain = config.combos
    assert (fast.name, fast.strategy, fast.enabled) == ("fast", "weighted", True)
    assert fast.models == ["openai/gpt-4o-mini", ComboModel(model="ds/deepseek-chat", weight=3)]
    assert (fast.max_retries, fast.queue_timeout, fast.retry_delay, fast.concurrency_per_model) == (
        0,
        5.0,
        None,
        None,
    )
    assert (chain.strategy, chain.enabled) == ("priority", False)
    assert config.aliases == {"smart": "openai/gpt-4o", "openai/gpt-4": "openai/gpt-4.1"}
    assert [(w.pattern, w.target) for w in config.wildcard_aliases] == [
        ("claude-sonnet-*", "ds/deepseek-chat")
    ]
    main, backup = config.connections
    assert (main.rpm, main.min_gap_ms, main.max_concurrent) == (60, 250, 4)
    assert (backup.rpm, backup.min_gap_ms, backup.max_concurrent) == (None, None, None)


def test_routing_sections_become_settings() -> None:
    settings = settings_from(ROUTING_FILE)
    routing = settings.routing
    assert (routing.account_strategy, routing.sticky_limit, routing.max_retries, routing.retry_delay) == (
        "round-robin",
        5,
        2,
        0.5,
    )
    assert (routing.concurrency_per_model, routing.queue_timeout, routing.max_depth) == (6, 10.0, 2)
    assert routing.providers == {"openai": ProviderRouting(account_strategy="p2c", sticky_limit=1)}
    assert (settings.limits.rpm, settings.limits.min_gap_ms, settings.limits.max_concurrent) == (100, 200, 10)
    assert settings.limits.queue_timeout == 2.5
    assert (settings.breakers.failure_threshold, settings.breakers.reset_timeout) == (3, 60.0)


def test_routing_settings_survive_the_worker_json_round_trip() -> None:
    settings = settings_from(ROUTING_FILE)
    assert Settings.from_json(settings.to_json()) == settings


def test_absent_sections_keep_the_defaults() -> None:
    config = cfg('[[connections]]\nprovider = "openai"\nname = "m"\n')
    assert config.combos == [] and config.aliases == {} and config.wildcard_aliases == []
    assert config.settings_sections() == {}
    settings = build_settings(flags={}, environ={}, sections=config.settings_sections())
    routing = settings.routing
    assert (routing.account_strategy, routing.sticky_limit, routing.max_retries, routing.retry_delay) == (
        "fill-first",
        3,
        1,
        2.0,
    )
    assert (routing.concurrency_per_model, routing.queue_timeout, routing.max_depth, routing.providers) == (
        3,
        30.0,
        3,
        {},
    )
    assert (settings.breakers.failure_threshold, settings.breakers.reset_timeout) == (5, 30.0)
    assert (settings.limits.rpm, settings.limits.min_gap_ms, settings.limits.max_concurrent) == (0, 0, 0)


def test_partial_routing_table_keeps_other_defaults() -> None:
    settings = settings_from("[routing]\nsticky_limit = 7\n")
    assert settings.routing.sticky_limit == 7
    assert settings.routing.account_strategy == "fill-first"
    assert settings.routing.max_depth == 3


@pytest.mark.parametrize(
    "strategy", ["priority", "weighted", "round-robin", "random", "least-used", "cost-optimized"]
)
def test_every_combo_strategy_is_accepted(strategy: str) -> None:
    (combo,) = cfg(f'[[combos]]\nname = "c"\nstrategy = "{strategy}"\nmodels = ["openai/gpt-4o"]\n').combos
    assert combo.strategy == strategy


@pytest.mark.parametrize(
    "strategy", ["fill-first", "round-robin", "p2c", "random", "least-used", "cost-optimized"]
)
def test_every_account_strategy_is_accepted(strategy: str) -> None:
    assert settings_from(f'[routing]\naccount_strategy = "{strategy}"\n').routing.account_strategy == strategy


def test_combos_may_nest_to_the_depth_limit_and_use_slashes_in_names() -> None:
    config = cfg(
        '[[combos]]\nname = "team/a"\nmodels = ["b"]\n'
        '[[combos]]\nname = "b"\nmodels = ["c"]\n'
        '[[combos]]\nname = "c"\nmodels = ["openai/gpt-4o", { model = "x", weight = 0 }]\n'
    )
    assert [c.name for c in config.combos] == ["team/a", "b", "c"]


# errors naming file:line:key ---------------------------------------------------------------------------------


def test_unknown_combo_strategy_names_line_and_key() -> None:
    message = error_of('[[combos]]\nname = "c"\nstrategy = "fastest"\nmodels = ["m"]\n')
    assert message.startswith("cfg.toml:3: combos[0].strategy: ")
    assert "fastest" in message


def test_unknown_account_strategy_names_line_and_key() -> None:
    message = error_of('[server]\nport = 1\n\n[routing]\nsticky_limit = 2\naccount_strategy = "sticky"\n')
    assert message.startswith("cfg.toml:6: routing.account_strategy: ")
    assert "sticky" in message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[routing.providers.openai]\naccount_strategy = "bogus"\n', 2),
        ('[routing]\nsticky_limit = 2\n\n[routing.providers.openai]\naccount_strategy = "bogus"\n', 5),
    ],
)
def test_bad_provider_routing_value_names_line_and_key(text: str, line: int) -> None:
    message = error_of(text)
    assert message.startswith(f"cfg.toml:{line}: ")
    assert "openai" in message
    assert "account_strategy" in message


def test_unknown_key_in_provider_routing_is_rejected() -> None:
    assert "unknown key" in error_of("[routing.providers.openai]\nsticky = 2\n")


def test_negative_weight_names_the_combo_models_line() -> None:
    message = error_of(
        '[[combos]]\nname = "ok"\nmodels = ["m"]\n\n[[combos]]\nname = "w"\nmodels = [{ model = "m", weight = -1 }]\n'
    )
    assert message == "cfg.toml:7: combos[1].models: weights must not be negative"


def test_combo_cycle_names_the_combo_models_line() -> None:
    message = error_of(
        '[[combos]]\nname = "a"\nmodels = ["openai/gpt-4o"]\n\n'
        '[[combos]]\nname = "b"\nmodels = ["c"]\n\n'
        '[[combos]]\nname = "c"\nmodels = ["b"]\n'
    )
    assert message == "cfg.toml:7: combos[1].models: combo cycle: b -> c -> b"


def test_self_referencing_combo_is_a_cycle() -> None:
    assert (
        error_of('[[combos]]\nname = "me"\nmodels = ["me"]\n')
        == "cfg.toml:3: combos[0].models: combo cycle: me -> me"
    )


def test_combo_deeper_than_three_levels_is_rejected() -> None:
    text = "".join(
        f'[[combos]]\nname = "{name}"\nmodels = ["{child}"]\n'
        for name, child in zip("abcd", ["b", "c", "d", "m"], strict=True)
    )
    message = error_of(text)
    assert message == "cfg.toml:3: combos[0].models: combo 'a' nests 4 levels deep (at most 3)"


def test_combo_depth_follows_the_routing_max_depth() -> None:
    nested = '[[combos]]\nname = "outer"\nmodels = ["inner"]\n[[combos]]\nname = "inner"\nmodels = ["m"]\n'
    assert cfg(nested).combos
    message = error_of("[routing]\nmax_depth = 1\n" + nested)
    assert message == "cfg.toml:5: combos[0].models: combo 'outer' nests 2 levels deep (at most 1)"


@pytest.mark.parametrize("pattern", ["claude-sonnet", "", "gpt-4o.mini"])
def test_wildcard_without_star_or_question_mark_names_line_and_key(pattern: str) -> None:
    message = error_of(
        f'[[wildcard_aliases]]\npattern = "a*"\ntarget = "t"\n\n[[wildcard_aliases]]\ntarget = "t"\npattern = "{pattern}"\n'
    )
    assert message == "cfg.toml:7: wildcard_aliases[1].pattern: a wildcard pattern needs * or ?"


def test_empty_and_duplicate_combos_are_rejected() -> None:
    assert (
        error_of('[[combos]]\nname = "c"\nmodels = []\n')
        == "cfg.toml:3: combos[0].models: a combo needs at least one model"
    )
    message = error_of('[[combos]]\nname = "c"\nmodels = ["m"]\n[[combos]]\nname = "c"\nmodels = ["n"]\n')
    assert message == "cfg.toml:5: combos[1].name: combo name 'c' is empty or duplicated"
    assert "empty or duplicated" in error_of('[[combos]]\nname = "  "\nmodels = ["m"]\n')


def test_combo_without_models_key_is_rejected() -> None:
    assert "models" in error_of('[[combos]]\nname = "c"\n')


def test_unknown_keys_in_routing_tables_are_rejected_with_line() -> None:
    assert (
        error_of('[[combos]]\nname = "c"\nmodels = ["m"]\nfallback = true\n')
        == "cfg.toml:4: combos[0].fallback: unknown key"
    )
    assert error_of("[routing]\nstrategy = 1\n") == "cfg.toml:2: routing.strategy: unknown key"
    assert error_of("[limits]\nburst = 1\n") == "cfg.toml:2: limits.burst: unknown key"
    assert error_of("[breakers]\nthreshold = 1\n") == "cfg.toml:2: breakers.threshold: unknown key"
    assert "combos[0].models[0].extra: unknown key" in error_of(
        '[[combos]]\nname = "c"\nmodels = [{ model = "m", extra = 1 }]\n'
    )
    assert "wildcard_aliases[0].weight: unknown key" in error_of(
        '[[wildcard_aliases]]\npattern = "a*"\ntarget = "b"\nweight = 1\n'
    )


def test_wrong_types_name_line_and_key() -> None:
    assert error_of('[[combos]]\nname = "c"\nmodels = ["m"]\nmax_retries = "two"\n').startswith(
        "cfg.toml:4: combos[0].max_retries: "
    )
    assert error_of('[breakers]\nreset_timeout = "soon"\n').startswith("cfg.toml:2: breakers.reset_timeout: ")
    assert error_of('[[connections]]\nprovider = "openai"\nname = "m"\nrpm = "many"\n').startswith(
        "cfg.toml:4: connections[0].rpm: "
    )
    assert error_of("[aliases]\nfast = 3\n").startswith("cfg.toml:2: aliases.fast")


@pytest.mark.parametrize("key", ["rpm", "min_gap_ms", "max_concurrent"])
def test_negative_connection_limit_names_line_and_key(key: str) -> None:
    message = error_of(f'[[connections]]\nprovider = "openai"\nname = "m"\n{key} = -5\n')
    assert message.startswith(f"cfg.toml:4: connections[0].{key}: ")


# Settings validation of the sections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ("[routing]\nsticky_limit = 0\n", "sticky_limit"),
        ("[routing]\nmax_retries = -1\n", "max_retries"),
        ("[routing]\nretry_delay = -0.5\n", "retry_delay"),
        ("[routing]\nconcurrency_per_model = 0\n", "concurrency_per_model"),
        ("[routing]\nqueue_timeout = -1.0\n", "queue_timeout"),
        ("[routing]\nmax_depth = 4\n", "max_depth"),
        ("[routing]\nmax_depth = 0\n", "max_depth"),
        ("[limits]\nrpm = -1\n", "limits"),
        ("[limits]\nmin_gap_ms = -1\n", "limits"),
        ("[limits]\nmax_concurrent = -1\n", "limits"),
        ("[limits]\nqueue_timeout = -1.0\n", "limits"),
        ("[breakers]\nfailure_threshold = 0\n", "failure_threshold"),
        ("[breakers]\nreset_timeout = 0.0\n", "reset_timeout"),
    ],
)
def test_out_of_range_routing_values_are_rejected_by_settings(section: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        settings_from(section)


def test_sections_are_applied_below_flags() -> None:
    settings = build_settings(
        flags={"port": 9000},
        environ={},
        sections={"routing": {"sticky_limit": 9}, "breakers": {"failure_threshold": 2}},
    )
    assert (settings.port, settings.routing.sticky_limit, settings.breakers.failure_threshold) == (9000, 9, 2)


# import into the database -------------------------------------------------------------------------------------------


@pytest.fixture
def repos(tmp_path: Path) -> Iterator[Repositories]:
    conn = open_database(tmp_path / "data")
    try:
        yield Repositories(conn, Vault(bytes(range(32))))
    finally:
        conn.close()


def routing_tables(conn: apsw.Connection) -> dict[str, list[Any]]:
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        for table in ("combos", "aliases", "wildcard_aliases")
    }


def test_apply_stores_combos_aliases_and_wildcards(repos: Repositories) -> None:
    apply_config(repos, cfg(ROUTING_FILE), {})
    routing = RoutingRepository(repos.conn)
    chain, fast = routing.list_combos()  # ordered by name
    assert fast == Combo(
        name="fast",
        strategy="weighted",
        entries=(
            ComboEntry(model="openai/gpt-4o-mini", weight=1),
            ComboEntry(model="ds/deepseek-chat", weight=3),
        ),
        settings=ComboSettings(max_retries=0, queue_timeout=5.0),
        enabled=True,
    )
    assert chain == Combo(
        name="chain",
        strategy="priority",
        entries=(ComboEntry(model="fast"), ComboEntry(model="openai/gpt-4o")),
        enabled=False,
    )
    assert routing.list_aliases() == {"openai/gpt-4": "openai/gpt-4.1", "smart": "openai/gpt-4o"}
    assert routing.list_wildcards() == [("claude-sonnet-*", "ds/deepseek-chat")]
    limits = {c.name: c.limits for c in repos.list_connections()}
    assert limits == {"main": (60, 250, 4), "backup": (None, None, None)}


def test_second_apply_of_the_same_file_changes_nothing(repos: Repositories) -> None:
    config = cfg(ROUTING_FILE)
    apply_config(repos, config, {})
    before = routing_tables(repos.conn)
    apply_config(repos, config, {})
    apply_config(repos, cfg(ROUTING_FILE), {})
    assert routing_tables(repos.conn) == before


def test_api_edit_of_a_combo_survives_reapplying_the_unchanged_file(repos: Repositories) -> None:
    config = cfg(ROUTING_FILE)
    apply_config(repos, config, {})
    routing = RoutingRepository(repos.conn)
    edited = Combo(name="fast", strategy="round-robin", entries=(ComboEntry(model="openai/o3"),))
    routing.upsert_combo(edited)  # what PUT /api/combos/fast does
    apply_config(repos, config, {})
    assert next(c for c in routing.list_combos() if c.name == "fast") == edited


def test_changed_combo_in_the_file_is_applied_again(repos: Repositories) -> None:
    apply_config(repos, cfg(ROUTING_FILE), {})
    routing = RoutingRepository(repos.conn)
    routing.upsert_combo(Combo(name="fast", strategy="random", entries=(ComboEntry(model="openai/o3"),)))
    apply_config(repos, cfg(ROUTING_FILE.replace('strategy = "weighted"', 'strategy = "least-used"')), {})
    fast = next(c for c in routing.list_combos() if c.name == "fast")
    assert fast.strategy == "least-used"
    assert [e.model for e in fast.entries] == ["openai/gpt-4o-mini", "ds/deepseek-chat"]


def test_api_edit_of_one_alias_survives_reapplying_the_unchanged_file(repos: Repositories) -> None:
    config = cfg(ROUTING_FILE)
    apply_config(repos, config, {})
    routing = RoutingRepository(repos.conn)
    routing.upsert_alias("smart", "ds/deepseek-reasoner")
    routing.upsert_wildcard("claude-sonnet-*", "openai/gpt-4o")
    apply_config(repos, config, {})
    assert routing.list_aliases()["smart"] == "ds/deepseek-reasoner"
    assert routing.list_wildcards() == [("claude-sonnet-*", "openai/gpt-4o")]


def test_api_put_of_aliases_survives_reapplying_the_unchanged_file(repos: Repositories) -> None:
    config = cfg(ROUTING_FILE)
    apply_config(repos, config, {})
    routing = RoutingRepository(repos.conn)
    routing.replace_aliases(
        {"smart": "ds/deepseek-reasoner", "openai/gpt-4": "openai/gpt-4.1"},
        [("claude-sonnet-*", "openai/gpt-4o")],
    )
    apply_config(repos, config, {})
    assert routing.list_aliases()["smart"] == "ds/deepseek-reasoner"
    assert routing.list_wildcards() == [("claude-sonnet-*", "openai/gpt-4o")]


def test_changed_alias_in_the_file_is_applied_again(repos: Repositories) -> None:
    apply_config(repos, cfg(ROUTING_FILE), {})
    edited = ROUTING_FILE.replace('smart = "openai/gpt-4o"', 'smart = "openai/o3"').replace(
        'target = "ds/deepseek-chat"', 'target = "openai/gpt-4.1"'
    )
    apply_config(repos, cfg(edited), {})
    routing = RoutingRepository(repos.conn)
    assert routing.list_aliases()["smart"] == "openai/o3"
    assert routing.list_wildcards() == [("claude-sonnet-*", "openai/gpt-4.1")]


def test_replace_aliases_makes_the_stored_set_exact(repos: Repositories) -> None:
    apply_config(repos, cfg(ROUTING_FILE), {})
    routing = RoutingRepository(repos.conn)
    routing.replace_aliases({"only": "openai/gpt-4o"}, [("x-*", "openai/o3")])
    assert routing.list_aliases() == {"only": "openai/gpt-4o"}
    assert routing.list_wildcards() == [("x-*", "openai/o3")]
    routing.replace_aliases({}, [])
    assert (routing.list_aliases(), routing.list_wildcards()) == ({}, [])


def test_delete_combo_reports_whether_it_existed(repos: Repositories) -> None:
    apply_config(repos, cfg(ROUTING_FILE), {})
    routing = RoutingRepository(repos.conn)
    assert routing.delete_combo("fast") is True
    assert routing.delete_combo("fast") is False
    assert [c.name for c in routing.list_combos()] == ["chain"]


def test_breaker_rows_round_trip(repos: Repositories) -> None:
    routing = RoutingRepository(repos.conn)
    routing.save_breaker("provider:openai", "open", 5, 1_700_000_000.5)
    routing.save_breaker("target:ds/deepseek-chat", "closed", 0, None)
    routing.save_breaker("provider:openai", "closed", 0, None)
    assert routing.list_breakers() == [
        ("provider:openai", "closed", 0, None),
        ("target:ds/deepseek-chat", "closed", 0, None),
    ]
    routing.delete_breakers(["provider:openai", "missing"])
    assert [row[0] for row in routing.list_breakers()] == ["target:ds/deepseek-chat"]
    routing.delete_breakers()
    assert routing.list_breakers() == []


def test_file_to_plan_end_to_end(repos: Repositories) -> None:
    config = cfg(ROUTING_FILE)
    apply_config(repos, config, {})
    routing = RoutingRepository(repos.conn)
    catalog = build_catalog(
        repos.list_connections(),
        repos.list_nodes(),
        repos.list_api_keys(),
        combos=routing.list_combos(),
        aliases=routing.list_aliases(),
        wildcards=routing.list_wildcards(),
    )
    settings = build_settings(flags={}, environ={}, sections=config.settings_sections())
    ordering = ComboOrdering(random.Random(0))

    def targets(model: str) -> list[str]:
        plan = build_plan(
            catalog, model, pinned_provider=None, routing=settings.routing, ordering=ordering, now=1.0
        )
        return [f"{t.provider.id}/{t.model}" for t in plan.targets]

    assert sorted(targets("fast")) == ["deepseek/deepseek-chat", "openai/gpt-4o-mini"]
    assert targets("smart") == ["openai/gpt-4o"]
    assert targets("openai/gpt-4") == ["openai/gpt-4.1"]
    assert targets("claude-sonnet-4-5") == ["deepseek/deepseek-chat"]
    with pytest.raises(GatewayError, match="disabled"):
        targets("chain")
    plan = build_plan(
        catalog, "fast", pinned_provider=None, routing=settings.routing, ordering=ordering, now=2.0
    )
    assert (plan.policy.max_retries, plan.policy.retry_delay, plan.policy.queue_timeout) == (0, 0.5, 5.0)
    assert plan.policy.concurrency_per_model == 6
    assert {a.limits for a in catalog.accounts["openai"]} == {(60, 250, 4)}


def test_routing_settings_struct_rejects_unknown_fields() -> None:
    with pytest.raises(ConfigError, match="invalid setting"):
        build_settings(flags={}, environ={}, sections={"routing": {"stickiness": 2}})
    assert RoutingSettings().providers == {}
