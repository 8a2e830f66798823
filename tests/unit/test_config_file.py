"""The TOML configuration contract: parsing, validation, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniroute.config_file import ConfigFile, load_config, locate, parse_config, resolve_secret
from omniroute.errors import ConfigError

CFG = Path("cfg.toml")

FULL = """\
# a complete configuration
[server]
host = "127.0.0.1"
port = 8080
require_api_key = true
workers = 2
log_level = "warning"
connect_timeout = 2.5

[[connections]]
provider = "openai"
name = "main"
api_key = "sk-openai-0123456789"
priority = 2
models = ["gpt-4o", "gpt-4o-mini"]

[[connections]]
provider = "ds"
name = "backup"
api_key_env = "DEEPSEEK_KEY"
base_url = "https://proxy.example.com/v1"
enabled = false

[[nodes]]
id = "local-llm"
prefix = "local"
dialect = "anthropic"
base_url = "http://127.0.0.1:9000/v1"
api_key_env = "LOCAL_KEY"
models = ["llama-3"]

[[api_keys]]
name = "ci"
key = "sk-omr-0123456789abcdef"
allowed_models = ["openai/*"]

[[api_keys]]
name = "generated"
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(CFG, text)
    return str(info.value)


def conn_block(*extra: str, provider: str = "openai", name: str = "main") -> str:
    return "\n".join(["[[connections]]", f'provider = "{provider}"', f'name = "{name}"', *extra]) + "\n"


def node_block(*extra: str, node_id: str = "n1", prefix: str = "local", dialect: str = "openai") -> str:
    lines = [
        "[[nodes]]",
        f'id = "{node_id}"',
        f'prefix = "{prefix}"',
        f'dialect = "{dialect}"',
        'base_url = "http://127.0.0.1:9000/v1"',
        *extra,
    ]
    return "\n".join(lines) + "\n"


# a valid file ------------------------------------------------------------------------------------


def test_parse_config_full_file_parses_every_section() -> None:
    config = parse_config(CFG, FULL)
    assert config.server.port == 8080
    assert config.server.require_api_key is True
    assert config.server.log_level == "warning"
    assert config.server.connect_timeout == 2.5

    main, backup = config.connections
    assert (main.provider, main.name, main.api_key, main.priority) == (
        "openai",
        "main",
        "sk-openai-0123456789",
        2,
    )
    assert main.models == ["gpt-4o", "gpt-4o-mini"]
    assert main.enabled is True
    assert main.api_key_env is None
    assert (backup.provider, backup.api_key_env, backup.enabled) == ("ds", "DEEPSEEK_KEY", False)
    assert backup.base_url == "https://proxy.example.com/v1"
    assert backup.priority == 1

    (node,) = config.nodes
    assert (node.id, node.prefix, node.dialect, node.base_url) == (
        "local-llm",
        "local",
        "anthropic",
        "http://127.0.0.1:9000/v1",
    )
    assert node.models == ["llama-3"]

    ci, generated = config.api_keys
    assert (ci.name, ci.key, ci.allowed_models) == ("ci", "sk-omr-0123456789abcdef", ["openai/*"])
    assert (generated.name, generated.key, generated.allowed_models) == ("generated", None, [])


def test_server_as_settings_contains_only_given_keys() -> None:
    config = parse_config(CFG, FULL)
    assert config.server.as_settings() == {
        "host": "127.0.0.1",
        "port": 8080,
        "require_api_key": True,
        "workers": 2,
        "log_level": "warning",
        "connect_timeout": 2.5,
    }


def test_parse_config_empty_file_gives_empty_config() -> None:
    config = parse_config(CFG, "")
    assert config == ConfigFile()
    assert config.server.as_settings() == {}


def test_load_config_reads_file_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "omniroute.toml"
    path.write_text(FULL, encoding="utf-8")
    assert load_config(str(path)) == parse_config(path, FULL)


# errors name file, line and key ------------------------------------------------------------------


def test_wrong_type_error_names_file_line_and_key() -> None:
    text = conn_block('priority = "high"')
    message = error_of(text)
    assert message.startswith("cfg.toml:4:")
    assert "priority" in message


