"""Reads and writes of connections, nodes and inbound keys (secrets sealed by the vault)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import apsw

from omniroute.security.vault import Vault
from omniroute.store.records import ApiKeyRow, ConnectionRow, NodeRow


def _connection_aad(provider: str, name: str) -> str:
    return f"connections:{provider}:{name}:api_key"


def _node_aad(node_id: str) -> str:
    return f"nodes:{node_id}:api_key"


class Repositories:
    """Small repository over one apsw connection (owned by the caller)."""

    def __init__(self, conn: apsw.Connection, vault: Vault) -> None:
        self.conn = conn
        self.vault = vault

    # connections -------------------------------------------------------------------------
    def connection_hash(self, provider: str, name: str) -> str | None:
        row = self.conn.execute(
            "SELECT config_hash FROM connections WHERE provider = ? AND name = ?", (provider, name)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def upsert_connection(
        self,
        *,
        provider: str,
        name: str,
        api_key: str | None,
        base_url: str | None,
        priority: int,
        enabled: bool,
        models: list[str],
        limits: tuple[int | None, int | None, int | None] = (None, None, None),
        config_hash: str | None = None,
    ) -> None:
        now = time.time()
        sealed = None if api_key is None else self.vault.seal(api_key, _connection_aad(provider, name))
        rpm, min_gap_ms, max_concurrent = limits
        self.conn.execute(
            """INSERT INTO connections (provider, name, base_url, priority, enabled, secret, models, config_hash,
                                        created_at, updated_at, rpm, min_gap_ms, max_concurrent)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (provider, name) DO UPDATE SET base_url = excluded.base_url,
                   priority = excluded.priority, enabled = excluded.enabled, secret = excluded.secret,
                   models = excluded.models, config_hash = COALESCE(excluded.config_hash, connections.config_hash),
                   updated_at = excluded.updated_at, rpm = excluded.rpm, min_gap_ms = excluded.min_gap_ms,
                   max_concurrent = excluded.max_concurrent""",
            (
                provider,
                name,
                base_url,
                priority,
                int(enabled),
                sealed,
                json.dumps(models),
                config_hash,
                now,
                now,
                rpm,
                min_gap_ms,
                max_concurrent,
            ),
        )

    def list_connections(self) -> list[ConnectionRow]:
        rows: list[Any] = self.conn.execute(
            "SELECT id, provider, name, base_url, priority, enabled, secret, models, rpm, min_gap_ms, max_concurrent "
            "FROM connections ORDER BY priority, id"
        ).fetchall()
        return [
            ConnectionRow(
                id=int(r[0]),
                provider=str(r[1]),
                name=str(r[2]),
                base_url=r[3],
                priority=int(r[4]),
                enabled=bool(r[5]),
                api_key=None if r[6] is None else self.vault.open(bytes(r[6]), _connection_aad(r[1], r[2])),
                models=tuple(json.loads(r[7])),
                limits=(r[8], r[9], r[10]),
            )
            for r in rows
        ]

    # nodes -------------------------------------------------------------------------------
    def node_hash(self, node_id: str) -> str | None:
        row = self.conn.execute("SELECT config_hash FROM nodes WHERE id = ?", (node_id,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def upsert_node(
        self,
        *,
        node_id: str,
        prefix: str,
        dialect: str,
        base_url: str,
        api_key: str | None,
        enabled: bool,
        models: list[str],
        config_hash: str | None = None,
    ) -> None:
        now = time.time()
        sealed = None if api_key is None else self.vault.seal(api_key, _node_aad(node_id))
        self.conn.execute(
            """INSERT INTO nodes (id, prefix, dialect, base_url, secret, models, enabled, config_hash, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET prefix = excluded.prefix, dialect = excluded.dialect,
                   base_url = excluded.base_url, secret = excluded.secret, models = excluded.models,
                   enabled = excluded.enabled, config_hash = COALESCE(excluded.config_hash, nodes.config_hash),
                   updated_at = excluded.updated_at""",
            (
                node_id,
                prefix,
                dialect,
                base_url,
                sealed,
                json.dumps(models),
                int(enabled),
                config_hash,
                now,
                now,
            ),
        )

    def list_nodes(self) -> list[NodeRow]:
        rows: list[Any] = self.conn.execute(
            "SELECT id, prefix, dialect, base_url, enabled, secret, models FROM nodes ORDER BY id"
        ).fetchall()
        return [
            NodeRow(
                id=str(r[0]),
                prefix=str(r[1]),
                dialect=str(r[2]),
                base_url=str(r[3]),
                enabled=bool(r[4]),
                api_key=None if r[5] is None else self.vault.open(bytes(r[5]), _node_aad(r[0])),
                models=tuple(json.loads(r[6])),
            )
            for r in rows
        ]

    # inbound keys ------------------------------------------------------------------------
    def api_key_hash(self, name: str) -> str | None:
        row = self.conn.execute("SELECT config_hash FROM api_keys WHERE name = ?", (name,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def upsert_api_key(
        self,
        *,
        name: str,
        key_hash: str,
        key_hint: str,
        allowed_models: list[str],
        config_hash: str | None = None,
    ) -> None:
        self.conn.execute(
            """INSERT INTO api_keys (id, name, key_hash, key_hint, allowed_models, config_hash, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET key_hash = excluded.key_hash, key_hint = excluded.key_hint,
                   allowed_models = excluded.allowed_models,
                   config_hash = COALESCE(excluded.config_hash, api_keys.config_hash)""",
            (
                "key_" + secrets.token_hex(8),
                name,
                key_hash,
                key_hint,
                json.dumps(allowed_models),
                config_hash,
                time.time(),
            ),
        )

    def set_api_key_models(self, name: str, allowed_models: list[str], config_hash: str) -> None:
        self.conn.execute(
            "UPDATE api_keys SET allowed_models = ?, config_hash = ? WHERE name = ?",
            (json.dumps(allowed_models), config_hash, name),
        )

    def list_api_keys(self) -> list[ApiKeyRow]:
        rows: list[Any] = self.conn.execute(
            "SELECT id, name, key_hash, key_hint, allowed_models, created_at, revoked_at FROM api_keys ORDER BY name"
        ).fetchall()
        return [
            ApiKeyRow(
                id=str(r[0]),
                name=str(r[1]),
                key_hash=str(r[2]),
                key_hint=str(r[3]),
                allowed_models=tuple(json.loads(r[4])),
                created_at=float(r[5]),
                revoked_at=None if r[6] is None else float(r[6]),
            )
            for r in rows
        ]
