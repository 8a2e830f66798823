"""UsageWriter: batched off-request-path inserts into usage_records, bounded queue that drops."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from omniroute.store.db import DB_FILE, connect, open_database
from omniroute.store.records import UsageRecord
from omniroute.store.usage_writer import UsageWriter


def record(i: int = 0, **overrides: object) -> UsageRecord:
    fields: dict[str, object] = {
        "ts": 1_700_000_000.0 + i,
        "request_id": f"req_{i}",
        "api_key_id": "key_1",
        "route": "/v1/chat/completions",
        "client_dialect": "openai",
        "provider": "openai",
        "connection_id": 1,
        "requested_model": "gpt-4o",
        "model": "gpt-4o",
        "stream": False,
        "status": 200,
        "outcome": "ok",
        "latency_ms": 12.5,
        "ttft_ms": None,
    }
    fields.update(overrides)
    return UsageRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    conn = open_database(tmp_path)
    conn.close()
    return tmp_path / DB_FILE


def rows(db_path: Path, columns: str = "request_id") -> list[tuple[object, ...]]:
    conn = connect(db_path, readonly=True)
    try:
        return conn.execute(f"SELECT {columns} FROM usage_records ORDER BY id").fetchall()
    finally:
        conn.close()


class BatchRecordingWriter(UsageWriter):
    """Notes the size of every batch handed to the database."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.batches: list[int] = []

    def _write(self, conn: apsw.Connection, items: list[UsageRecord]) -> None:
        self.batches.append(len(items))
        super()._write(conn, items)


@pytest.fixture
def writers() -> Iterator[list[UsageWriter]]:
    """Writers a test creates; any left running are closed so no thread outlives the test."""
    created: list[UsageWriter] = []
    yield created
    for writer in created:
        writer.close()


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "omniroute-usage-writer"]


def test_records_written_after_close(db_path: Path, writers: list[UsageWriter]) -> None:
    writer = UsageWriter(db_path)
    writers.append(writer)
    writer.start()
    for i in range(25):
        writer.record(record(i))
    writer.close()
    assert rows(db_path) == [(f"req_{i}",) for i in range(25)]
    assert (writer.written, writer.dropped) == (25, 0)


def test_queued_records_written_in_batches(db_path: Path, writers: list[UsageWriter]) -> None:
    writer = BatchRecordingWriter(db_path, batch=500)
    writers.append(writer)
    for i in range(1200):
        writer.record(record(i))
    writer.start()
    writer.close()
    assert writer.batches == [500, 500, 200]
    assert len(rows(db_path)) == 1200
    assert writer.written == 1200


def test_record_fields_stored_in_columns(db_path: Path, writers: list[UsageWriter]) -> None:
    writer = UsageWriter(db_path)
    writers.append(writer)
    writer.start()
    writer.record(
        record(
            7,
            stream=True,
            status=429,
            outcome="upstream_error",
            ttft_ms=3.25,
            input_tokens=11,
            output_tokens=22,
            cached_tokens=3,
            cache_creation_tokens=4,
            reasoning_tokens=5,
            error="rate limited",
            api_key_id=None,
            connection_id=None,
        )
    )
    writer.close()
    columns = (
        "ts, request_id, api_key_id, route, client_dialect, provider, connection_id, requested_model, model, "
        "stream, status, outcome, latency_ms, ttft_ms, input_tokens, output_tokens, cached_tokens, "
        "cache_creation_tokens, reasoning_tokens, error"
    )
    assert rows(db_path, columns) == [
        (
            1_700_000_007.0,
            "req_7",
            None,
            "/v1/chat/completions",
            "openai",
            "openai",
            None,
            "gpt-4o",
            "gpt-4o",
            1,
            429,
            "upstream_error",
            12.5,
            3.25,
            11,
            22,
            3,
            4,
            5,
            "rate limited",
        )
    ]


def test_records_arriving_while_running_are_flushed(db_path: Path, writers: list[UsageWriter]) -> None:
    writer = UsageWriter(db_path, interval=0.01)
    writers.append(writer)
    writer.start()
    writer.record(record(1))
    deadline = time.monotonic() + 5
    while writer.written < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert writer.written == 1
    assert rows(db_path) == [("req_1",)]
    writer.record(record(2))
    writer.close()
    assert rows(db_path) == [("req_1",), ("req_2",)]


def test_queue_overflow_counts_dropped_without_blocking(db_path: Path) -> None:
    writer = UsageWriter(db_path, max_queue=2)
    started = time.monotonic()
    for i in range(5):
        writer.record(record(i))
    assert time.monotonic() - started < 1.0
    assert writer.dropped == 3
    assert writer.written == 0
    assert writer_threads() == []


def test_close_without_start_is_noop(db_path: Path) -> None:
    writer = UsageWriter(db_path)
    writer.record(record())
    writer.close()
    assert rows(db_path) == []
    assert writer_threads() == []


def test_start_twice_runs_one_thread_and_close_stops_it(db_path: Path, writers: list[UsageWriter]) -> None:
    writer = UsageWriter(db_path)
    writers.append(writer)
    writer.start()
    writer.start()
    assert len(writer_threads()) == 1
    writer.close()
    assert writer_threads() == []
    writer.close()  # a second close is harmless


def test_failed_batch_logged_and_writer_keeps_running(
    tmp_path: Path, writers: list[UsageWriter], caplog: pytest.LogCaptureFixture
) -> None:
    unmigrated = tmp_path / "empty.sqlite"
    writer = UsageWriter(unmigrated)
    writers.append(writer)
    with caplog.at_level(logging.ERROR, logger="omniroute.usage"):
        writer.start()
        writer.record(record(1))
        writer.close()
    assert writer.written == 0
    assert writer_threads() == []
    assert any("could not be written" in r.getMessage() for r in caplog.records)