def test_wrong_type_error_points_into_second_table() -> None:
    text = conn_block("priority = 1") + "\n" + conn_block('priority = "high"', name="other")
    message = error_of(text)
    assert message.startswith("cfg.toml:9:")
    assert "connections[1].priority" in message


def test_wrong_type_error_in_server_section_names_line() -> None:
    message = error_of('# comment\n[server]\nhost = "127.0.0.1"\nport = "eighty"\n')
    assert message.startswith("cfg.toml:4:")
    assert "server.port" in message


def test_wrong_element_type_in_list_names_list_key() -> None:
    message = error_of(conn_block('models = ["a", 1]'))
    assert message.startswith("cfg.toml:4:")
    assert "models" in message


def test_unknown_key_in_connection_names_its_line() -> None:
    text = conn_block("priority = 1") + "\n" + conn_block("prority = 2", name="second")
    message = error_of(text)
    assert message.startswith("cfg.toml:9:")
    assert "prority" in message
    assert "unknown key" in message


def test_unknown_top_level_table_names_its_line() -> None:
    message = error_of("[server]\nport = 1\n\n[servers]\nport = 2\n")
    assert message.startswith("cfg.toml:4:")
    assert "servers" in message


def test_missing_required_field_names_table_header_line() -> None:
    message = error_of('[server]\nport = 1\n\n[[connections]]\nprovider = "openai"\n')
    assert message.startswith("cfg.toml:4:")
    assert "name" in message


def test_unknown_provider_rejected_with_line() -> None:
    message = error_of(conn_block(provider="nosuchprovider"))
    assert message.startswith("cfg.toml:2:")
    assert "provider" in message
    assert "nosuchprovider" in message


def test_duplicate_connection_name_rejected_with_line() -> None:
    text = conn_block() + conn_block(name="other") + conn_block()
    message = error_of(text)
    assert message.startswith("cfg.toml:9:")
    assert "duplicate connection name 'main'" in message


def test_duplicate_connection_name_rejected_across_alias_and_id() -> None:
    message = error_of(conn_block(provider="deepseek") + conn_block(provider="ds"))
    assert "duplicate connection name" in message


def test_same_connection_name_allowed_for_different_providers() -> None:
    config = parse_config(CFG, conn_block(provider="openai") + conn_block(provider="anthropic"))
    assert [c.provider for c in config.connections] == ["openai", "anthropic"]


def test_empty_connection_name_rejected() -> None:
    message = error_of(conn_block(name="   "))
    assert message.startswith("cfg.toml:3:")
    assert "name" in message


def test_both_api_key_and_api_key_env_rejected_with_line() -> None:
    message = error_of(conn_block('api_key = "sk-0123456789"', 'api_key_env = "OPENAI_KEY"'))
    assert message.startswith("cfg.toml:5:")
    assert "api_key_env" in message
    assert "not both" in message


def test_both_api_key_and_api_key_env_rejected_on_node() -> None:
    message = error_of(node_block('api_key = "x"', 'api_key_env = "Y"'))
    assert message.startswith("cfg.toml:7:")
    assert "nodes[0].api_key_env" in message


@pytest.mark.parametrize("url", ["ftp://example.com/v1", "example.com/v1", "", "file:///etc/passwd"])
def test_invalid_connection_base_url_rejected_with_line(url: str) -> None:
    message = error_of(conn_block(f'base_url = "{url}"'))
    assert message.startswith("cfg.toml:4:")
    assert "base_url" in message


def test_invalid_node_base_url_rejected_with_line() -> None:
    text = '[[nodes]]\nid = "n1"\nprefix = "local"\ndialect = "openai"\nbase_url = "localhost:9000"\n'
    message = error_of(text)
    assert message.startswith("cfg.toml:5:")
    assert "base_url" in message


@pytest.mark.parametrize("prefix", ["ds", "openai", "deepseek", "pplx"])
def test_node_prefix_equal_to_provider_name_rejected(prefix: str) -> None:
    message = error_of(node_block(prefix=prefix))
    assert message.startswith("cfg.toml:3:")
    assert "prefix" in message
    assert "provider" in message


@pytest.mark.parametrize("prefix", ["", "a/b"])
def test_node_prefix_empty_or_with_slash_rejected(prefix: str) -> None:
    message = error_of(node_block(prefix=prefix))
    assert message.startswith("cfg.toml:3:")
    assert "prefix" in message


