"""One daemon thread that drains a bounded queue into SQLite in batches.

Per-request records (usage, audit entries, request logs) go through a subclass: the request
path only appends to the queue; the thread writes up to `batch` items per transaction, at
least every `interval` seconds. A full queue drops the item and counts it — losing a record
is better than stalling traffic, and the drop count is visible.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Generic, TypeVar

import apsw

from omniroute.store.db import connect

T = TypeVar("T")

_STOP = object()


class BatchWriter(Generic[T]):
    #: Thread name; subclasses set it.
    thread_name = "omniroute-batch-writer"

    def __init__(
        self, db_path: Path, item_type: type[T], *, max_queue: int, batch: int, interval: float
    ) -> None:
        self._db_path = db_path
        self._item_type = item_type
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._batch = batch
        self._interval = interval
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def put(self, item: T) -> bool:
        """Queues `item`; False (and counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Writes what is queued and stops the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _on_start(self, conn: apsw.Connection) -> None:
        """Runs once in the writer thread before the first batch (e.g. pruning)."""

    def _write(self, conn: apsw.Connection, items: list[T]) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        conn = connect(self._db_path)
        try:
            self._on_start(conn)
            stopping = False
            while not stopping:
                try:
                    first = self._queue.get(timeout=self._interval)
                except queue.Empty:
                    continue
                drained = [first]
                while len(drained) < self._batch:
                    try:
                        drained.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stopping = any(item is _STOP for item in drained)
                items = [item for item in drained if isinstance(item, self._item_type)]
                if items:
                    self._write(conn, items)
        finally:
            conn.close()
