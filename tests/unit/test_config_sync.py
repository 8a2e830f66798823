"""apply_config: idempotent import of the TOML file into the database, with sealed secrets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from omniroute.config_file import ConfigFile, parse_config
from omniroute.errors import ConfigError
from omniroute.security.api_keys import KEY_PREFIX
from omniroute.security.vault import Vault
from omniroute.store.config_sync import apply_config
from omniroute.store.db import open_database
from omniroute.store.repositories import Repositories

OPENAI_KEY = "sk-openai-plaintext-Z9Q8"
DEEPSEEK_KEY = "sk-deepseek-from-env-K7T6"
NODE_KEY = "node-secret-from-env-M5N4"
INBOUND_KEY = "sk-omr-inbound-explicit-P3R2"
ENVIRON = {"DEEPSEEK_KEY": DEEPSEEK_KEY, "LOCAL_KEY": NODE_KEY}

BASE = f"""\
[[connections]]
provider = "openai"
name = "main"
api_key = "{OPENAI_KEY}"
priority = 2
models = ["gpt-4o"]

[[connections]]
provider = "ds"
name = "backup"
api_key_env = "DEEPSEEK_KEY"

[[nodes]]
id = "local-llm"
prefix = "local"
dialect = "openai"
base_url = "http://127.0.0.1:9000/v1"
api_key_env = "LOCAL_KEY"

[[api_keys]]
name = "ci"
key = "{INBOUND_KEY}"
allowed_models = ["openai/*"]