def test_duplicate_node_prefix_rejected() -> None:
    message = error_of(node_block(node_id="a") + node_block(node_id="b"))
    assert message.startswith("cfg.toml:8:")
    assert "prefix" in message


@pytest.mark.parametrize("dialect", ["gemini", "grpc", "OpenAI"])
def test_node_dialect_rejected_when_not_allowed(dialect: str) -> None:
    message = error_of(node_block(dialect=dialect))
    assert message.startswith("cfg.toml:4:")
    assert "dialect" in message


@pytest.mark.parametrize("dialect", ["openai", "anthropic", "responses"])
def test_node_dialect_accepted_when_allowed(dialect: str) -> None:
    assert parse_config(CFG, node_block(dialect=dialect)).nodes[0].dialect == dialect


def test_duplicate_node_id_rejected() -> None:
    message = error_of(node_block(node_id="same", prefix="one") + node_block(node_id="same", prefix="two"))
    assert "cfg.toml:7:" in message
    assert "id" in message


def test_node_id_equal_to_provider_id_rejected() -> None:
    message = error_of(conn_block() + node_block(node_id="openai", prefix="local"))
    assert "cfg.toml:5:" in message
    assert "id" in message


def test_short_api_key_rejected_with_line() -> None:
    message = error_of('[[api_keys]]\nname = "ci"\nkey = "too-short"\n')
    assert message.startswith("cfg.toml:3:")
    assert "16" in message


def test_api_key_of_sixteen_characters_accepted() -> None:
    assert parse_config(CFG, '[[api_keys]]\nname = "ci"\nkey = "0123456789abcdef"\n').api_keys[0].key == (
        "0123456789abcdef"
    )


def test_duplicate_api_key_name_rejected_with_line() -> None:
    message = error_of('[[api_keys]]\nname = "ci"\n\n[[api_keys]]\nname = "ci"\n')
    assert message.startswith("cfg.toml:5:")
    assert "duplicate api key name" in message


def test_duplicate_api_key_value_rejected() -> None:
    text = '[[api_keys]]\nname = "a"\nkey = "0123456789abcdef"\n\n[[api_keys]]\nname = "b"\nkey = "0123456789abcdef"\n'
    message = error_of(text)
    assert "cfg.toml:7:" in message


def test_toml_syntax_error_names_file_and_line() -> None:
    message = error_of("[server]\nport = 1\nhost = \n")
    assert message.startswith("cfg.toml:")
    assert "invalid TOML" in message
    assert "line 3" in message


def test_load_config_missing_file_raises_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=r"absent\.toml"):
        load_config(missing)


def test_load_config_invalid_utf8_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[server]\nhost = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(path)


def test_load_config_error_names_real_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(conn_block('priority = "high"'), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:4:")


# locate -----------------------------------------------------------------------------------------


def test_locate_returns_none_when_table_absent() -> None:
    assert locate("[server]\nport = 1\n", ["nodes", 0, "id"]) is None


def test_locate_returns_header_line_when_key_absent() -> None:
    assert locate("\n\n[[nodes]]\nid = 'x'\n", ["nodes", 0, "prefix"]) == 3


def test_locate_ignores_key_in_following_table() -> None:
    text = "[[connections]]\nname = 'a'\n[[connections]]\npriority = 1\n"
    assert locate(text, ["connections", 0, "priority"]) == 1


# resolve_secret ---------------------------------------------------------------------------------


def test_resolve_secret_returns_literal_key_without_env() -> None:
    assert resolve_secret("sk-literal", None, {"OTHER": "x"}) == "sk-literal"


def test_resolve_secret_returns_none_without_any_source() -> None:
    assert resolve_secret(None, None, {}) is None


def test_resolve_secret_reads_named_env_variable() -> None:
    assert resolve_secret(None, "MY_KEY", {"MY_KEY": "sk-from-env"}) == "sk-from-env"


@pytest.mark.parametrize("environ", [{}, {"MY_KEY": ""}])
def test_resolve_secret_config_error_when_env_unset_or_empty(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="MY_KEY"):
        resolve_secret(None, "MY_KEY", environ)
