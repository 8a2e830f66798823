"""Daily rollups kept in the usage writer's transaction, summaries over them, retention of raw
rows, the migration's backfill, stored price overrides, and the spend ledger fed by the writer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import apsw
import pytest

from omniroute.config_file import parse_config
from omniroute.providers.pricing import Price
from omniroute.security.vault import Vault
from omniroute.store.config_sync import apply_config
from omniroute.store.db import DB_FILE, connect, migrate, open_database
from omniroute.store.records import UsageRecord
from omniroute.store.repositories import Repositories
from omniroute.store.spend_ledger import SpendLedger
from omniroute.store.usage_repo import UsageRepository, purge_expired, rollup_deltas, utc_day
from omniroute.store.usage_writer import UsageWriter

DAY1 = datetime(2025, 3, 1, 10, tzinfo=UTC).timestamp()
DAY2 = datetime(2025, 3, 2, 23, 59, tzinfo=UTC).timestamp()


def rec(ts: float = DAY1, **fields: object) -> UsageRecord:
    base: dict[str, object] = {
        "ts": ts,
        "request_id": "req",
        "api_key_id": "key_a",
        "route": "/v1/chat/completions",
        "client_dialect": "openai",
        "provider": "openai",
        "connection_id": 1,
        "requested_model": "gpt-4o",
        "model": "gpt-4o",
        "stream": False,
        "status": 200,
        "outcome": "success",
        "latency_ms": 5.0,
        "ttft_ms": None,
        "input_tokens": 100,
        "output_tokens": 20,
        "cost_usd": 0.00045,
    }
    base.update(fields)
    return UsageRecord(**base)  # type: ignore[arg-type]


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[apsw.Connection]:
    db = open_database(tmp_path)
    yield db
    db.close()


def write(tmp_path: Path, records: list[UsageRecord], ledger: SpendLedger | None = None) -> UsageWriter:
    writer = UsageWriter(tmp_path / DB_FILE, batch=3, ledger=ledger)
    for r in records:
        writer.record(r)
    writer.start()
    writer.close()
    return writer


SAMPLE = [
    rec(),
    rec(input_tokens=1000, output_tokens=300, cached_tokens=400, reasoning_tokens=100, cost_usd=0.0045),
    rec(status=502, outcome="error", input_tokens=0, output_tokens=0, cost_usd=0.0),
    rec(provider="groq", model="llama-3.3-70b-versatile", combo="fast", cost_usd=0.0001),
    rec(ts=DAY2, api_key_id="key_b", cache_creation_tokens=50, cost_usd=0.25),
    rec(ts=DAY2, api_key_id=None, provider=None, model=None, status=400, outcome="error", cost_usd=None),
    rec(ts=DAY2, outcome="stream_failed", input_tokens=7, output_tokens=3, cost_usd=0.00002),
]


def test_utc_day_boundaries() -> None:
    assert utc_day(datetime(2025, 3, 1, 23, 59, 59, tzinfo=UTC).timestamp()) == "2025-03-01"
    assert utc_day(datetime(2025, 3, 2, tzinfo=UTC).timestamp()) == "2025-03-02"


def test_rollup_deltas_sum_a_batch_per_day_key_provider_model_combo() -> None:
    deltas = rollup_deltas(SAMPLE)
    assert deltas[("2025-03-01", "key_a", "openai", "gpt-4o", "")] == pytest.approx(
        [3, 1, 1100, 320, 400, 0, 100, 0.00495]
    )
    assert deltas[("2025-03-01", "key_a", "groq", "llama-3.3-70b-versatile", "fast")] == [
        1,
        0,
        100,
        20,
        0,
        0,
        0,
        0.0001,
    ]
    assert deltas[("2025-03-02", "", "", "", "")] == [1, 1, 100, 20, 0, 0, 0, 0.0]
    assert deltas[("2025-03-02", "key_a", "openai", "gpt-4o", "")][:2] == [1, 1]  # stream_failed is an error
    assert len(deltas) == 5


def test_writer_keeps_rollups_equal_to_raw_rows_across_batches(tmp_path: Path, conn: apsw.Connection) -> None:
    writer = write(tmp_path, SAMPLE + SAMPLE)  # batches of 3: the same rollup rows are updated repeatedly
    assert writer.written == 14
    raw = conn.execute(
        """SELECT strftime('%Y-%m-%d', ts, 'unixepoch'), COALESCE(api_key_id, ''), COALESCE(provider, ''),
                  COALESCE(model, ''), COALESCE(combo, ''), COUNT(*), SUM(outcome != 'success'),
                  SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), SUM(cache_creation_tokens),
                  SUM(reasoning_tokens), ROUND(COALESCE(SUM(cost_usd), 0), 10)
           FROM usage_records GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"""
    ).fetchall()
    rolled = conn.execute(
        """SELECT day, api_key_id, provider, model, combo, requests, errors, input_tokens, output_tokens,
                  cached_tokens, cache_creation_tokens, reasoning_tokens, ROUND(cost_usd, 10)
           FROM usage_daily ORDER BY 1, 2, 3, 4, 5"""
    ).fetchall()
    assert rolled == raw
    assert len(rolled) == 5


def test_summary_groups_filters_and_totals(tmp_path: Path, conn: apsw.Connection) -> None:
    write(tmp_path, SAMPLE)
    repo = UsageRepository(conn)
    by_day = repo.summary(["day"])
    assert [(r["day"], r["requests"], r["errors"], r["cost_usd"]) for r in by_day] == [
        ("2025-03-01", 4, 1, 0.00505),
        ("2025-03-02", 3, 2, 0.25002),
    ]
    by_key = {r["api_key_id"]: r for r in repo.summary(["key"])}
    assert by_key["key_a"]["requests"] == 5 and by_key["key_a"]["cost_usd"] == 0.00507
    assert by_key["key_b"]["cache_creation_tokens"] == 50
    assert by_key[None]["requests"] == 1  # calls without a key (keys optional) are grouped under null
    by_model = repo.summary(["model"])
    assert [(r["provider"], r["model"], r["requests"]) for r in by_model] == [
        (None, None, 1),
        ("groq", "llama-3.3-70b-versatile", 1),
        ("openai", "gpt-4o", 5),
    ]
    assert repo.summary(["combo"], since="2025-03-01", until="2025-03-01")[1]["combo"] == "fast"
    assert repo.summary(["day"], since="2025-03-02") == by_day[1:]
    assert repo.summary(["provider"], api_key_id="key_b") == [
        {
            "provider": "openai",
            "requests": 1,
            "errors": 0,
            "input_tokens": 100,
            "output_tokens": 20,
            "cached_tokens": 0,
            "cache_creation_tokens": 50,
            "reasoning_tokens": 0,
            "cost_usd": 0.25,
        }
    ]
    totals = repo.summary([])
    assert totals[0]["requests"] == 7 and totals[0]["cost_usd"] == 0.25507
    assert repo.summary([], since="2030-01-01") == []
    assert repo.summary(["day", "key"], model="gpt-4o", provider="openai")[0]["api_key_id"] == "key_a"


def test_purge_deletes_old_raw_rows_in_chunks_and_keeps_rollups(
    tmp_path: Path, conn: apsw.Connection
) -> None:
    write(tmp_path, [rec(ts=DAY1 + i) for i in range(10)] + [rec(ts=DAY2)])
    repo = UsageRepository(conn)
    assert repo.purge_raw(DAY2 - 1, chunk=3) == 10
    assert conn.execute("SELECT COUNT(*) FROM usage_records").fetchone() == (1,)
    assert [r["requests"] for r in repo.summary(["day"])] == [10, 1]
    assert repo.purge_raw(DAY2 - 1) == 0


def test_purge_expired_applies_retention_days(tmp_path: Path, conn: apsw.Connection) -> None:
    now = DAY2 + 3600
    write(tmp_path, [rec(ts=now - 31 * 86400), rec(ts=now - 29 * 86400), rec(ts=now)])
    assert purge_expired(tmp_path, 0, now=now) == 0  # 0 = keep forever
    assert purge_expired(tmp_path, 30, now=now) == 1
    assert conn.execute("SELECT COUNT(*) FROM usage_records").fetchone() == (2,)
    assert conn.execute("SELECT SUM(requests) FROM usage_daily").fetchone() == (3,)


def test_migration_backfills_rollups_from_existing_raw_rows(tmp_path: Path, conn: apsw.Connection) -> None:
    write(tmp_path, SAMPLE)
    before = conn.execute("SELECT * FROM usage_daily ORDER BY 1, 2, 3, 4, 5").fetchall()
    # Rewind to a database from before migration 0007, then migrate again.
    conn.execute(
        "DROP TABLE usage_daily; DROP TABLE pricing; DELETE FROM schema_migrations WHERE version = 7"
    )
    assert migrate(conn) == ["0007_create_usage_rollups.sql"]
    after = conn.execute("SELECT * FROM usage_daily ORDER BY 1, 2, 3, 4, 5").fetchall()
    assert [r[:-1] for r in after] == [r[:-1] for r in before]
    assert [round(r[-1], 10) for r in after] == [round(r[-1], 10) for r in before]


def test_writer_moves_costs_from_pending_to_committed_in_the_ledger(
    tmp_path: Path, conn: apsw.Connection
) -> None:
    ledger = SpendLedger(tmp_path / DB_FILE)
    ledger.refresh("key_a", "2025-03-01")
    assert ledger.day_totals("key_a") == {}
    writer = UsageWriter(tmp_path / DB_FILE, ledger=ledger)
    writer.record(rec(cost_usd=0.5))
    writer.record(rec(ts=DAY2, cost_usd=0.25))
    assert ledger.day_totals("key_a") == {"2025-03-01": 0.5, "2025-03-02": 0.25}  # pending
    writer.start()
    writer.close()
    assert ledger.day_totals("key_a") == {"2025-03-01": 0.5, "2025-03-02": 0.25}  # committed, once
    ledger.refresh("key_a", "2025-03-01")
    assert ledger.day_totals("key_a") == {"2025-03-01": 0.5, "2025-03-02": 0.25}  # the rollups agree
    ledger.close()


def test_failed_batches_and_dropped_records_leave_no_pending_spend(tmp_path: Path) -> None:
    ledger = SpendLedger(reader=lambda key, since: {})
    writer = UsageWriter(tmp_path / "unmigrated.sqlite", max_queue=1, ledger=ledger)
    writer.record(rec(cost_usd=0.5))
    writer.record(rec(cost_usd=0.25))  # queue full: dropped
    assert writer.dropped == 1
    assert ledger.day_totals("key_a") == {"2025-03-01": 0.5}
    writer.start()
    writer.close()  # the batch fails (no tables): its cost is taken back
    assert ledger.day_totals("key_a") == {}


def test_price_overrides_stored_and_toml_entries_applied_once(tmp_path: Path, conn: apsw.Connection) -> None:
    repo = UsageRepository(conn)
    repo.upsert_pricing("openai", "gpt-4o", Price(1.0, 2.0, None, None, 3.0))
    assert repo.list_pricing() == {("openai", "gpt-4o"): Price(1.0, 2.0, None, None, 3.0)}
    toml = """
