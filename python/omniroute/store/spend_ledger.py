"""What each inbound key spent per UTC day, for budgets, without querying SQLite per request.

Two parts per key: `committed` (what the rollups held when last read, plus what this process's
usage writer committed since) and `pending` (costs handed to the usage writer but not yet
committed). The writer adds to `pending` when it queues a record and moves the amount to
`committed` right after its batch commits (`settle`), so a call's cost counts exactly once from
the moment it is recorded. The rollups are re-read for a key when its copy is older than
`refresh_after` seconds, which picks up what other worker processes spent.

Thread-safety: the writer thread and the event loop share this object. `_lock` guards the
dictionaries (held only for in-memory updates); `_commit_lock` is held by the writer across
commit + settle and by `refresh` across its read, so a refresh never reads a batch that is
also still counted as pending.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import apsw

from omniroute.store.db import connect
from omniroute.store.records import UsageRecord
from omniroute.store.usage_repo import UsageRepository, utc_day

#: Reads {day: USD} for one key from a day on.
SpendReader = Callable[[str, str], dict[str, float]]


class _Committed:
    __slots__ = ("days", "read_at", "since")

    def __init__(self, since: str, days: dict[str, float], read_at: float) -> None:
        self.since = since
        self.days = days
        self.read_at = read_at


class SpendLedger:
    def __init__(
        self,
        db_path: Path | None = None,
        *,
        reader: SpendReader | None = None,
        refresh_after: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db_path = db_path
        self._reader = reader
        self._conn: apsw.Connection | None = None
        self.refresh_after = refresh_after
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._committed: dict[str, _Committed] = {}
        self._pending: dict[str, dict[str, float]] = {}

    # writer side ---------------------------------------------------------------------------
    def add_pending(self, record: UsageRecord) -> bool:
        """Counts a record's cost as spent; True when there was something to count."""
        if not record.api_key_id or not record.cost_usd:
            return False
        day = utc_day(record.ts)
        with self._lock:
            days = self._pending.setdefault(record.api_key_id, {})
            days[day] = days.get(day, 0.0) + record.cost_usd
        return True

    def remove_pending(self, records: Sequence[UsageRecord]) -> None:
        """Takes back costs that will never be committed (dropped record, failed batch)."""
        with self._lock:
            for record in records:
                self._take_pending(record)

    @contextmanager
    def committing(self) -> Iterator[None]:
        """Held by the writer across its commit and `settle`."""
        with self._commit_lock:
            yield

    def settle(self, records: Sequence[UsageRecord]) -> None:
        """Moves a committed batch from pending to committed (call while `committing`)."""
        with self._lock:
            for record in records:
                if not self._take_pending(record):
                    continue
                assert record.api_key_id is not None and record.cost_usd
                entry = self._committed.get(record.api_key_id)
                day = utc_day(record.ts)
                if entry is not None and day >= entry.since:
                    entry.days[day] = entry.days.get(day, 0.0) + record.cost_usd

    def _take_pending(self, record: UsageRecord) -> bool:
        if not record.api_key_id or not record.cost_usd:
            return False
        days = self._pending.get(record.api_key_id)
        if days is None:
            return False
        day = utc_day(record.ts)
        left = days.get(day, 0.0) - record.cost_usd
        if abs(left) < 1e-12:
            days.pop(day, None)
        else:
            days[day] = left
        if not days:
            del self._pending[record.api_key_id]
        return True

    # reader side ---------------------------------------------------------------------------
    def needs_refresh(self, api_key_id: str, since: str) -> bool:
        with self._lock:
            entry = self._committed.get(api_key_id)
            return (
                entry is None
                or since < entry.since
                or self._monotonic() - entry.read_at >= self.refresh_after
            )

    def refresh(self, api_key_id: str, since: str) -> None:
        """Re-reads one key's committed spend from the rollups (blocking: run it off the loop)."""
        with self._commit_lock:
            days = self._read(api_key_id, since)
            with self._lock:
                self._committed[api_key_id] = _Committed(since, days, self._monotonic())

    def day_totals(self, api_key_id: str) -> dict[str, float]:
        """USD per UTC day: committed (as of the last refresh) plus pending."""
        with self._lock:
            entry = self._committed.get(api_key_id)
            totals = dict(entry.days) if entry is not None else {}
            for day, cost in self._pending.get(api_key_id, {}).items():
                totals[day] = totals.get(day, 0.0) + cost
        return totals

    def _read(self, api_key_id: str, since: str) -> dict[str, float]:
        if self._reader is not None:
            return self._reader(api_key_id, since)
        if self._db_path is None:
            return {}
        if self._conn is None:
            self._conn = connect(self._db_path)
        return UsageRepository(self._conn).spend_by_day(api_key_id, since)

    def close(self) -> None:
        with self._commit_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
