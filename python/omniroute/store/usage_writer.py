"""Batched, off-request-path writer of usage records.

Request handlers call `record()`, which only appends to a bounded queue; a `BatchWriter`
drains it every 50 ms, each chunk of rows in one transaction (idle priority; full batches of 500
from the catch-up thread on a saturated core), so the hot path never waits on disk. When the queue is full the record is dropped and counted:
losing a usage row is better than stalling traffic, and the drop count is visible.

The same transaction folds the batch into the daily rollups (`usage_repo.apply_rollups`), and a
`SpendLedger`, when given, sees each cost as pending from `record()` until its batch commits.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import apsw
import msgspec

from omniroute.store.batch_writer import BatchWriter
from omniroute.store.records import UsageRecord
from omniroute.store.spend_ledger import SpendLedger
from omniroute.store.usage_repo import apply_rollups

log = logging.getLogger("omniroute.usage")

# A record's fields are the table's columns, in the same order: a row is the record as a tuple.
_INSERT = (
    f"INSERT INTO usage_records ({', '.join(UsageRecord.__struct_fields__)}) "
    f"VALUES ({', '.join('?' * len(UsageRecord.__struct_fields__))})"
)
_row = msgspec.structs.astuple


class UsageWriter(BatchWriter[UsageRecord]):
    thread_name = "omniroute-usage-writer"

    def __init__(
        self,
        db_path: Path,
        *,
        max_queue: int = 50_000,
        batch: int = 500,
        interval: float = 0.05,
        ledger: SpendLedger | None = None,
    ) -> None:
        super().__init__(db_path, max_queue=max_queue, batch=batch, interval=interval)
        self._ledger = ledger

    def record(self, record: UsageRecord) -> None:
        # Pending before queued: the writer thread may settle the record right after the put.
        counted = self._ledger is not None and self._ledger.add_pending(record)
        if not self.put(record) and counted and self._ledger is not None:
            self._ledger.remove_pending([record])

    def _write(self, conn: apsw.Connection, items: list[UsageRecord]) -> None:
        ledger = self._ledger
        with ledger.committing() if ledger is not None else contextlib.nullcontext():
            try:
                with conn:
                    conn.executemany(_INSERT, [_row(r) for r in items])
                    apply_rollups(conn, items)
            except Exception:
                log.exception("usage batch of %d rows could not be written", len(items))
                if ledger is not None:
                    ledger.remove_pending(items)
                return
            if ledger is not None:
                ledger.settle(items)
        self.written += len(items)
