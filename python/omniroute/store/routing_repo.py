"""Reads and writes of combos, aliases, wildcard aliases and circuit-breaker state."""

from __future__ import annotations

import time
from typing import Any

import apsw
import msgspec

from omniroute.routing.combos import Combo, ComboEntry, ComboSettings


def _hash(conn: apsw.Connection, sql: str, key: str) -> str | None:
    row = conn.execute(sql, (key,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


class RoutingRepository:
    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    # combos ------------------------------------------------------------------------------
    def combo_hash(self, name: str) -> str | None:
        return _hash(self.conn, "SELECT config_hash FROM combos WHERE name = ?", name)

    def upsert_combo(self, combo: Combo, *, config_hash: str | None = None) -> None:
        now = time.time()
        self.conn.execute(
            """INSERT INTO combos (name, strategy, models, settings, enabled, config_hash, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET strategy = excluded.strategy, models = excluded.models,
                   settings = excluded.settings, enabled = excluded.enabled,
                   config_hash = COALESCE(excluded.config_hash, combos.config_hash), updated_at = excluded.updated_at""",
            (
                combo.name,
                combo.strategy,
                msgspec.json.encode(combo.entries).decode(),
                msgspec.json.encode(combo.settings).decode(),
                int(combo.enabled),
                config_hash,
                now,
                now,
            ),
        )

    def delete_combo(self, name: str) -> bool:
        self.conn.execute("DELETE FROM combos WHERE name = ?", (name,))
        return self.conn.changes() > 0

    def list_combos(self) -> list[Combo]:
        rows: list[Any] = self.conn.execute(
            "SELECT name, strategy, models, settings, enabled FROM combos ORDER BY name"
        ).fetchall()
        return [
            Combo(
                name=str(r[0]),
                strategy=str(r[1]),
                entries=tuple(msgspec.json.decode(r[2], type=list[ComboEntry])),
                settings=msgspec.json.decode(r[3], type=ComboSettings),
                enabled=bool(r[4]),
            )
            for r in rows
        ]

    # aliases -----------------------------------------------------------------------------
    def alias_hash(self, alias: str) -> str | None:
        return _hash(self.conn, "SELECT config_hash FROM aliases WHERE alias = ?", alias)

    def upsert_alias(self, alias: str, target: str, *, config_hash: str | None = None) -> None:
        self.conn.execute(
            """INSERT INTO aliases (alias, target, config_hash) VALUES (?, ?, ?)
               ON CONFLICT (alias) DO UPDATE SET target = excluded.target,
                   config_hash = COALESCE(excluded.config_hash, aliases.config_hash)""",
            (alias, target, config_hash),
        )

    def list_aliases(self) -> dict[str, str]:
        rows: list[Any] = self.conn.execute("SELECT alias, target FROM aliases ORDER BY alias").fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def wildcard_hash(self, pattern: str) -> str | None:
        return _hash(self.conn, "SELECT config_hash FROM wildcard_aliases WHERE pattern = ?", pattern)

    def upsert_wildcard(self, pattern: str, target: str, *, config_hash: str | None = None) -> None:
        self.conn.execute(
            """INSERT INTO wildcard_aliases (pattern, target, config_hash) VALUES (?, ?, ?)
               ON CONFLICT (pattern) DO UPDATE SET target = excluded.target,
                   config_hash = COALESCE(excluded.config_hash, wildcard_aliases.config_hash)""",
            (pattern, target, config_hash),
        )

    def list_wildcards(self) -> list[tuple[str, str]]:
        rows: list[Any] = self.conn.execute(
            "SELECT pattern, target FROM wildcard_aliases ORDER BY pattern"
        ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def replace_aliases(self, aliases: dict[str, str], wildcards: list[tuple[str, str]]) -> None:
        """Makes the stored aliases exactly these (the API's PUT).

        Rows that stay keep their config_hash, so re-applying an unchanged file on the next
        start does not bring the file's version back over this edit.
        """
        old_alias = {str(r[0]): r[1] for r in self.conn.execute("SELECT alias, config_hash FROM aliases")}
        old_wild = {
            str(r[0]): r[1] for r in self.conn.execute("SELECT pattern, config_hash FROM wildcard_aliases")
        }
        with self.conn:
            self.conn.execute("DELETE FROM aliases")
            self.conn.execute("DELETE FROM wildcard_aliases")
            for alias, target in aliases.items():
                self.upsert_alias(alias, target, config_hash=old_alias.get(alias))
            for pattern, target in wildcards:
                self.upsert_wildcard(pattern, target, config_hash=old_wild.get(pattern))

    # circuit breakers --------------------------------------------------------------------
    def save_breaker(self, key: str, state: str, failures: int, opened_at: float | None) -> None:
        self.conn.execute(
            """INSERT INTO circuit_breakers (key, state, failures, opened_at, updated_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (key) DO UPDATE SET state = excluded.state, failures = excluded.failures,
                   opened_at = excluded.opened_at, updated_at = excluded.updated_at""",
            (key, state, failures, opened_at, time.time()),
        )

    def list_breakers(self) -> list[tuple[str, str, int, float | None]]:
        rows: list[Any] = self.conn.execute(
            "SELECT key, state, failures, opened_at FROM circuit_breakers ORDER BY key"
        ).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2]), None if r[3] is None else float(r[3])) for r in rows]

    def delete_breakers(self, keys: list[str] | None = None) -> None:
        if keys is None:
            self.conn.execute("DELETE FROM circuit_breakers")
        else:
            self.conn.executemany("DELETE FROM circuit_breakers WHERE key = ?", [(k,) for k in keys])
