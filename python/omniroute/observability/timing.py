"""Per-request timing: total time since arrival and the part spent awaiting upstreams, so the
gateway's own overhead can be reported (`x-omniroute-overhead-ms`, the overhead histogram, the
request log). Split from metrics.py, which exports the series.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omniroute.http.request import Request
    from omniroute.observability.metrics import Metrics

OVERHEAD_HEADER = "x-omniroute-overhead-ms"


class RequestTiming:
    """Where one request's time went: total since arrival, and the part spent awaiting upstreams."""

    __slots__ = ("counted", "path", "route", "started", "upstream_wait")

    def __init__(self, path: str, started: float) -> None:
        self.path = path
        self.started = started
        #: Seconds spent awaiting upstreams so far.
        self.upstream_wait = 0.0
        #: The gateway route, once the gateway took the call (it then counts the request itself).
        self.route: str | None = None
        self.counted = False

    def overhead(self, now: float | None = None) -> float:
        """Seconds spent in the gateway so far, upstream waits excluded."""
        elapsed = (time.perf_counter() if now is None else now) - self.started
        return max(0.0, elapsed - self.upstream_wait)


def format_ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


class TimedProtocol:
    """Wraps the RSGI protocol: every answer carries `x-omniroute-overhead-ms`, and answers the
    gateway does not account for itself are counted in `omniroute_requests_total`."""

    __slots__ = ("_inner", "_metrics", "timing")

    def __init__(self, inner: Any, timing: RequestTiming, metrics: Metrics) -> None:
        self._inner = inner
        self.timing = timing
        self._metrics = metrics

    def __call__(self) -> Any:
        return self._inner()

    def __aiter__(self) -> Any:
        return self._inner.__aiter__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _headers(self, status: int, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        self._metrics.note_response(self.timing, status)
        return [*headers, (OVERHEAD_HEADER, format_ms(self.timing.overhead()))]

    def response_empty(self, status: int, headers: Any) -> Any:
        return self._inner.response_empty(status, self._headers(status, headers))

    def response_str(self, status: int, headers: Any, body: str) -> Any:
        return self._inner.response_str(status, self._headers(status, headers), body)

    def response_bytes(self, status: int, headers: Any, body: bytes) -> Any:
        return self._inner.response_bytes(status, self._headers(status, headers), body)

    def response_file(self, status: int, headers: Any, file: str) -> Any:
        return self._inner.response_file(status, self._headers(status, headers), file)

    def response_file_range(self, status: int, headers: Any, file: str, start: int, end: int) -> Any:
        return self._inner.response_file_range(status, self._headers(status, headers), file, start, end)

    def response_stream(self, status: int, headers: Any) -> Any:
        return self._inner.response_stream(status, self._headers(status, headers))


def timing_of(req: Request) -> RequestTiming | None:
    """The timing of a tracked request (its protocol may be wrapped again by others)."""
    proto: Any = req.protocol
    for _ in range(8):
        if isinstance(proto, TimedProtocol):
            return proto.timing
        proto = getattr(proto, "_inner", None)
        if proto is None:
            return None
    return None


class _UpstreamWait:
    __slots__ = ("_start", "_timing")

    def __init__(self, timing: RequestTiming | None) -> None:
        self._timing = timing
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        if self._timing is not None:
            self._timing.upstream_wait += time.perf_counter() - self._start


def upstream_wait(req: Request) -> _UpstreamWait:
    """`with upstream_wait(req): await ...` counts the awaited time as upstream wait."""
    return _UpstreamWait(timing_of(req))


class _TimedChunks:
    __slots__ = ("_inner", "_timing")

    def __init__(self, inner: AsyncIterator[bytes], timing: RequestTiming) -> None:
        self._inner = inner
        self._timing = timing

    def __aiter__(self) -> _TimedChunks:
        return self

    async def __anext__(self) -> bytes:
        start = time.perf_counter()
        try:
            return await self._inner.__anext__()
        finally:
            self._timing.upstream_wait += time.perf_counter() - start


def timed_chunks(req: Request, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The upstream's body chunks, the wait for each counted as upstream wait."""
    timing = timing_of(req)
    return chunks if timing is None else _TimedChunks(chunks, timing)
