"""The worker's C heap: large buffers stop faulting once tuned, and idle spells hand memory back."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from omniroute import heap
from omniroute.heap import Heap

FAULTS_PER_ROUND = textwrap.dedent(
    """
    import resource, sys
    from omniroute.heap import Heap
    if sys.argv[1] == "tuned":
        assert Heap().tune()
    def round_trip():
        # Three 1 MiB buffers alive at once, then freed: a request's body copies.
        held = [bytearray(1 << 20) for _ in range(3)]
        del held
    for _ in range(5):
        round_trip()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        round_trip()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
    """
)


def faults_per_round(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", FAULTS_PER_ROUND, mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


@pytest.mark.skipif(not Heap().available, reason="no glibc malloc on this platform")
def test_tuned_heap_reuses_large_buffers_instead_of_faulting_them_in() -> None:
    default, tuned = faults_per_round("default"), faults_per_round("tuned")
    # 3 MiB is 768 pages: glibc's defaults fault most of them in again every round.
    assert default > 300, default
    assert tuned < 10, tuned


class FakeLibc:
    """Stands in for libc: records what the heap asks of it."""

    def __init__(self, mallopt_result: int = 1) -> None:
        self.mallopts: list[tuple[int, int]] = []
        self.trims = 0
        self._result = mallopt_result

    def mallopt(self, param: int, value: int) -> int:
        self.mallopts.append((param, value))
        return self._result

    def malloc_trim(self, pad: int) -> int:
        assert pad == 0
        self.trims += 1
        return 1


def fake_heap(libc: FakeLibc) -> Heap:
    return Heap(libc)  # type: ignore[arg-type]


def test_tune_sets_mmap_and_trim_thresholds_and_one_arena() -> None:
    libc = FakeLibc()
    assert fake_heap(libc).tune()
    assert libc.mallopts == [
        (heap.M_MMAP_THRESHOLD, heap.MMAP_THRESHOLD),
        (heap.M_TRIM_THRESHOLD, heap.TRIM_THRESHOLD),
        (heap.M_ARENA_MAX, 1),
    ]
    assert not fake_heap(FakeLibc(mallopt_result=0)).tune()


def test_without_glibc_nothing_is_tuned_or_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap.ctypes.util, "find_library", lambda name: None)
    bare = Heap()
    assert not bare.available and not bare.tune()
    bare.trim()
    assert bare.trims == 0


def test_trims_once_per_idle_spell_that_follows_traffic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "IDLE_AFTER", 0.01)
    libc = FakeLibc()
    keeper = fake_heap(libc)
    state = {"n": 0, "busy": False}

    def requests_seen() -> int:
        if state["busy"]:  # a request arrived between any two checks
            state["n"] += 1
        return state["n"]

    async def phase(busy: bool) -> int:
        state["busy"] = busy
        await asyncio.sleep(0.15)  # several checks
        return libc.trims

    async def scenario() -> list[int]:
        keeper.watch(requests_seen, asyncio.get_running_loop())
        trims = [await phase(busy) for busy in (False, True, False, False, True, False)]
        keeper.stop()
        return trims

    # Idle from the start: nothing to hand back. Traffic: never. Each idle spell after traffic:
    # exactly one trim, however many checks it spans.
    assert asyncio.run(scenario()) == [0, 0, 1, 1, 1, 2]
    assert keeper.trims == 2
