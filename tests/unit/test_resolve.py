"""Resolution: the CLI's settings + bind safety check, and model string -> provider/account routing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from omniroute.cli import build_parser, is_loopback, resolve
from omniroute.config_file import ConfigFile
from omniroute.errors import ConfigError, GatewayError
from omniroute.routing.catalog import Catalog, build_catalog
from omniroute.routing.resolve import resolve_model
from omniroute.settings import Settings
from omniroute.store.records import ApiKeyRow, ConnectionRow, NodeRow

# cli.resolve ------------------------------------------------------------------------------------


def cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[Settings, ConfigFile | None]:
    return resolve(build_parser().parse_args(list(argv)), environ or {})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_is_loopback_true_for_loopback_hosts(host: str) -> None:
    assert is_loopback(host) is True


@pytest.mark.parametrize("host", ["10.0.0.1", "0.0.0.0", "::", "192.168.1.1", "example.com", ""])
def test_is_loopback_false_for_other_hosts(host: str) -> None:
    assert is_loopback(host) is False


def test_resolve_defaults_bind_loopback() -> None:
    settings, config = cli()
    assert settings.host == "127.0.0.1"
    assert config is None


@pytest.mark.parametrize("argv", [("--host", "0.0.0.0"), ("serve", "--host", "10.0.0.1"), ("--host", "::")])
def test_resolve_refuses_open_bind_without_required_keys(argv: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match="refusing to bind"):
        cli(*argv)


def test_resolve_refuses_open_bind_from_env_host() -> None:
    with pytest.raises(ConfigError, match=r"refusing to bind 0\.0\.0\.0"):
        cli(environ={"HOSTNAME": "0.0.0.0"})


def test_resolve_machine_hostname_env_does_not_trigger_refusal() -> None:
    settings, _ = cli(environ={"HOSTNAME": socket.gethostname()})
    assert settings.host == "127.0.0.1"


def test_resolve_refuses_open_bind_when_require_api_key_false() -> None:
    with pytest.raises(ConfigError, match="REQUIRE_API_KEY"):
        cli("--host", "0.0.0.0", environ={"REQUIRE_API_KEY": "false"})


def test_resolve_allows_open_bind_when_require_api_key_true() -> None:
    settings, _ = cli("--host", "0.0.0.0", environ={"REQUIRE_API_KEY": "true"})
    assert (settings.host, settings.require_api_key) == ("0.0.0.0", True)


def test_resolve_allows_open_bind_with_flag() -> None:
    settings, _ = cli("serve", "--host", "0.0.0.0", "--allow-open-bind")
    assert settings.allow_open_bind is True
    assert settings.require_api_key is False


def test_resolve_allows_open_bind_with_env() -> None:
    settings, _ = cli(environ={"HOSTNAME": "0.0.0.0", "OMNIROUTE_ALLOW_OPEN_BIND": "1"})
    assert settings.host == "0.0.0.0"


def test_resolve_allows_ipv6_loopback_bind() -> None:
    settings, _ = cli("--host", "::1")
    assert settings.host == "::1"


def test_resolve_flags_override_env() -> None:
    settings, _ = cli("--port", "9000", "--workers", "3", "--log-level", "error", environ={"PORT": "8000"})
    assert (settings.port, settings.workers, settings.log_level) == (9000, 3, "error")


def test_resolve_invalid_flag_value_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="out of range"):
        cli("--port", "70000")


def test_resolve_reads_config_file_server_section(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text('[server]\nhost = "0.0.0.0"\nport = 7000\nrequire_api_key = true\n', encoding="utf-8")
    settings, config = cli("--config", str(path), environ={"PORT": "7100"})
    assert config is not None
    assert (settings.host, settings.port, settings.require_api_key) == ("0.0.0.0", 7100, True)
    assert settings.config_path == str(path.resolve())


def test_resolve_config_path_from_env_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cfg.toml").write_text("[server]\nport = 7001\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings, config = cli(environ={"OMNIROUTE_CONFIG": "cfg.toml"})
    assert config is not None
    assert settings.port == 7001
    assert settings.config_path == str(tmp_path.resolve() / "cfg.toml")


def test_resolve_config_open_bind_refused_without_keys(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text('[server]\nhost = "0.0.0.0"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="refusing to bind"):
        cli("--config", str(path))


def test_resolve_missing_config_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        cli("--config", str(tmp_path / "absent.toml"))


# routing.resolve ---------------------------------------------------------------------------------

_next_id = iter(range(1, 10_000))


def conn(
    provider: str,
    name: str = "main",
    *,
    priority: int = 1,
    enabled: bool = True,
    models: tuple[str, ...] = (),
) -> ConnectionRow:
    return ConnectionRow(
        id=next(_next_id),
        provider=provider,
        name=name,
        base_url=None,
        priority=priority,
        enabled=enabled,
        api_key=f"key-{provider}-{name}",
        models=models,
    )


def node(
    node_id: str, prefix: str, *, models: tuple[str, ...] = (), enabled: bool = True, dialect: str = "openai"
) -> NodeRow:
    return NodeRow(
        id=node_id,
        prefix=prefix,
        dialect=dialect,
        base_url="http://127.0.0.1:9000/v1/",
        enabled=enabled,
        api_key="node-key",
        models=models,
    )


def catalog(
    *connections: ConnectionRow, nodes: tuple[NodeRow, ...] = (), keys: tuple[ApiKeyRow, ...] = ()
) -> Catalog:
    return build_catalog(list(connections), list(nodes), list(keys))


def gateway_error(cat: Catalog, model: str, **kw: str) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        resolve_model(cat, model, **kw)
    return info.value


MULTI = catalog(conn("openai"), conn("deepseek"), conn("openrouter"), conn("minimax"), conn("minimax-cn"))


def test_resolve_prefix_by_alias() -> None:
    target = resolve_model(MULTI, "ds/deepseek-chat")
    assert (target.provider.id, target.model) == ("deepseek", "deepseek-chat")
    assert [a.name for a in target.accounts] == ["main"]


def test_resolve_prefix_by_provider_id() -> None:
    target = resolve_model(MULTI, "deepseek/deepseek-reasoner")
    assert (target.provider.id, target.model) == ("deepseek", "deepseek-reasoner")


def test_resolve_prefix_model_not_required_in_provider_list() -> None:
    target = resolve_model(MULTI, "openai/some-future-model")
    assert (target.provider.id, target.model) == ("openai", "some-future-model")


def test_resolve_splits_at_first_slash() -> None:
    target = resolve_model(MULTI, "openrouter/anthropic/claude-3.5")
    assert (target.provider.id, target.model) == ("openrouter", "anthropic/claude-3.5")


def test_resolve_node_prefix() -> None:
    cat = catalog(conn("openai"), nodes=(node("local-llm", "local", models=("llama-3",)),))
    target = resolve_model(cat, "local/llama-3")
    assert (target.provider.id, target.provider.alias, target.model) == ("local-llm", "local", "llama-3")
    (account,) = target.accounts
    assert account.base_url == "http://127.0.0.1:9000/v1"
    assert account.api_key == "node-key"


def test_resolve_bare_name_owned_by_one_provider() -> None:
    target = resolve_model(MULTI, "deepseek-chat")
    assert (target.provider.id, target.model) == ("deepseek", "deepseek-chat")


def test_resolve_bare_name_uses_configured_model_list() -> None:
    cat = catalog(conn("openai"), conn("together", models=("meta-llama/Llama-3.3-70B",)))
    target = resolve_model(cat, "meta-llama/Llama-3.3-70B")
    assert (target.provider.id, target.model) == ("together", "meta-llama/Llama-3.3-70B")


def test_resolve_bare_name_listed_by_node() -> None:
    cat = catalog(conn("openai"), nodes=(node("local-llm", "local", models=("llama-3",)),))
    assert resolve_model(cat, "llama-3").provider.id == "local-llm"


def test_resolve_ambiguous_bare_name_is_400() -> None:
    error = gateway_error(MULTI, "MiniMax-M2")
    assert (error.status, error.code, error.param) == (400, "ambiguous_model", "model")
    assert "minimax" in error.message
    assert "minimax-cn" in error.message


def test_resolve_ambiguous_between_provider_and_node() -> None:
    cat = catalog(conn("openai"), nodes=(node("local-llm", "local", models=("gpt-4o",)),))
    assert gateway_error(cat, "gpt-4o").code == "ambiguous_model"
    assert resolve_model(cat, "openai/gpt-4o").provider.id == "openai"


def test_resolve_unknown_bare_name_with_several_providers_is_404() -> None:
    error = gateway_error(MULTI, "no-such-model")
    assert (error.status, error.code) == (404, "model_not_found")


def test_resolve_unknown_bare_name_with_one_provider_goes_there() -> None:
    cat = catalog(conn("groq"))
    target = resolve_model(cat, "brand-new-model")
    assert (target.provider.id, target.model) == ("groq", "brand-new-model")


def test_resolve_unknown_prefix_with_one_provider_keeps_full_name() -> None:
    target = resolve_model(catalog(conn("together")), "meta-llama/Llama-3")
    assert (target.provider.id, target.model) == ("together", "meta-llama/Llama-3")


def test_resolve_empty_catalog_is_404() -> None:
    assert gateway_error(catalog(), "gpt-4o").status == 404


@pytest.mark.parametrize(
    "model",
    [
        "openai/../admin",
        "../etc/passwd",
        "openai/..\\secret",
        "gpt-4o\n",
        "gpt\x00",
        "a\tb",
        "x\x7f",
        "ds/\x1b[31m",
    ],
)
def test_resolve_forbidden_characters_are_400(model: str) -> None:
    error = gateway_error(MULTI, model)
    assert (error.status, error.code, error.param) == (400, "invalid_model", "model")


@pytest.mark.parametrize("model", ["", "   "])
def test_resolve_empty_model_is_400(model: str) -> None:
    assert (gateway_error(MULTI, model).status, gateway_error(MULTI, model).code) == (400, "invalid_model")


def test_resolve_too_long_model_is_400() -> None:
    assert gateway_error(MULTI, "openai/" + "a" * 600).code == "invalid_model"
    assert resolve_model(MULTI, "openai/" + "a" * 505).model == "a" * 505


def test_resolve_prefix_without_model_is_400() -> None:
    error = gateway_error(MULTI, "openai/")
    assert (error.status, error.code) == (400, "invalid_model")


def test_resolve_known_but_unconnected_provider_is_400() -> None:
    error = gateway_error(MULTI, "anthropic/claude-sonnet-4-5")
    assert (error.status, error.code) == (400, "provider_not_configured")
    assert "anthropic" in error.message


def test_resolve_pinned_provider_takes_bare_model() -> None:
    target = resolve_model(MULTI, "deepseek-chat", pinned_provider="openai")
    assert (target.provider.id, target.model) == ("openai", "deepseek-chat")


def test_resolve_pinned_provider_strips_own_prefix() -> None:
    assert resolve_model(MULTI, "ds/deepseek-chat", pinned_provider="deepseek").model == "deepseek-chat"
    assert resolve_model(MULTI, "deepseek/deepseek-chat", pinned_provider="ds").model == "deepseek-chat"


def test_resolve_pinned_provider_keeps_foreign_prefix() -> None:
    target = resolve_model(MULTI, "anthropic/claude-3.5", pinned_provider="openrouter")
    assert (target.provider.id, target.model) == ("openrouter", "anthropic/claude-3.5")


def test_resolve_pinned_node_prefix() -> None:
    cat = catalog(conn("openai"), nodes=(node("local-llm", "local"),))
    target = resolve_model(cat, "local/m", pinned_provider="local")
    assert (target.provider.id, target.model) == ("local-llm", "m")


def test_resolve_pinned_unknown_provider_is_404() -> None:
    error = gateway_error(MULTI, "gpt-4o", pinned_provider="nope")
    assert (error.status, error.code) == (404, "provider_not_found")


def test_resolve_pinned_unconnected_provider_is_400() -> None:
    assert gateway_error(MULTI, "claude", pinned_provider="anthropic").code == "provider_not_configured"


def test_resolve_pinned_still_checks_model_string() -> None:
    assert gateway_error(MULTI, "../x", pinned_provider="openai").code == "invalid_model"


# catalog --------------------------------------------------------------------------------------------


def test_catalog_accounts_sorted_by_priority() -> None:
    cat = catalog(
        conn("openai", "c", priority=3),
        conn("openai", "a", priority=1),
        conn("openai", "b", priority=2),
        conn("openai", "a2", priority=1),
    )
    assert [a.name for a in resolve_model(cat, "openai/gpt-4o").accounts] == ["a", "a2", "b", "c"]


def test_catalog_disabled_connections_excluded() -> None:
    cat = catalog(conn("openai", "on"), conn("openai", "off", enabled=False, priority=0))
    assert [a.name for a in cat.accounts["openai"]] == ["on"]


def test_catalog_provider_with_only_disabled_connections_not_configured() -> None:
    cat = catalog(conn("openai"), conn("deepseek", enabled=False))
    assert "ds" not in cat.providers
    assert "deepseek" not in cat.accounts
    assert gateway_error(cat, "ds/deepseek-chat").code == "provider_not_configured"


def test_catalog_disabled_node_excluded() -> None:
    cat = catalog(conn("openai"), nodes=(node("local-llm", "local", enabled=False),))
    assert "local" not in cat.providers
    assert "local-llm" not in cat.accounts


def test_catalog_unknown_provider_rows_ignored() -> None:
    cat = catalog(conn("openai"), conn("retired-provider"))
    assert set(cat.accounts) == {"openai"}


def test_catalog_indexes_providers_by_alias_and_id() -> None:
    cat = catalog(conn("deepseek"))
    assert cat.providers["ds"] is cat.providers["deepseek"]


def test_catalog_account_uses_registry_root_unless_overridden() -> None:
    override = ConnectionRow(
        id=999,
        provider="openai",
        name="proxy",
        base_url="https://proxy.example/v1/",
        priority=1,
        enabled=True,
        api_key="k",
        models=(),
    )
    cat = catalog(conn("openai", "direct"), override)
    urls = {a.name: a.base_url for a in cat.accounts["openai"]}
    assert urls == {"direct": "https://api.openai.com/v1", "proxy": "https://proxy.example/v1"}


def test_catalog_provider_models_prefer_configured_lists() -> None:
    cat = catalog(
        conn("openai", "a", models=("x", "y")), conn("openai", "b", models=("y", "z")), conn("deepseek")
    )
    assert cat.provider_models("openai") == ("x", "y", "z")
    assert cat.provider_models("deepseek") == ("deepseek-chat", "deepseek-reasoner")
    assert cat.provider_models("absent") == ()


def test_catalog_anthropic_node_uses_x_api_key() -> None:
    cat = catalog(nodes=(node("claude-proxy", "cp", dialect="anthropic"),))
    spec = cat.providers["cp"]
    assert (spec.dialect, spec.auth, spec.headers) == (
        "anthropic",
        "x-api-key",
        {"anthropic-version": "2023-06-01"},
    )


def test_catalog_revoked_keys_excluded() -> None:
    active = ApiKeyRow(
        id="key_1",
        name="a",
        key_hash="h1",
        key_hint="...1",
        allowed_models=(),
        created_at=1.0,
        revoked_at=None,
    )
    revoked = ApiKeyRow(
        id="key_2",
        name="b",
        key_hash="h2",
        key_hint="...2",
        allowed_models=(),
        created_at=1.0,
        revoked_at=2.0,
    )
    cat = catalog(conn("openai"), keys=(active, revoked))
    assert dict(cat.keys) == {"h1": active}
