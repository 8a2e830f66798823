"""Reads and writes of connections, nodes and inbound keys (secrets sealed by the vault)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import apsw

from omniroute.security.api_keys import LIMIT_FIELDS, KeyLimits
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
    _KEY_COLUMNS = (
        "id, name, key_hash, key_hint, allowed_models, created_at, revoked_at, public_id, source, "
        "daily_budget, weekly_budget, monthly_budget, budget_warning, rpm, tpm, max_concurrent"
    )

    @staticmethod
    def _key_row(r: Any) -> ApiKeyRow:
        return ApiKeyRow(
            id=str(r[0]),
            name=str(r[1]),
            key_hash=str(r[2]),
            key_hint=str(r[3]),
            allowed_models=tuple(json.loads(r[4])),
            created_at=float(r[5]),
            revoked_at=None if r[6] is None else float(r[6]),
            public_id=r[7],
            source=str(r[8]),
            daily_budget=r[9],
            weekly_budget=r[10],
            monthly_budget=r[11],
            budget_warning=float(r[12]),
            rpm=r[13],
            tpm=r[14],
            max_concurrent=r[15],
        )

    @staticmethod
    def _limit_values(limits: KeyLimits) -> tuple[Any, ...]:
        return tuple(getattr(limits, name) for name in LIMIT_FIELDS)

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
        public_id: str | None = None,
        limits: KeyLimits | None = None,
    ) -> None:
        """Inserts or replaces (by name) a key from the config file."""
        now = time.time()
        self.conn.execute(
            f"""INSERT INTO api_keys (id, name, key_hash, key_hint, allowed_models, config_hash, created_at,
                                      public_id, source, updated_at, {", ".join(LIMIT_FIELDS)})
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'config', ?, {", ".join("?" for _ in LIMIT_FIELDS)})
               ON CONFLICT (name) DO UPDATE SET key_hash = excluded.key_hash, key_hint = excluded.key_hint,
                   allowed_models = excluded.allowed_models, public_id = excluded.public_id,
                   config_hash = COALESCE(excluded.config_hash, api_keys.config_hash),
                   updated_at = excluded.updated_at,
                   {", ".join(f"{field} = excluded.{field}" for field in LIMIT_FIELDS)}""",
            (
                "key_" + secrets.token_hex(8),
                name,
                key_hash,
                key_hint,
                json.dumps(allowed_models),
                config_hash,
                now,
                public_id,
                now,
                *self._limit_values(limits or KeyLimits()),
            ),
        )

    def set_api_key_fields(
        self, name: str, allowed_models: list[str], limits: KeyLimits, config_hash: str
    ) -> None:
        """Updates everything but the secret of a key named in the config file."""
        self.conn.execute(
            f"""UPDATE api_keys SET allowed_models = ?, config_hash = ?, updated_at = ?,
                   {", ".join(f"{field} = ?" for field in LIMIT_FIELDS)} WHERE name = ?""",
            (json.dumps(allowed_models), config_hash, time.time(), *self._limit_values(limits), name),
        )

    def set_api_key_models(self, name: str, allowed_models: list[str], config_hash: str) -> None:
        self.conn.execute(
            "UPDATE api_keys SET allowed_models = ?, config_hash = ? WHERE name = ?",
            (json.dumps(allowed_models), config_hash, name),
        )

    def create_api_key(
        self,
        *,
        name: str,
        key_hash: str,
        key_hint: str,
        public_id: str,
        allowed_models: list[str],
        limits: KeyLimits,
        source: str,
    ) -> ApiKeyRow:
        """A new key made through the API or the CLI; `apsw.ConstraintError` when the name is taken."""
        now = time.time()
        key_id = "key_" + public_id
        self.conn.execute(
            f"""INSERT INTO api_keys (id, name, key_hash, key_hint, allowed_models, created_at, public_id,
                                      source, updated_at, {", ".join(LIMIT_FIELDS)})
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {", ".join("?" for _ in LIMIT_FIELDS)})""",
            (
                key_id,
                name,
                key_hash,
                key_hint,
                json.dumps(allowed_models),
                now,
                public_id,
                source,
                now,
                *self._limit_values(limits),
            ),
        )
        row = self.get_api_key(key_id)
        assert row is not None
        return row

    def get_api_key(self, ref: str) -> ApiKeyRow | None:
        """A key by id, else by name, else by public id."""
        for column in ("id", "name", "public_id"):
            row = self.conn.execute(
                f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE {column} = ?", (ref,)
            ).fetchone()
            if row is not None:
                return self._key_row(row)
        return None

    def update_api_key(self, key_id: str, *, name: str, allowed_models: list[str], limits: KeyLimits) -> None:
        """Replaces a key's name, allowed models and limits (the secret stays)."""
        self.conn.execute(
            f"""UPDATE api_keys SET name = ?, allowed_models = ?, updated_at = ?,
                   {", ".join(f"{field} = ?" for field in LIMIT_FIELDS)} WHERE id = ?""",
            (name, json.dumps(allowed_models), time.time(), *self._limit_values(limits), key_id),
        )

    def rotate_api_key(self, key_id: str, *, key_hash: str, key_hint: str, public_id: str | None) -> bool:
        """Replaces the stored digest: the old key stops matching at once. False when revoked or absent."""
        self.conn.execute(
            "UPDATE api_keys SET key_hash = ?, key_hint = ?, public_id = ?, updated_at = ? "
            "WHERE id = ? AND revoked_at IS NULL",
            (key_hash, key_hint, public_id, time.time(), key_id),
        )
        return self.conn.changes() > 0

    def revoke_api_key(self, key_id: str) -> bool:
        """Marks a key revoked (kept for usage history). False when absent or already revoked."""
        now = time.time()
        self.conn.execute(
            "UPDATE api_keys SET revoked_at = ?, updated_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now, now, key_id),
        )
        return self.conn.changes() > 0

    def api_key_last_used(self, key_id: str) -> float | None:
        """Time of the key's latest recorded request (an index probe on usage_records)."""
        row = self.conn.execute(
            "SELECT MAX(ts) FROM usage_records WHERE api_key_id = ?", (key_id,)
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def list_api_keys(self) -> list[ApiKeyRow]:
        rows: list[Any] = self.conn.execute(
            f"SELECT {self._KEY_COLUMNS} FROM api_keys ORDER BY name"
        ).fetchall()
        return [self._key_row(r) for r in rows]
