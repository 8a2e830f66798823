"""The apsw store: database creation, migrations, WAL mode, and the repositories."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from omniroute.errors import ConfigError
from omniroute.security.vault import Vault
from omniroute.store.db import DB_FILE, connect, migrate, migration_files, open_database
from omniroute.store.repositories import Repositories

EXPECTED_TABLES = {"connections", "nodes", "api_keys", "usage_records", "settings", "schema_migrations"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "data"


@pytest.fixture
def db(data_dir: Path) -> Iterator[apsw.Connection]:
    conn = open_database(data_dir)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def repos(db: apsw.Connection) -> Repositories:
    return Repositories(db, Vault(bytes(range(32))))


def tables(conn: apsw.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# database lifecycle ---------------------------------------------------------------------------


def test_open_database_creates_file_in_data_dir(db: apsw.Connection, data_dir: Path) -> None:
    assert (data_dir / DB_FILE).is_file()
    assert tables(db) >= EXPECTED_TABLES


def test_open_database_data_dir_mode_0700(db: apsw.Connection, data_dir: Path) -> None:
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_open_database_records_first_migration(db: apsw.Connection) -> None:
    rows = db.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").fetchall()
    assert rows[0][:2] == (1, "0001_create_core_tables.sql")
    assert rows[0][2] > 0
    assert [r[0] for r in rows] == [v for v, _, _ in migration_files()]


def test_migrate_second_run_is_noop(db: apsw.Connection) -> None:
    before = db.execute("SELECT * FROM schema_migrations ORDER BY version").fetchall()
    schema_before = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    assert migrate(db) == []
    assert db.execute("SELECT * FROM schema_migrations ORDER BY version").fetchall() == before
    assert db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == schema_before


def test_migrate_fresh_connection_applies_all_in_order(tmp_path: Path) -> None:
    conn = connect(tmp_path / "fresh.sqlite")
    try:
        applied = migrate(conn)
    finally:
        conn.close()
    assert applied == [name for _, name, _ in migration_files()]
    assert applied[0] == "0001_create_core_tables.sql"


def test_open_database_reopen_keeps_data_and_skips_migrations(data_dir: Path) -> None:
    first = open_database(data_dir)
    try:
        first.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')")
    finally:
        first.close()
    second = open_database(data_dir)
    try:
        assert second.execute("SELECT value FROM settings WHERE key = 'k'").fetchone() == ("v",)
        assert second.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (
            len(migration_files()),
        )
    finally:
        second.close()


def test_open_database_journal_mode_wal(db: apsw.Connection, data_dir: Path) -> None:
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other = connect(data_dir / DB_FILE, readonly=True)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        other.close()


def test_connect_readonly_refuses_writes(db: apsw.Connection, data_dir: Path) -> None:
    ro = connect(data_dir / DB_FILE, readonly=True)
    try:
        with pytest.raises(apsw.ReadOnlyError):
            ro.execute("INSERT INTO settings (key, value) VALUES ('a', 'b')")
    finally:
        ro.close()


def test_connect_enables_foreign_keys(db: apsw.Connection) -> None:
    assert db.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_migration_files_sorted_with_unique_versions() -> None:
    files = migration_files()
    versions = [v for v, _, _ in files]
    assert versions == sorted(set(versions))
    assert all(sql.strip() for _, _, sql in files)


# repositories -----------------------------------------------------------------------------------


def add_connection(repos: Repositories, name: str, priority: int = 1, **extra: object) -> None:
    fields: dict[str, object] = {
        "provider": "openai",
        "name": name,
        "api_key": f"sk-{name}-secret-value",
        "base_url": None,
        "priority": priority,
        "enabled": True,
        "models": [],
    }
    fields.update(extra)
    repos.upsert_connection(**fields)  # type: ignore[arg-type]


def test_connection_round_trip_decrypts_secret(repos: Repositories) -> None:
    add_connection(repos, "main", base_url="https://proxy.example/v1", models=["gpt-4o"], config_hash="h1")
    (row,) = repos.list_connections()
    assert (row.provider, row.name, row.base_url, row.priority, row.enabled) == (
        "openai",
        "main",
        "https://proxy.example/v1",
        1,
        True,
    )
    assert row.api_key == "sk-main-secret-value"
    assert row.models == ("gpt-4o",)
    assert repos.connection_hash("openai", "main") == "h1"


def test_connection_without_secret_stored_as_null(repos: Repositories) -> None:
    add_connection(repos, "keyless", api_key=None)
    assert repos.conn.execute("SELECT secret FROM connections").fetchone() == (None,)
    assert repos.list_connections()[0].api_key is None


def test_list_connections_ordered_by_priority_then_id(repos: Repositories) -> None:
    add_connection(repos, "c", priority=3)
    add_connection(repos, "a", priority=1)
    add_connection(repos, "b", priority=3)
    assert [r.name for r in repos.list_connections()] == ["a", "c", "b"]


def test_upsert_connection_updates_existing_row_in_place(repos: Repositories) -> None:
    add_connection(repos, "main", priority=1)
    (first,) = repos.list_connections()
    add_connection(repos, "main", priority=9, enabled=False, api_key="sk-rotated-0000")
    (second,) = repos.list_connections()
    assert second.id == first.id
    assert (second.priority, second.enabled, second.api_key) == (9, False, "sk-rotated-0000")


def test_connection_hash_none_when_row_missing(repos: Repositories) -> None:
    assert repos.connection_hash("openai", "absent") is None
    assert repos.node_hash("absent") is None
    assert repos.api_key_hash("absent") is None


def test_config_hash_none_when_column_null(repos: Repositories) -> None:
    add_connection(repos, "main")
    repos.upsert_node(
        node_id="n1",
        prefix="local",
        dialect="openai",
        base_url="http://x",
        api_key=None,
        enabled=True,
        models=[],
    )
    repos.upsert_api_key(name="k", key_hash="h" * 64, key_hint="...abcd", allowed_models=[])
    assert repos.connection_hash("openai", "main") is None
    assert repos.node_hash("n1") is None
    assert repos.api_key_hash("k") is None


def test_sealed_secret_does_not_open_in_another_row(repos: Repositories) -> None:
    add_connection(repos, "a")
    add_connection(repos, "b")
    repos.conn.execute(
        "UPDATE connections SET secret = (SELECT secret FROM connections WHERE name = 'a') WHERE name = 'b'"
    )
    with pytest.raises(ConfigError):
        repos.list_connections()


def test_node_round_trip_decrypts_secret(repos: Repositories) -> None:
    repos.upsert_node(
        node_id="n1",
        prefix="local",
        dialect="anthropic",
        base_url="http://127.0.0.1:9000/v1",
        api_key="node-secret-123",
        enabled=False,
        models=["m1", "m2"],
        config_hash="nh",
    )
    (node,) = repos.list_nodes()
    assert (node.id, node.prefix, node.dialect, node.base_url, node.enabled) == (
        "n1",
        "local",
        "anthropic",
        "http://127.0.0.1:9000/v1",
        False,
    )
    assert node.api_key == "node-secret-123"
    assert node.models == ("m1", "m2")
    assert repos.node_hash("n1") == "nh"


def test_api_key_upsert_keeps_id_and_revocation(repos: Repositories) -> None:
    repos.upsert_api_key(
        name="ci", key_hash="a" * 64, key_hint="...aaaa", allowed_models=["x/*"], config_hash="k1"
    )
    (first,) = repos.list_api_keys()
    assert first.id.startswith("key_")
    assert first.revoked_at is None
    repos.conn.execute("UPDATE api_keys SET revoked_at = 1.0")
    assert repos.list_api_keys()[0].revoked_at == 1.0
    repos.upsert_api_key(
        name="ci", key_hash="b" * 64, key_hint="...bbbb", allowed_models=[], config_hash="k2"
    )
    (second,) = repos.list_api_keys()
    assert second.id == first.id
    # A changed file entry must not bring back a key that was revoked through the API.
    assert (second.key_hash, second.key_hint, second.allowed_models, second.revoked_at) == (
        "b" * 64,
        "...bbbb",
        (),
        1.0,
    )
    assert repos.api_key_hash("ci") == "k2"


def test_set_api_key_models_changes_models_only(repos: Repositories) -> None:
    repos.upsert_api_key(
        name="ci", key_hash="a" * 64, key_hint="...aaaa", allowed_models=[], config_hash="k1"
    )
    repos.set_api_key_models("ci", ["openai/*", "gpt-4?"], "k2")
    (row,) = repos.list_api_keys()
    assert row.allowed_models == ("openai/*", "gpt-4?")
    assert row.key_hash == "a" * 64
    assert repos.api_key_hash("ci") == "k2"
