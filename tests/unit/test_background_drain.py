"""BackgroundDrain: an idle-priority thread handles records in chunks, a normal-priority thread
catches up when the queue grows (a saturated core starves the idle one) and on close; every
item is handled once, in queue order."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.background import BackgroundDrain

WAIT = 5.0


class Recorder(BackgroundDrain[int, str]):
    """Notes every batch with the name of the thread that handled it."""

    thread_name = "test-drain"

    def __init__(self, *, starve_idle: bool = False, **kwargs: int | float) -> None:
        kwargs.setdefault("max_queue", 100_000)
        kwargs.setdefault("batch", 50)
        kwargs.setdefault("interval", 0.01)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.batches: list[tuple[str, list[int]]] = []
        self.opened: list[str] = []
        self.closed: list[str] = []
        #: While set, the idle thread stands still before its first batch, as it does when the
        #: kernel gives it no time on a saturated core.
        self.idle_may_run = threading.Event()
        if not starve_idle:
            self.idle_may_run.set()

    def _open(self) -> str:
        name = threading.current_thread().name
        self.opened.append(name)
        return name

    def _close_state(self, state: str) -> None:
        self.closed.append(state)

    def _lower_priority(self) -> None:
        super()._lower_priority()
        while not self.idle_may_run.wait(0.005) and not self._stopping:
            pass

    def _handle(self, state: str, items: list[int]) -> None:
        assert state == threading.current_thread().name  # each thread uses its own state
        self.batches.append((state, items))

    def handled(self) -> list[int]:
        return [item for _, items in self.batches for item in items]


@pytest.fixture
def drains() -> Iterator[list[Recorder]]:
    made: list[Recorder] = []
    yield made
    for drain in made:
        drain.idle_may_run.set()
        drain.close()


def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_idle_thread_handles_small_backlogs_in_chunks_in_order(drains: list[Recorder]) -> None:
    drain = Recorder(chunk=8, batch=50, catch_up_at=1000)
    drains.append(drain)
    drain.start()
    for i in range(100):
        drain.put(i)
    until(lambda: drain.backlog == 0 and len(drain.handled()) == 100)
    assert drain.handled() == list(range(100))
    assert {name for name, _ in drain.batches} == {"test-drain"}
    assert max(len(items) for _, items in drain.batches) <= 8
    assert drain.caught_up == 0


def test_catch_up_thread_writes_full_batches_while_the_idle_one_is_starved(drains: list[Recorder]) -> None:
    drain = Recorder(starve_idle=True, chunk=8, batch=50, catch_up_at=200)
    drains.append(drain)
    drain.start()
    for i in range(199):
        drain.put(i)
    time.sleep(0.1)  # ten intervals: below catch_up_at nothing moves while the idle thread starves
    assert drain.batches == []
    for i in range(199, 430):
        drain.put(i)
    until(lambda: len(drain.handled()) == 430)  # catching up empties the queue
    assert drain.handled() == list(range(430))
    assert {name for name, _ in drain.batches} == {"test-drain-catch-up"}
    assert [len(items) for _, items in drain.batches][:-1] == [50] * (len(drain.batches) - 1)
    assert drain.caught_up == len(drain.batches) >= 9
    # The idle thread gets time again and handles what comes next, in order, in chunks.
    drain.idle_may_run.set()
    for i in range(430, 460):
        drain.put(i)
    until(lambda: len(drain.handled()) == 460)
    assert drain.handled() == list(range(460))
    assert {len(items) for name, items in drain.batches if name == "test-drain"} <= set(range(1, 9))


def test_close_writes_everything_on_the_catch_up_thread_even_when_the_idle_one_starves(
    drains: list[Recorder],
) -> None:
    drain = Recorder(starve_idle=True, chunk=8, batch=50, catch_up_at=10_000)
    drains.append(drain)
    drain.start()
    for i in range(120):
        drain.put(i)
    drain.close(timeout=0.5)
    assert drain.handled() == list(range(120))
    assert [len(items) for _, items in drain.batches] == [50, 50, 20]
    assert {name for name, _ in drain.batches} == {"test-drain-catch-up"}
    assert drain.caught_up == 0  # closing is not catching up


def test_each_thread_opens_and_closes_its_own_state(drains: list[Recorder]) -> None:
    drain = Recorder(batch=10, catch_up_at=20)
    drains.append(drain)
    drain.start()
    for i in range(5):
        drain.put(i)
    until(lambda: len(drain.handled()) == 5)
    drain.close()
    assert sorted(drain.opened) == ["test-drain", "test-drain-catch-up"]
    assert sorted(drain.closed) == ["test-drain", "test-drain-catch-up"]
    assert [t for t in threading.enumerate() if t.name.startswith("test-drain")] == []


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is a Linux scheduling policy")
def test_idle_thread_runs_at_sched_idle_and_catch_up_at_normal_priority(drains: list[Recorder]) -> None:
    drain = Recorder()
    drains.append(drain)
    drain.start()
    until(lambda: len(drain.opened) >= 1)
    threads = {t.name: t for t in threading.enumerate() if t.name.startswith("test-drain")}

    def policy(name: str) -> int:
        native_id = threads[name].native_id
        assert native_id is not None
        return os.sched_getscheduler(native_id)

    until(lambda: policy("test-drain") == os.SCHED_IDLE)
    assert policy("test-drain-catch-up") == os.SCHED_OTHER
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller's thread is left alone


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    drain = Recorder(max_queue=3)
    assert [drain.put(i) for i in range(5)] == [True, True, True, False, False]
    assert (drain.backlog, drain.dropped) == (3, 2)


def test_close_without_start_is_a_no_op_and_handle_now_drains_on_the_caller() -> None:
    drain = Recorder(batch=4)
    for i in range(10):
        drain.put(i)
    drain.close()
    assert drain.batches == []
    drain.handle_now(threading.current_thread().name)
    assert [items for _, items in drain.batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.skipif(sys.platform != "linux", reason="fork start-up is checked on Linux")
def test_start_in_a_forked_child_starts_threads_of_its_own(drains: list[Recorder]) -> None:
    drain = Recorder(catch_up_at=10_000)
    drains.append(drain)
    drain.start()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's threads are gone; start() must bring up new ones
        try:
            drain.batches.clear()
            drain.put(41)
            drain.start()
            drain.close()
            os.write(write_end, repr(drain.handled()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.read(read_end, 100) == b"[41]"
    os.close(read_end)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=4),
    chunk=st.integers(min_value=1, max_value=16),
    batch=st.integers(min_value=1, max_value=40),
    catch_up_at=st.integers(min_value=1, max_value=150),
    starve=st.booleans(),
)
def test_every_item_is_handled_once_in_order(
    sizes: list[int], chunk: int, batch: int, catch_up_at: int, starve: bool
) -> None:
    drain = Recorder(starve_idle=starve, chunk=chunk, batch=batch, catch_up_at=catch_up_at, interval=0.002)
    drain.start()
    sent = 0
    try:
        for size in sizes:
            for _ in range(size):
                drain.put(sent)
                sent += 1
            time.sleep(0.003)
    finally:
        drain.close()
        drain.idle_may_run.set()
    assert drain.handled() == list(range(sent))
    assert all(0 < len(items) <= max(batch, 1) for _, items in drain.batches)
