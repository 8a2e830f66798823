"""Per-model concurrency slots for round-robin combos: a model with `limit` calls in flight is
passed over while another model is free, and waited for (up to the queue timeout) otherwise."""

from __future__ import annotations

import asyncio


class ModelSlots:
    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def busy(self, key: str, limit: int) -> bool:
        return self._in_flight.get(key, 0) >= limit

    async def acquire(self, key: str, limit: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._in_flight.get(key, 0) >= limit:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(key, []).append(waiter)
            try:
                # asyncio.wait (not wait_for): a cancel is never swallowed on 3.11.
                done, _ = await asyncio.wait((waiter,), timeout=remaining)
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one(key)  # we were woken but will not take the slot: pass it on
                raise
            finally:
                waiters = self._waiters.get(key, [])
                if waiter in waiters:
                    waiters.remove(waiter)
            if not done:
                return False
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return True

    def release(self, key: str) -> None:
        count = self._in_flight.get(key, 0) - 1
        if count <= 0:
            self._in_flight.pop(key, None)
        else:
            self._in_flight[key] = count
        self._wake_one(key)

    def _wake_one(self, key: str) -> None:
        for waiter in self._waiters.get(key, []):
            if not waiter.done():
                waiter.set_result(None)
                break

    def snapshot(self) -> dict[str, int]:
        return dict(self._in_flight)
