"""ModelSlots: per-model concurrency slots of round-robin combos (acquire, release, queue
timeout, waking a waiter)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import pytest

from omniroute.routing.slots import ModelSlots


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=5))


async def settle() -> None:
    """Lets every ready task run until it blocks again."""
    for _ in range(5):
        await asyncio.sleep(0)


async def drain(*tasks: asyncio.Task[bool]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_acquire_below_limit_is_immediate_and_counted() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("combo|a", 2, 0.0)
        assert slots.busy("combo|a", 2) is False
        assert await slots.acquire("combo|a", 2, 0.0)
        assert slots.busy("combo|a", 2) is True
        assert slots.snapshot() == {"combo|a": 2}
        slots.release("combo|a")
        assert slots.snapshot() == {"combo|a": 1}
        slots.release("combo|a")
        assert slots.snapshot() == {}

    run(scenario)


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_full_slot_with_no_wait_fails_at_once(timeout: float) -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("k", 1, 0.0)
        started = time.monotonic()
        assert await slots.acquire("k", 1, timeout) is False
        assert time.monotonic() - started < 0.05
        assert slots.snapshot() == {"k": 1}

    run(scenario)


def test_full_slot_waits_up_to_the_timeout() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("k", 1, 0.0)
        started = time.monotonic()
        assert await slots.acquire("k", 1, 0.08) is False
        assert 0.07 <= time.monotonic() - started < 1.0
        assert slots.snapshot() == {"k": 1}

    run(scenario)


def test_release_wakes_a_waiter_long_before_its_timeout() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("k", 1, 0.0)
        waiter = asyncio.create_task(slots.acquire("k", 1, 3.0))
        await settle()
        assert not waiter.done()
        started = time.monotonic()
        slots.release("k")
        assert await waiter is True
        assert time.monotonic() - started < 0.5
        assert slots.snapshot() == {"k": 1}

    run(scenario)


def test_one_release_admits_one_waiter_in_arrival_order() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("k", 1, 0.0)
        first = asyncio.create_task(slots.acquire("k", 1, 3.0))
        await settle()
        second = asyncio.create_task(slots.acquire("k", 1, 3.0))
        await settle()
        slots.release("k")
        await settle()
        assert first.done() and first.result() is True
        assert not second.done()
        slots.release("k")
        assert await second is True
        assert slots.snapshot() == {"k": 1}

    run(scenario)


def test_keys_and_limits_are_independent() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("rr|openai/gpt-4o", 1, 0.0)
        assert await slots.acquire("rr|ds/deepseek-chat", 1, 0.0)
        assert await slots.acquire("other|openai/gpt-4o", 1, 0.0)
        assert await slots.acquire("rr|openai/gpt-4o", 1, 0.0) is False
        # a caller with a larger limit for the same key still gets in
        assert await slots.acquire("rr|openai/gpt-4o", 2, 0.0) is True
        assert slots.snapshot() == {"rr|openai/gpt-4o": 2, "rr|ds/deepseek-chat": 1, "other|openai/gpt-4o": 1}

    run(scenario)


def test_release_without_acquire_never_goes_negative() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        slots.release("nothing")
        assert slots.snapshot() == {}
        assert await slots.acquire("nothing", 1, 0.0)
        slots.release("nothing")
        slots.release("nothing")
        assert slots.snapshot() == {}
        assert await slots.acquire("nothing", 1, 0.0)
        assert await slots.acquire("nothing", 1, 0.0) is False

    run(scenario)


def test_timed_out_waiter_leaves_no_trace_for_the_next_one() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("k", 1, 0.0)
        assert await slots.acquire("k", 1, 0.02) is False
        late = asyncio.create_task(slots.acquire("k", 1, 3.0))
        await settle()
        slots.release("k")
        assert await asyncio.wait_for(late, 1.0) is True

    run(scenario)


def test_cancelled_waiter_before_wake_up_does_not_steal_the_slot() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("k", 1, 0.0)
        gone = asyncio.create_task(slots.acquire("k", 1, 3.0))
        await settle()
        stays = asyncio.create_task(slots.acquire("k", 1, 3.0))
        await settle()
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        slots.release("k")
        assert await asyncio.wait_for(stays, 1.0) is True
        assert slots.snapshot() == {"k": 1}

    run(scenario)


def test_woken_waiter_cancelled_before_running_passes_the_slot_on() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        assert await slots.acquire("k", 1, 0.0)
        woken = asyncio.create_task(slots.acquire("k", 1, 3.0))
        await settle()
        next_in_line = asyncio.create_task(slots.acquire("k", 1, 3.0))
        await settle()
        slots.release("k")  # wakes `woken` ...
        woken.cancel()  # ... whose caller goes away before it runs
        try:
            await asyncio.gather(woken, return_exceptions=True)
            done, _ = await asyncio.wait({next_in_line}, timeout=0.3)
            assert next_in_line in done and next_in_line.result() is True
        finally:
            await drain(next_in_line)

    run(scenario)


def test_many_callers_never_exceed_the_limit_and_all_get_through() -> None:
    async def scenario() -> None:
        slots = ModelSlots()
        rng = random.Random(17)
        limit = 3
        in_flight = 0
        peak = 0

        async def call(hold: int) -> bool:
            nonlocal in_flight, peak
            if not await slots.acquire("k", limit, 3.0):
                return False
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                for _ in range(hold):
                    await asyncio.sleep(0)
            finally:
                in_flight -= 1
                slots.release("k")
            return True

        results = await asyncio.gather(*(call(rng.randint(0, 6)) for _ in range(40)))
        assert all(results)
        assert peak == limit
        assert slots.snapshot() == {}

    run(scenario)
