"""The audit log of admin actions: logins, logouts, password resets and state-changing `/api/*`
calls (method, path, actor, client IP, status, time).

Request handlers call `AuditWriter.record()`, which only appends to a bounded queue; a daemon
thread writes the entries in batches, so the request path never waits on disk. Processes
without a running writer (the CLI) use `write_entries` directly. Entries older than
`RETENTION_DAYS` are pruned when the writer starts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import apsw
import msgspec

from omniroute.store.batch_writer import BatchWriter

log = logging.getLogger("omniroute.audit")

RETENTION_DAYS = 365
MAX_LIST = 1000

_INSERT = """INSERT INTO audit_log (ts, action, actor, client_ip, method, path, status, detail)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    #: login | login_failed | login_locked | logout | password_set | password_reset | api
    action: str
    #: token | session:<id prefix> | loopback | anonymous | cli | system
    actor: str
    client_ip: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    detail: str | None = None
    ts: float = msgspec.field(default_factory=time.time)


def _row(e: AuditEntry) -> tuple[object, ...]:
    return (e.ts, e.action, e.actor, e.client_ip, e.method, e.path, e.status, e.detail)


def write_entries(conn: apsw.Connection, entries: list[AuditEntry]) -> None:
    with conn:
        conn.executemany(_INSERT, [_row(e) for e in entries])


def list_entries(
    conn: apsw.Connection, *, since: float | None = None, limit: int = 100, action: str | None = None
) -> list[dict[str, Any]]:
    """Newest first; at most `limit` (capped at MAX_LIST) entries at or after `since`."""
    clauses: list[str] = []
    params: list[object] = []
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since)
    if action is not None:
        clauses.append("action = ?")
        params.append(action)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = conn.execute(
        "SELECT id, ts, action, actor, client_ip, method, path, status, detail FROM audit_log"
        f"{where} ORDER BY ts DESC, id DESC LIMIT ?",
        (*params, max(1, min(limit, MAX_LIST))),
    )
    names = ("id", "ts", "action", "actor", "client_ip", "method", "path", "status", "detail")
    return [dict(zip(names, row, strict=True)) for row in cursor]


def prune(conn: apsw.Connection, *, older_than: float) -> int:
    with conn:
        conn.execute("DELETE FROM audit_log WHERE ts < ?", (older_than,))
    return int(conn.changes())


class AuditWriter(BatchWriter[AuditEntry]):
    thread_name = "omniroute-audit-writer"

    def __init__(
        self, db_path: Path, *, max_queue: int = 10_000, batch: int = 200, interval: float = 0.2
    ) -> None:
        super().__init__(db_path, max_queue=max_queue, batch=batch, interval=interval)

    def record(self, entry: AuditEntry) -> None:
        if not self.put(entry):
            log.warning("audit queue full; entry dropped: %s %s", entry.action, entry.path or "")

    def _on_start(self, conn: apsw.Connection) -> None:
        try:
            prune(conn, older_than=time.time() - RETENTION_DAYS * 86400.0)
        except apsw.Error:
            log.exception("audit log pruning failed")

    def _write(self, conn: apsw.Connection, entries: list[AuditEntry]) -> None:
        try:
            write_entries(conn, entries)
            self.written += len(entries)
        except Exception:
            log.exception("audit batch of %d entries could not be written", len(entries))
