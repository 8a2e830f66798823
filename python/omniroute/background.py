"""Background drains that give way to requests: per-call records written without delaying calls.

A worker's records (usage rows, request-log rows, access lines, audit entries) are queued by the
request path and written by threads of the same process. A thread at normal priority writing a
batch competes with the event loop for the core and, through the GIL, for the interpreter: a
call arriving meanwhile waited up to several milliseconds (bench/RESULTS.md, "Fourth pass":
two thirds of the slow calls at concurrency 1 overlapped a batch).

`BackgroundDrain` therefore works with two threads over one queue:

- the *idle* thread runs at `SCHED_IDLE` (Linux; elsewhere at normal priority): the kernel
  gives it the core only when no other thread of the machine wants it. It takes `chunk` items at
  a time and lets go of the GIL between chunks, so a request that wakes up never waits behind
  more than one chunk's Python work;
- the *catch-up* thread, at normal priority, looks at the queue every `interval`. When the queue
  holds `catch_up_at` items or more (the core is saturated and the idle thread gets no time), it
  writes full batches until the queue is empty. Under saturation records therefore cost what
  they cost before, and none is dropped for want of CPU; the queue stays short, so does the
  memory it holds. It also writes what is left when the drain is closed.

Items are handled under one lock, one batch at a time, in queue order. A full queue drops the new
item and counts it (losing a record is better than stalling traffic). An unprivileged thread
cannot raise its priority again, which is why the catch-up work has a thread of its own.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")
#: Per-thread state of a drain (a database connection, or nothing).
S = TypeVar("S")


def lower_to_idle_priority() -> bool:
    """Moves the calling thread to `SCHED_IDLE`; False where the platform has no such policy."""
    policy = getattr(os, "SCHED_IDLE", None)
    if policy is None:
        return False
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError:
        return False
    return True


class BackgroundDrain(Generic[T, S]):
    #: Name of the idle thread; the catch-up thread adds "-catch-up". Subclasses set it.
    thread_name = "omniroute-drain"

    def __init__(
        self,
        *,
        max_queue: int,
        batch: int,
        interval: float,
        chunk: int = 64,
        catch_up_at: int | None = None,
    ) -> None:
        # deque.append and popleft are atomic under the GIL: the request path appends without a lock.
        self._pending: deque[T] = deque()
        self._max_queue = max_queue
        self._batch = batch
        self._chunk = min(chunk, batch)
        self._catch_up_at = catch_up_at if catch_up_at is not None else 2 * batch
        self._interval = interval
        self._handling = threading.Lock()
        self._wake_idle = threading.Event()
        self._wake_catch_up = threading.Event()
        self._stopping = False
        self._threads: tuple[threading.Thread, threading.Thread] | None = None
        self._pid = 0
        self.dropped = 0
        #: Batches the catch-up thread wrote because the queue had reached `catch_up_at`.
        self.caught_up = 0

    @property
    def backlog(self) -> int:
        """Items queued and not handled yet."""
        return len(self._pending)

    def put(self, item: T) -> bool:
        """Queues `item`; False (and counted as dropped) when the queue is full."""
        if len(self._pending) >= self._max_queue:
            self.dropped += 1
            return False
        self._pending.append(item)
        return True

    def wake(self) -> None:
        """Asks the idle thread to handle what is queued now rather than at its next interval."""
        self._wake_idle.set()

    def start(self) -> None:
        """Starts both threads; again in a forked child, where the parent's threads do not exist."""
        if self._threads is not None and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._stopping = False
        self._handling = threading.Lock()  # a fresh lock: a forked child never inherits a held one
        idle = threading.Thread(target=self._run_idle, name=self.thread_name, daemon=True)
        catch_up = threading.Thread(
            target=self._run_catch_up, name=f"{self.thread_name}-catch-up", daemon=True
        )
        self._threads = (idle, catch_up)
        idle.start()
        catch_up.start()

    def close(self, timeout: float = 5.0) -> None:
        """Handles what is queued (on the catch-up thread) and stops both threads."""
        if self._threads is None:
            return
        self._stopping = True
        self._wake_idle.set()
        self._wake_catch_up.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = None

    def handle_now(self, state: S) -> None:
        """Handles everything queued on the calling thread, in batches (e.g. at exit)."""
        while self._pending:
            self._take_and_handle(state, self._batch)

    # hooks ---------------------------------------------------------------------------------
    def _open(self) -> S:
        """Per-thread state, made in the thread that uses it (runs at normal priority)."""
        raise NotImplementedError

    def _close_state(self, state: S) -> None:
        """Releases what `_open` made."""

    def _handle(self, state: S, items: list[T]) -> None:
        raise NotImplementedError

    def _lower_priority(self) -> None:
        lower_to_idle_priority()

    # threads -------------------------------------------------------------------------------
    def _take_and_handle(self, state: S, most: int) -> None:
        with self._handling:
            pending = self._pending
            items = [pending.popleft() for _ in range(min(len(pending), most))]
            if items:
                self._handle(state, items)

    def _run_idle(self) -> None:
        state = self._open()
        try:
            self._lower_priority()
            while not self._stopping:
                self._wake_idle.wait(self._interval)
                self._wake_idle.clear()
                while self._pending and not self._stopping:
                    self._take_and_handle(state, self._chunk)
                    # Lets go of the GIL: a request thread that woke up meanwhile takes it now.
                    time.sleep(0)
        finally:
            self._close_state(state)

    def _run_catch_up(self) -> None:
        state: S | None = None
        try:
            while True:
                stopping = self._stopping  # read before handling: what was queued before close is written
                if stopping or len(self._pending) >= self._catch_up_at:
                    if state is None:
                        state = self._open()
                    while self._pending:
                        self._take_and_handle(state, self._batch)
                        if not stopping:
                            self.caught_up += 1
                if stopping:
                    return
                self._wake_catch_up.wait(self._interval)
                self._wake_catch_up.clear()
        finally:
            if state is not None:
                self._close_state(state)
