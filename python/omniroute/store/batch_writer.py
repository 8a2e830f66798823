"""Per-request records drained into SQLite in batches, without delaying requests.

Per-request records (usage, audit entries, request logs) go through a subclass. The request
path only appends to a deque: no lock, no wake-up, no thread switch per record. The writing is
a `BackgroundDrain`: an idle-priority thread writes short transactions of `chunk` rows when the
core has nothing else to do, and a normal-priority thread writes full batches of `batch` rows
when the backlog reaches `catch_up_at` (a saturated core), until it is empty, and when the
writer is closed. Each
thread has its own connection. A full backlog drops the item and counts it: losing a record is
better than stalling traffic, and the drop count is visible.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TypeVar

import apsw

from omniroute.background import BackgroundDrain
from omniroute.store.db import connect

T = TypeVar("T")


class BatchWriter(BackgroundDrain[T, apsw.Connection]):
    #: Thread name; subclasses set it.
    thread_name = "omniroute-batch-writer"

    def __init__(
        self,
        db_path: Path,
        *,
        max_queue: int,
        batch: int,
        interval: float,
        chunk: int = 64,
        catch_up_at: int | None = None,
    ) -> None:
        super().__init__(
            max_queue=max_queue, batch=batch, interval=interval, chunk=chunk, catch_up_at=catch_up_at
        )
        self._db_path = db_path
        self._start_lock = threading.Lock()
        self._started_once = False
        self.written = 0

    def _on_start(self, conn: apsw.Connection) -> None:
        """Runs once, before the first batch, at normal priority (e.g. pruning)."""

    def _write(self, conn: apsw.Connection, items: list[T]) -> None:
        raise NotImplementedError

    def _open(self) -> apsw.Connection:
        conn = connect(self._db_path)
        with self._start_lock:  # both threads open a connection; the first one runs `_on_start`
            if not self._started_once:
                self._started_once = True
                self._on_start(conn)
        return conn

    def _close_state(self, state: apsw.Connection) -> None:
        state.close()

    def _handle(self, state: apsw.Connection, items: list[T]) -> None:
        self._write(state, items)