[[api_keys]]
name = "generated"
"""


def cfg(text: str) -> ConfigFile:
    return parse_config(Path("cfg.toml"), text)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def repos(data_dir: Path) -> Iterator[Repositories]:
    conn = open_database(data_dir)
    try:
        yield Repositories(conn, Vault(bytes(range(32))))
    finally:
        conn.close()


def snapshot(conn: apsw.Connection) -> dict[str, list[Any]]:
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        for table in ("connections", "nodes", "api_keys")
    }


def test_first_apply_inserts_connections_nodes_and_keys(repos: Repositories) -> None:
    apply_config(repos, cfg(BASE), ENVIRON)
    backup, main = repos.list_connections()  # ordered by priority
    assert (main.provider, main.name, main.priority, main.api_key, main.models) == (
        "openai",
        "main",
        2,
        OPENAI_KEY,
        ("gpt-4o",),
    )
    assert (backup.provider, backup.name, backup.priority, backup.api_key) == (
        "deepseek",
        "backup",
        1,
        DEEPSEEK_KEY,
    )
    (node,) = repos.list_nodes()
    assert (node.id, node.prefix, node.api_key) == ("local-llm", "local", NODE_KEY)
    ci, generated = repos.list_api_keys()
    assert ci.name == "ci"
    assert ci.allowed_models == ("openai/*",)
    assert generated.name == "generated"


def test_first_apply_returns_only_generated_keys(repos: Repositories) -> None:
    result = apply_config(repos, cfg(BASE), ENVIRON)
    assert [name for name, _ in result] == ["generated"]
    ((_, key),) = result
    assert key.startswith(KEY_PREFIX)
    stored = {row.name: row for row in repos.list_api_keys()}
    assert stored["generated"].key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored["generated"].key_hint == f"...{key[-4:]}"


def test_second_apply_of_same_config_changes_nothing(repos: Repositories) -> None:
    apply_config(repos, cfg(BASE), ENVIRON)
    before = snapshot(repos.conn)
    assert apply_config(repos, cfg(BASE), ENVIRON) == []
    assert snapshot(repos.conn) == before


def test_repository_edit_survives_reapplying_unchanged_file(repos: Repositories) -> None:
    config = cfg(BASE)
    apply_config(repos, config, ENVIRON)
    repos.upsert_connection(
        provider="openai",
        name="main",
        api_key=OPENAI_KEY,
        base_url=None,
        priority=7,
        enabled=True,
        models=["gpt-4o"],
    )
    apply_config(repos, config, ENVIRON)
    main = next(c for c in repos.list_connections() if c.name == "main")
    assert main.priority == 7


def test_edit_keeping_config_hash_survives_reapplying_unchanged_file(repos: Repositories) -> None:
    config = cfg(BASE)
    apply_config(repos, config, ENVIRON)
    repos.upsert_connection(
        provider="openai",
        name="main",
        api_key="sk-rotated-by-api",
        base_url=None,
        priority=7,
        enabled=False,
        models=[],
        config_hash=repos.connection_hash("openai", "main"),
    )
    apply_config(repos, config, ENVIRON)
    main = next(c for c in repos.list_connections() if c.name == "main")
    assert (main.priority, main.enabled, main.api_key) == (7, False, "sk-rotated-by-api")


def test_sql_edit_survives_reapplying_unchanged_file(repos: Repositories) -> None:
    config = cfg(BASE)
    apply_config(repos, config, ENVIRON)
    repos.conn.execute("UPDATE connections SET priority = 9 WHERE name = 'main'")
    repos.conn.execute("UPDATE nodes SET enabled = 0")
    apply_config(repos, config, ENVIRON)
    assert next(c for c in repos.list_connections() if c.name == "main").priority == 9
    assert repos.list_nodes()[0].enabled is False


def test_changed_entry_in_file_is_reapplied(repos: Repositories) -> None:
    apply_config(repos, cfg(BASE), ENVIRON)
    repos.conn.execute("UPDATE connections SET enabled = 0 WHERE name = 'backup'")
    edited = BASE.replace("priority = 2", "priority = 5").replace(OPENAI_KEY, "sk-openai-rotated-0000")
    apply_config(repos, cfg(edited), ENVIRON)
    by_name = {c.name: c for c in repos.list_connections()}
    assert by_name["main"].priority == 5
    assert by_name["main"].api_key == "sk-openai-rotated-0000"
    # the unchanged entry keeps its database edit
    assert by_name["backup"].enabled is False


def test_changed_env_secret_is_reapplied(repos: Repositories) -> None:
    apply_config(repos, cfg(BASE), ENVIRON)
    apply_config(repos, cfg(BASE), {**ENVIRON, "DEEPSEEK_KEY": "sk-deepseek-new-value"})
    backup = next(c for c in repos.list_connections() if c.name == "backup")
    assert backup.api_key == "sk-deepseek-new-value"


def test_missing_env_secret_raises_and_writes_nothing(repos: Repositories) -> None:
    with pytest.raises(ConfigError, match="LOCAL_KEY"):
        apply_config(repos, cfg(BASE), {"DEEPSEEK_KEY": DEEPSEEK_KEY})
    assert snapshot(repos.conn) == {"connections": [], "nodes": [], "api_keys": []}


def test_changed_node_in_file_is_reapplied(repos: Repositories) -> None:
    apply_config(repos, cfg(BASE), ENVIRON)
    apply_config(repos, cfg(BASE.replace('dialect = "openai"', 'dialect = "anthropic"')), ENVIRON)
    assert repos.list_nodes()[0].dialect == "anthropic"


def test_generated_key_kept_when_allowed_models_change(repos: Repositories) -> None:
    ((_, key),) = apply_config(repos, cfg(BASE), ENVIRON)
    edited = BASE.replace('name = "generated"\n', 'name = "generated"\nallowed_models = ["ds/*"]\n')
    assert apply_config(repos, cfg(edited), ENVIRON) == []
    generated = next(k for k in repos.list_api_keys() if k.name == "generated")
    assert generated.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert generated.allowed_models == ("ds/*",)


def test_explicit_key_change_in_file_replaces_hash(repos: Repositories) -> None:
    apply_config(repos, cfg(BASE), ENVIRON)
    new_key = "sk-omr-replacement-key-0001"
    apply_config(repos, cfg(BASE.replace(INBOUND_KEY, new_key)), ENVIRON)
    ci = next(k for k in repos.list_api_keys() if k.name == "ci")
    assert ci.key_hash == hashlib.sha256(new_key.encode()).hexdigest()


def test_api_keys_stored_only_as_sha256_hashes(repos: Repositories) -> None:
    ((_, generated),) = apply_config(repos, cfg(BASE), ENVIRON)
    rows = repos.conn.execute("SELECT * FROM api_keys").fetchall()
    flat = " ".join(str(value) for row in rows for value in row)
    for plain in (INBOUND_KEY, generated):
        assert plain not in flat
        assert hashlib.sha256(plain.encode()).hexdigest() in flat


def test_stored_secrets_not_plaintext_in_database_files(repos: Repositories, data_dir: Path) -> None:
    ((_, generated),) = apply_config(repos, cfg(BASE), ENVIRON)
    sealed = [
        bytes(r[0])
        for r in repos.conn.execute("SELECT secret FROM connections UNION ALL SELECT secret FROM nodes")
    ]
    assert len(sealed) == 3
    raw = b"".join(p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file())
    # the files do hold the committed rows: a non-secret field is readable in them
    assert b"http://127.0.0.1:9000/v1" in raw
    for plain in (OPENAI_KEY, DEEPSEEK_KEY, NODE_KEY, INBOUND_KEY, generated):
        assert plain.encode() not in raw
        assert all(plain.encode() not in blob for blob in sealed)
    # the secret is recoverable only through the vault
    assert {c.api_key for c in repos.list_connections()} == {OPENAI_KEY, DEEPSEEK_KEY}


def test_config_hash_does_not_reveal_secret(repos: Repositories) -> None:
    apply_config(repos, cfg(BASE), ENVIRON)
    hashes = [
        r[0]
        for r in repos.conn.execute(
            "SELECT config_hash FROM connections UNION ALL SELECT config_hash FROM nodes"
        )
    ]
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)


def test_apply_empty_config_changes_nothing(repos: Repositories) -> None:
    apply_config(repos, cfg(BASE), ENVIRON)
    before = snapshot(repos.conn)
    assert apply_config(repos, ConfigFile(), {}) == []
    assert snapshot(repos.conn) == before
