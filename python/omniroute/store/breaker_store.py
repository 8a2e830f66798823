"""Persists circuit-breaker transitions from one background thread (they are rare, but a
request must never wait on disk)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import apsw

from omniroute.store.db import connect
from omniroute.store.routing_repo import RoutingRepository


class BreakerStore:
    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="omniroute-breakers")
        self._conn: apsw.Connection | None = None

    def save(self, key: str, state: str, failures: int, opened_at_wall: float | None) -> None:
        self._executor.submit(self._write, key, state, failures, opened_at_wall)

    def _write(self, key: str, state: str, failures: int, opened_at_wall: float | None) -> None:
        if self._conn is None:
            self._conn = connect(self._db_path)
        RoutingRepository(self._conn).save_breaker(key, state, failures, opened_at_wall)

    def flush(self) -> None:
        """Waits for queued writes (tests and shutdown)."""
        self._executor.submit(lambda: None).result(timeout=10)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
