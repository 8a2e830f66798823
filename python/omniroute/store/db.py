"""Database lifecycle: open apsw connections in WAL mode and apply numbered migrations.

Migrations are `migrations/NNNN_<verb>_<thing>.sql`, applied in order inside one transaction
each and recorded in `schema_migrations`. Several processes (Granian workers) may open the
same file; the migration step takes an immediate write lock so only one applies them.
"""

from __future__ import annotations

import re
import time
from importlib import resources
from pathlib import Path

import apsw

from omniroute.store.commit_signal import signal_commits

DB_FILE = "omniroute.sqlite"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def connect(path: Path, *, readonly: bool = False) -> apsw.Connection:
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    conn = apsw.Connection(str(path), flags=flags)
    conn.set_busy_timeout(5000)
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
        if str(path) not in ("", ":memory:"):
            signal_commits(conn, path)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every bundled migration, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("omniroute.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: apsw.Connection) -> list[str]:
    """Applies pending migrations; returns the names applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    applied: list[str] = []
    for version, name, sql in migration_files():
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone()
            if row is None:
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, time.time()),
                )
                applied.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied


def open_database(data_dir: Path) -> apsw.Connection:
    """Creates the data directory (mode 0700) and returns a migrated read-write connection."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    conn = connect(data_dir / DB_FILE)
    migrate(conn)
    return conn


def purge_older_than(conn: apsw.Connection, table: str, before_ts: float, *, chunk: int = 5000) -> int:
    """Deletes rows of `table` (a constant of ours, with `id` and `ts` columns) older than
    `before_ts`, in short transactions so writers are never blocked for long; returns the count."""
    deleted = 0
    while True:
        conn.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE ts < ? LIMIT ?)",
            (before_ts, chunk),
        )
        changed = int(conn.changes())
        deleted += changed
        if changed < chunk:
            return deleted
