"""One daemon thread that drains an in-memory backlog into SQLite in batches.

Per-request records (usage, audit entries, request logs) go through a subclass. The request
path only appends to a deque: no lock, no wake-up, no thread switch per record. The thread
wakes every `interval` seconds (or at once on `close`) and writes up to `batch` items per
transaction until the backlog is empty. A full backlog drops the item and counts it: losing a
record is better than stalling traffic, and the drop count is visible.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Generic, TypeVar

import apsw

from omniroute.store.db import connect

T = TypeVar("T")


class BatchWriter(Generic[T]):
    #: Thread name; subclasses set it.
    thread_name = "omniroute-batch-writer"

    def __init__(self, db_path: Path, *, max_queue: int, batch: int, interval: float) -> None:
        self._db_path = db_path
        # deque.append and popleft are atomic under the GIL: the request path and the writer
        # thread share it without a lock.
        self._pending: deque[T] = deque()
        self._max_queue = max_queue
        self._batch = batch
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0

    @property
    def backlog(self) -> int:
        """Items queued and not written yet."""
        return len(self._pending)

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def put(self, item: T) -> bool:
        """Queues `item`; False (and counted as dropped) when the backlog is full."""
        if len(self._pending) >= self._max_queue:
            self.dropped += 1
            return False
        self._pending.append(item)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Writes what is queued and stops the thread."""
        if self._thread is None:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    def _on_start(self, conn: apsw.Connection) -> None:
        """Runs once in the writer thread before the first batch (e.g. pruning)."""

    def _write(self, conn: apsw.Connection, items: list[T]) -> None:
        raise NotImplementedError

    def _drain(self, conn: apsw.Connection) -> None:
        pending = self._pending
        while pending:
            items = [pending.popleft() for _ in range(min(len(pending), self._batch))]
            self._write(conn, items)

    def _run(self) -> None:
        conn = connect(self._db_path)
        try:
            self._on_start(conn)
            while True:
                # Read before draining: whatever was queued before `close` is written.
                stopping = self._stopping
                self._drain(conn)
                if stopping:
                    break
                self._wake.wait(self._interval)
                self._wake.clear()
        finally:
            conn.close()
