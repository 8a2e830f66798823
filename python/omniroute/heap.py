"""A worker's C heap (glibc malloc): large request bodies without page faults, and memory handed
back once the worker is idle.

A request with a 1 MB base64 image is held as a few 1 MB buffers (Granian's body, the upstream
body with the model rewritten). With glibc's defaults a buffer that size is a fresh `mmap`, or
the heap top is trimmed after every `free`, so every such request faults its pages in again:
about 250 page faults and a quarter of a millisecond per megabyte on the bench machine, a quarter
of the request's CPU (bench/RESULTS.md). A worker therefore keeps buffers up to 16 MiB in its
heap, lets up to 32 MiB of free heap stay mapped while it works, and uses one arena (every thread
that allocates holds the GIL anyway). What a burst leaves behind is returned with `malloc_trim`
once no request has arrived for a second.

Only glibc is tuned; anywhere else (musl, macOS) this module does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger("omniroute.heap")

#: mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
#: Allocations up to this size come from the heap, not a private mmap.
MMAP_THRESHOLD = 16 * 1024 * 1024
#: Free memory at the heap top kept mapped while the worker works.
TRIM_THRESHOLD = 32 * 1024 * 1024
#: Seconds without a new request before the free heap is handed back.
IDLE_AFTER = 1.0


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


class Heap:
    """The worker's malloc settings and its idle trim. `tune()` once at start; `watch(count)`
    starts a timer that trims after `IDLE_AFTER` seconds in which `count()` did not move."""

    def __init__(self, libc: ctypes.CDLL | None = None) -> None:
        self._libc = libc if libc is not None else _glibc()
        self._timer: asyncio.TimerHandle | None = None
        self._count: Callable[[], int] = lambda: 0
        self._last = 0
        self._trimmed_at = 0
        #: How many times memory was handed back (tests and /api/telemetry can read it).
        self.trims = 0

    @property
    def available(self) -> bool:
        return self._libc is not None

    def tune(self) -> bool:
        """Applies the worker's malloc parameters; False where there is no glibc malloc."""
        libc = self._libc
        if libc is None:
            return False
        ok = all(
            libc.mallopt(param, value) == 1
            for param, value in (
                (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                (M_ARENA_MAX, 1),
            )
        )
        if not ok:
            log.debug("mallopt refused a parameter; the C heap keeps some defaults")
        return ok

    def watch(self, count: Callable[[], int], loop: asyncio.AbstractEventLoop) -> None:
        """Checks every `IDLE_AFTER` seconds; trims once per idle spell that follows traffic."""
        if self._libc is None:
            return
        self._count = count
        self._last = self._trimmed_at = count()
        self._timer = loop.call_later(IDLE_AFTER, self._check, loop)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = self._count()
        if now == self._last and now != self._trimmed_at:
            self.trim()
            self._trimmed_at = now
        self._last = now
        self._timer = loop.call_later(IDLE_AFTER, self._check, loop)

    def trim(self) -> None:
        if self._libc is not None:
            self._libc.malloc_trim(0)
            self.trims += 1

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
