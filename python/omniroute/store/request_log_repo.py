"""`request_logs`: the batched writer, the `/api/logs` queries and retention.

The writer is a `BatchWriter` (background threads, bounded queue, one transaction per chunk of
rows): the request path only appends to a queue. Listing is newest first with keyset
pagination on `(ts, id)`; the cursor is opaque to clients. The capture column is read only by
the detail query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apsw
import msgspec

from omniroute.store.batch_writer import BatchWriter
from omniroute.store.db import DB_FILE, connect, purge_older_than

log = logging.getLogger("omniroute.request_log")

DAY_SECONDS = 86400.0
MAX_LIMIT = 500

#: Columns of `request_logs` written from an entry (same names as the entry's fields).
COLUMNS = (
    "ts",
    "request_id",
    "method",
    "route",
    "client_dialect",
    "upstream_dialect",
    "provider",
    "account",
    "connection_id",
    "api_key_id",
    "requested_model",
    "model",
    "combo",
    "stream",
    "status",
    "outcome",
    "latency_ms",
    "upstream_ms",
    "overhead_ms",
    "ttfb_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
    "cost_usd",
    "attempts",
    "attempt_log",
    "error",
    "capture",
)
#: Columns a listing returns (everything but the capture), and whether a capture exists.
_LIST_COLUMNS = ("id", *COLUMNS[:-1])
_INSERT = f"INSERT INTO request_logs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_encoder = msgspec.json.Encoder()


class RequestLogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One call as the request log keeps it (phases: see `observability.request_log`)."""

    ts: float
    request_id: str
    method: str
    route: str
    client_dialect: str
    upstream_dialect: str | None = None
    provider: str | None = None
    account: str | None = None
    connection_id: int | None = None
    api_key_id: str | None = None
    requested_model: str | None = None
    model: str | None = None
    combo: str | None = None
    stream: bool = False
    status: int = 0
    outcome: str = "error"
    latency_ms: float = 0.0
    upstream_ms: float = 0.0
    overhead_ms: float = 0.0
    ttfb_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    attempts: int = 0
    #: One item per upstream attempt: provider, model, account, status, ms, error.
    attempt_log: list[dict[str, Any]] = msgspec.field(default_factory=list)
    error: str | None = None
    #: The rendered (redacted, bounded) capture, when this call was captured.
    capture: dict[str, Any] | None = None


# The entry's fields are the table's columns, in the same order: a row is the entry as a tuple.
assert RequestLogEntry.__struct_fields__ == COLUMNS
_ATTEMPT_LOG = COLUMNS.index("attempt_log")
_CAPTURE = COLUMNS.index("capture")


def _row(entry: RequestLogEntry) -> tuple[object, ...]:
    values = list(msgspec.structs.astuple(entry))
    values[_ATTEMPT_LOG] = _encoder.encode(values[_ATTEMPT_LOG]).decode()
    if values[_CAPTURE] is not None:
        values[_CAPTURE] = _encoder.encode(values[_CAPTURE]).decode()
    return tuple(values)


class RequestLogWriter(BatchWriter[RequestLogEntry]):
    """Batched inserts. Captured entries are large (up to four bodies each): while the queue holds
    `capture_backlog` entries or more, new entries are queued without their capture (counted in
    `captures_dropped`), so a stalled disk cannot pile up captures in memory."""

    thread_name = "omniroute-request-log-writer"

    def __init__(
        self,
        db_path: Path,
        *,
        max_queue: int = 50_000,
        batch: int = 500,
        interval: float = 0.05,
        capture_backlog: int = 256,
    ) -> None:
        super().__init__(db_path, max_queue=max_queue, batch=batch, interval=interval)
        self._capture_backlog = capture_backlog
        self.captures_dropped = 0

    def put(self, item: RequestLogEntry) -> bool:
        if item.capture is not None and self.backlog >= self._capture_backlog:
            item = msgspec.structs.replace(item, capture=None)
            self.captures_dropped += 1
        return super().put(item)

    def _write(self, conn: apsw.Connection, items: list[RequestLogEntry]) -> None:
        try:
            with conn:
                conn.executemany(_INSERT, [_row(e) for e in items])
        except Exception:
            log.exception("request log batch of %d rows could not be written", len(items))
            return
        self.written += len(items)


class LogQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Filters of `/api/logs`; None = not filtered."""

    status: int | None = None
    #: A status class: 2 for 2xx, ... 5 for 5xx.
    status_class: int | None = None
    outcome: str | None = None
    provider: str | None = None
    model: str | None = None
    api_key_id: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 50
    #: (ts, id) of the last row of the previous page.
    after: tuple[float, int] | None = None


def encode_cursor(ts: float, row_id: int) -> str:
    return f"{ts!r}_{row_id}"


def decode_cursor(cursor: str) -> tuple[float, int] | None:
    ts, _, row_id = cursor.partition("_")
    try:
        return float(ts), int(row_id)
    except ValueError:
        return None


def _item(names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(names, row, strict=True))
    item["stream"] = bool(item["stream"])
    item["attempt_log"] = msgspec.json.decode(item["attempt_log"] or "[]")
    if "has_capture" in item:
        item["has_capture"] = bool(item["has_capture"])
    return item


class RequestLogRepository:
    """Queries over one apsw connection (owned by the caller)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    def list(self, query: LogQuery) -> tuple[list[dict[str, Any]], str | None]:
        """One page, newest first, and the cursor of the next page (None on the last)."""
        where: list[str] = []
        params: list[object] = []
        for column, op, value in (
            ("status", "=", query.status),
            ("outcome", "=", query.outcome),
            ("provider", "=", query.provider),
            ("api_key_id", "=", query.api_key_id),
            ("ts", ">=", query.since),
            ("ts", "<", query.until),
        ):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        if query.status_class is not None:
            where.append("status >= ? AND status < ?")
            params += [query.status_class * 100, query.status_class * 100 + 100]
        if query.model is not None:
            where.append("(model = ? OR requested_model = ?)")
            params += [query.model, query.model]
        if query.after is not None:
            ts, row_id = query.after
            where.append("(ts < ? OR (ts = ? AND id < ?))")
            params += [ts, ts, row_id]
        limit = max(1, min(query.limit, MAX_LIMIT))
        names = (*_LIST_COLUMNS, "has_capture")
        # typeof() reads the record header only, never the capture's overflow pages.
        sql = f"SELECT {', '.join(_LIST_COLUMNS)}, typeof(capture) = 'text' FROM request_logs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        params.append(limit + 1)
        rows = [_item(names, row) for row in self.conn.execute(sql, params)]
        cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            cursor = encode_cursor(rows[-1]["ts"], rows[-1]["id"])
        return rows, cursor

    def get(self, request_id: str) -> dict[str, Any] | None:
        """The newest entry with this request id, with its capture (decoded) when there is one."""
        names = (*_LIST_COLUMNS, "capture")
        row = self.conn.execute(
            f"SELECT {', '.join(names)} FROM request_logs WHERE request_id = ? ORDER BY ts DESC, id DESC LIMIT 1",
            (request_id,),
        ).fetchone()
        if row is None:
            return None
        item = _item(names, row)
        raw = item.pop("capture")
        item["has_capture"] = raw is not None
        item["capture"] = msgspec.json.decode(raw) if raw is not None else None
        return item

    def purge(self, before_ts: float, *, chunk: int = 5000) -> int:
        """Deletes rows older than `before_ts` in short transactions; returns the count."""
        return purge_older_than(self.conn, "request_logs", before_ts, chunk=chunk)


def purge_expired_logs(data_dir: Path, retention_days: int, *, now: float | None = None) -> int:
    """Applies `[logging] retention_days` (0 = keep forever) on its own connection (blocking)."""
    if retention_days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * DAY_SECONDS
    conn = connect(data_dir / DB_FILE)
    try:
        return RequestLogRepository(conn).purge(cutoff)
    finally:
        conn.close()
