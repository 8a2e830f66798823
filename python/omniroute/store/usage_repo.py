"""Usage rollups, summaries, retention and stored price overrides.

`usage_daily` holds one row per (UTC day, key, provider, model, combo) with request, error,
token and cost sums. The usage writer folds every batch of raw `usage_records` into it inside
the same transaction (`apply_rollups`), so summaries (`/api/usage`) and budgets read the small
rollup table and never scan raw rows. Raw rows are deleted after `[usage] retention_days`
(`purge_raw`); rollups are kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apsw

from omniroute.providers.pricing import Price
from omniroute.store.db import DB_FILE, connect, purge_older_than
from omniroute.store.records import UsageRecord

#: Sum columns of a rollup row, in storage order.
SUM_COLUMNS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
    "cost_usd",
)
#: `group_by` names of `/api/usage` -> the rollup columns they group on.
GROUPS: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "key": ("api_key_id",),
    "provider": ("provider",),
    "model": ("provider", "model"),
    "combo": ("combo",),
}

_UPSERT_ROLLUP = """INSERT INTO usage_daily (day, api_key_id, provider, model, combo, requests, errors,
    input_tokens, output_tokens, cached_tokens, cache_creation_tokens, reasoning_tokens, cost_usd)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (day, api_key_id, provider, model, combo) DO UPDATE SET
        requests = requests + excluded.requests,
        errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cached_tokens = cached_tokens + excluded.cached_tokens,
        cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
        reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
        cost_usd = cost_usd + excluded.cost_usd"""

RollupKey = tuple[str, str, str, str, str]
DAY_SECONDS = 86400.0


def utc_day(ts: float) -> str:
    """The UTC calendar day of a Unix time, 'YYYY-MM-DD' (the rollups' and budgets' day)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def is_error(record: UsageRecord) -> bool:
    return record.outcome != "success"


def rollup_deltas(records: Iterable[UsageRecord]) -> dict[RollupKey, list[float]]:
    """What a batch adds to each rollup row: sums in `SUM_COLUMNS` order."""
    deltas: dict[RollupKey, list[float]] = {}
    for r in records:
        key = (utc_day(r.ts), r.api_key_id or "", r.provider or "", r.model or "", r.combo or "")
        sums = deltas.get(key)
        if sums is None:
            sums = deltas[key] = [0, 0, 0, 0, 0, 0, 0, 0.0]
        sums[0] += 1
        sums[1] += 1 if is_error(r) else 0
        sums[2] += r.input_tokens
        sums[3] += r.output_tokens
        sums[4] += r.cached_tokens
        sums[5] += r.cache_creation_tokens
        sums[6] += r.reasoning_tokens
        sums[7] += r.cost_usd or 0.0
    return deltas


def apply_rollups(conn: apsw.Connection, records: Iterable[UsageRecord]) -> None:
    """Adds a batch to `usage_daily`; call inside the transaction that inserts the raw rows."""
    rows = [(*key, *(int(v) for v in sums[:7]), sums[7]) for key, sums in rollup_deltas(records).items()]
    if rows:
        conn.executemany(_UPSERT_ROLLUP, rows)


def purge_expired(data_dir: Path, retention_days: int, *, now: float | None = None) -> int:
    """Applies `[usage] retention_days` (0 = keep forever) on its own connection (blocking)."""
    if retention_days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * DAY_SECONDS
    conn = connect(data_dir / DB_FILE)
    try:
        return UsageRepository(conn).purge_raw(cutoff)
    finally:
        conn.close()


class UsageRepository:
    """Rollup queries, retention and price overrides over one apsw connection (owned by the caller)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    # summaries ---------------------------------------------------------------------------
    def summary(
        self,
        group_by: Sequence[str],
        *,
        since: str | None = None,
        until: str | None = None,
        api_key_id: str | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> list[dict[str, Any]]:
        """Sums per group over days `since`..`until` (inclusive, 'YYYY-MM-DD'); groups from `GROUPS`."""
        columns: list[str] = []
        for name in group_by:
            for column in GROUPS[name]:
                if column not in columns:
                    columns.append(column)
        where: list[str] = []
        params: list[object] = []
        for column, op, value in (
            ("day", ">=", since),
            ("day", "<=", until),
            ("api_key_id", "=", api_key_id),
            ("provider", "=", provider),
            ("model", "=", model),
        ):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        sums = ", ".join(f"SUM({c})" for c in SUM_COLUMNS)
        select = ", ".join([*columns, sums])
        sql = f"SELECT {select} FROM usage_daily"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if columns:
            sql += f" GROUP BY {', '.join(columns)} ORDER BY {', '.join(columns)}"
        out: list[dict[str, Any]] = []
        for row in self.conn.execute(sql, params):
            if row[len(columns)] is None:
                continue  # no rows at all: SUM over nothing
            item: dict[str, Any] = {c: (row[i] or None) for i, c in enumerate(columns)}
            for i, name in enumerate(SUM_COLUMNS):
                value = row[len(columns) + i]
                item[name] = round(float(value), 10) if name == "cost_usd" else int(value)
            out.append(item)
        return out

    def spend_by_day(self, api_key_id: str, since: str) -> dict[str, float]:
        """USD per UTC day recorded for one key from `since` on (budgets)."""
        rows = self.conn.execute(
            "SELECT day, SUM(cost_usd) FROM usage_daily WHERE api_key_id = ? AND day >= ? GROUP BY day",
            (api_key_id, since),
        )
        return {str(day): float(cost or 0.0) for day, cost in rows}

    # retention ---------------------------------------------------------------------------
    def purge_raw(self, before_ts: float, *, chunk: int = 5000) -> int:
        """Deletes raw usage rows older than `before_ts` in short transactions; returns the count."""
        return purge_older_than(self.conn, "usage_records", before_ts, chunk=chunk)

    # price overrides ---------------------------------------------------------------------
    def list_pricing(self) -> dict[tuple[str, str], Price]:
        rows = self.conn.execute(
            "SELECT provider, model, input, output, cached_input, cache_creation, reasoning FROM pricing"
        )
        return {(str(r[0]), str(r[1])): Price(r[2], r[3], r[4], r[5], r[6]) for r in rows}

    def pricing_hash(self, provider: str, model: str) -> str | None:
        row = self.conn.execute(
            "SELECT config_hash FROM pricing WHERE provider = ? AND model = ?", (provider, model)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def upsert_pricing(
        self, provider: str, model: str, price: Price, *, config_hash: str | None = None
    ) -> None:
        """Stores an override; an API edit (no hash) keeps the file's hash so a reload does not undo it."""
        self.conn.execute(
            """INSERT INTO pricing (provider, model, input, output, cached_input, cache_creation, reasoning,
                                    config_hash, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (provider, model) DO UPDATE SET input = excluded.input, output = excluded.output,
                   cached_input = excluded.cached_input, cache_creation = excluded.cache_creation,
                   reasoning = excluded.reasoning,
                   config_hash = COALESCE(excluded.config_hash, pricing.config_hash),
                   updated_at = excluded.updated_at""",
            (
                provider,
                model,
                price.input,
                price.output,
                price.cached_input,
                price.cache_creation,
                price.reasoning,
                config_hash,
                time.time(),
            ),
        )

    def delete_pricing(self, provider: str, model: str) -> bool:
        self.conn.execute("DELETE FROM pricing WHERE provider = ? AND model = ?", (provider, model))
        return int(self.conn.changes()) > 0