[[pricing]]
provider = "anthropic"
model = "claude-sonnet-4-5"
input = 2.0
output = 10.0
cached_input = 0.2
cache_creation = 2.5
"""
    repos = Repositories(conn, Vault.from_settings(None, tmp_path))
    apply_config(repos, parse_config(tmp_path / "c.toml", toml), {})
    assert repo.list_pricing()[("anthropic", "claude-sonnet-4-5")] == Price(2.0, 10.0, 0.2, 2.5)
    # An API edit of a file entry survives reloading the unchanged file...
    repo.upsert_pricing("anthropic", "claude-sonnet-4-5", Price(9.0, 9.0))
    apply_config(repos, parse_config(tmp_path / "c.toml", toml), {})
    assert repo.list_pricing()[("anthropic", "claude-sonnet-4-5")] == Price(9.0, 9.0)
    # ...and a changed file entry is applied again.
    apply_config(repos, parse_config(tmp_path / "c.toml", toml.replace("10.0", "11.0")), {})
    assert repo.list_pricing()[("anthropic", "claude-sonnet-4-5")] == Price(2.0, 11.0, 0.2, 2.5)
    assert repo.delete_pricing("openai", "gpt-4o") is True
    assert repo.delete_pricing("openai", "gpt-4o") is False


def test_negative_toml_prices_are_refused(tmp_path: Path, conn: apsw.Connection) -> None:
    from omniroute.errors import ConfigError

    toml = '[[pricing]]\nprovider = "openai"\nmodel = "gpt-4o"\ninput = -1.0\noutput = 1.0\n'
    repos = Repositories(conn, Vault.from_settings(None, tmp_path))
    with pytest.raises(ConfigError, match="must be finite"):
        apply_config(repos, parse_config(tmp_path / "c.toml", toml), {})


def test_spend_by_day_reads_one_key_from_a_day_on(tmp_path: Path, conn: apsw.Connection) -> None:
    write(tmp_path, SAMPLE)
    db = connect(tmp_path / DB_FILE)
    try:
        repo = UsageRepository(db)
        assert repo.spend_by_day("key_a", "2025-03-01") == pytest.approx(
            {"2025-03-01": 0.00505, "2025-03-02": 0.00002}
        )
        assert repo.spend_by_day("key_a", "2025-03-02") == pytest.approx({"2025-03-02": 0.00002})
        assert repo.spend_by_day("nobody", "2025-01-01") == {}
    finally:
        db.close()
