"""The built-in load generator: raw HTTP/1.1 keep-alive clients on asyncio (uvloop when present).

Used for what wrk cannot do (time to first body byte, open-loop fixed rate, one-shot bursts of
slow streams) and for everything when wrk is not installed (the smoke test). Requests are sent as
pre-built bytes; responses are parsed just enough to find their end (content-length or chunked)
and to check their tail. Per request it records the status, the latency (from the moment the
request was due, so an open-loop run does not hide queueing) and the time to the first body byte.

Modes (`LoadSpec`):
    closed loop   `concurrency` connections, each sending its next request when the last ends
    open loop     `rate` requests per second on a fresh schedule, connections grown as needed
    burst         `per_connection=1`: every connection sends one request at once (slow streams)

Standalone: `python -m bench.loadgen http://127.0.0.1:PORT/v1/chat/completions --body-file f.json
-c 50 -d 5` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit


@dataclass(frozen=True)
class HttpRequest:
    host: str
    port: int
    raw: bytes
    #: Bytes the end of every response body must contain (e.g. `[DONE]`), or None.
    expect_tail: bytes | None = None

    @classmethod
    def post(
        cls, url: str, body: bytes, headers: dict[str, str], expect_tail: bytes | None = None
    ) -> HttpRequest:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        return cls(host, port, raw, expect_tail)


@dataclass
class LoadSpec:
    duration: float = 1.0
    concurrency: int = 1
    #: Open loop: requests per second (0 = closed loop).
    rate: float = 0.0
    #: Requests each connection sends before it stops (0 = until the duration ends).
    per_connection: int = 0
    #: Upper bound on connections in open-loop mode.
    max_connections: int = 4096
    timeout: float = 60.0


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    bad_bodies: int = 0
    elapsed: float = 0.0

    @property
    def completed(self) -> int:
        return sum(self.statuses.values())

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        ttfb = sorted(self.ttfbs)
        return {
            "requests": self.completed,
            "rps": self.completed / self.elapsed if self.elapsed else 0.0,
            "elapsed_s": self.elapsed,
            "non_2xx": self.non_2xx,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "bad_bodies": self.bad_bodies,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_ms": percentiles(lat),
            "ttfb_ms": percentiles(ttfb),
        }


def percentiles(sorted_values: list[float]) -> dict[str, float | None]:
    def pick(q: float) -> float | None:
        if not sorted_values:
            return None
        idx = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
        return round(sorted_values[idx] * 1000, 4)

    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": pick(1.0)}


class _ResponseParser:
    """Incremental HTTP/1.1 response parser: status, end of body, first body byte, tail."""

    __slots__ = (
        "_buf",
        "_chunk_left",
        "_chunked",
        "_length",
        "_pos",
        "_state",
        "close",
        "first_body",
        "status",
        "tail",
    )

    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = 0  # 0 head, 1 content-length body, 2 chunk size line, 3 chunk data, 4 trailer
        self._length = 0
        self._chunked = False
        self._chunk_left = 0
        self._pos = 0
        self.status = 0
        self.close = False
        self.first_body: float | None = None
        self.tail = b""

    def feed(self, data: bytes, now: float) -> bool:
        """Returns True when the response is complete."""
        self._buf += data
        if self._state == 0:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = bytes(self._buf[:end]).lower()
            del self._buf[: end + 4]
            self.status = int(head[9:12])
            self.close = b"\r\nconnection: close" in head
            if b"\r\ntransfer-encoding: chunked" in head:
                self._chunked, self._state = True, 2
            else:
                idx = head.find(b"\r\ncontent-length:")
                if idx >= 0:
                    stop = head.find(b"\r\n", idx + 2)
                    self._length = int(head[idx + 17 : stop if stop >= 0 else len(head)].strip())
                self._state = 1
        if self._buf and self.first_body is None:
            self.first_body = now
        if self._state == 1:
            if len(self._buf) < self._length:
                return False
            # Small bodies are kept whole (JSON answers are checked for their text), large ones' tail.
            start = 0 if self._length <= 65536 else self._length - 512
            self.tail = bytes(self._buf[start : self._length])
            if self.first_body is None:
                self.first_body = now
            return True
        return self._feed_chunked()

    def _feed_chunked(self) -> bool:
        buf = self._buf
        while True:
            if self._state == 2:
                end = buf.find(b"\r\n", self._pos)
                if end < 0:
                    return False
                size = int(bytes(buf[self._pos : end]).split(b";", 1)[0], 16)
                self._pos = end + 2
                if size == 0:
                    self._state = 4
                else:
                    self._chunk_left, self._state = size, 3
            if self._state == 3:
                avail = len(buf) - self._pos
                if avail < self._chunk_left + 2:
                    return False
                stop = self._pos + self._chunk_left
                self.tail = (self.tail + bytes(buf[self._pos : stop]))[-512:]
                self._pos = stop + 2
                self._state = 2
                if self._pos > 65536:
                    del buf[: self._pos]
                    self._pos = 0
            if self._state == 4:
                end = buf.find(b"\r\n", self._pos)
                if end < 0:
                    return False
                if end == self._pos:
                    return True
                self._pos = end + 2  # a trailer header line


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[_ResponseParser] | None = None
        self.parser = _ResponseParser()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.waiter is None or self.waiter.done():
            return
        try:
            done = self.parser.feed(data, now)
        except ValueError as exc:
            self.waiter.set_exception(exc)
            return
        if done:
            self.waiter.set_result(self.parser)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed mid-response"))

    async def send(self, raw: bytes, timeout: float) -> _ResponseParser:
        assert self.transport is not None
        self.parser = _ResponseParser()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await asyncio.wait_for(self.waiter, timeout)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _connect(req: HttpRequest) -> _Connection:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(_Connection, req.host, req.port)
    return proto


async def _one(
    conn: _Connection | None, req: HttpRequest, due: float, spec: LoadSpec, result: LoadResult
) -> _Connection | None:
    """Sends one request (connecting first when needed); returns a connection fit for reuse."""
    try:
        if conn is None or conn.lost:
            conn = await _connect(req)
        parser = await conn.send(req.raw, spec.timeout)
    except TimeoutError:
        result.errors["timeout"] += 1
    except (OSError, ConnectionError) as exc:
        result.errors[type(exc).__name__] += 1
    except ValueError:
        result.errors["bad_response"] += 1
    else:
        done = time.perf_counter()
        result.statuses[parser.status] += 1
        result.latencies.append(done - due)
        if parser.first_body is not None:
            result.ttfbs.append(parser.first_body - due)
        if req.expect_tail is not None and 200 <= parser.status < 300 and req.expect_tail not in parser.tail:
            result.bad_bodies += 1
        if not parser.close:
            return conn
    if conn is not None:
        conn.close()
    return None


async def run_load(req: HttpRequest, spec: LoadSpec, result: LoadResult | None = None) -> LoadResult:
    """Runs `spec` against `req`; pass `result` to watch the counts grow while it runs (soak)."""
    result = LoadResult() if result is None else result
    start = time.perf_counter()
    deadline = start + spec.duration
    if spec.rate > 0:
        await _open_loop(req, spec, result, start, deadline)
    else:
        await asyncio.gather(*(_closed_worker(req, spec, result, deadline) for _ in range(spec.concurrency)))
    result.elapsed = time.perf_counter() - start
    return result


async def _closed_worker(req: HttpRequest, spec: LoadSpec, result: LoadResult, deadline: float) -> None:
    conn: _Connection | None = None
    sent = 0
    try:
        while time.perf_counter() < deadline or (spec.per_connection and sent < spec.per_connection):
            if spec.per_connection and sent >= spec.per_connection:
                break
            conn = await _one(conn, req, time.perf_counter(), spec, result)
            sent += 1
    finally:
        if conn is not None:
            conn.close()


async def _open_loop(
    req: HttpRequest, spec: LoadSpec, result: LoadResult, start: float, deadline: float
) -> None:
    idle: list[_Connection] = []
    tasks: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(spec.max_connections)

    async def fire(due: float) -> None:
        async with slots:
            conn = await _one(idle.pop() if idle else None, req, due, spec, result)
            if conn is not None:
                idle.append(conn)

    interval = 1.0 / spec.rate
    i = 0
    while True:
        due = start + i * interval
        if due >= deadline:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(fire(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    if tasks:
        await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()


def new_runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a project dependency on Linux
        return asyncio.Runner()
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return asyncio.Runner(loop_factory=factory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("url")
    parser.add_argument("--body-file", required=True)
    parser.add_argument("-H", "--header", action="append", default=[], help="'name: value' (repeatable)")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second")
    parser.add_argument("--expect-tail", default=None)
    args = parser.parse_args(argv)
    headers = {"content-type": "application/json"}
    for item in args.header:
        name, _, value = item.partition(":")
        headers[name.strip().lower()] = value.strip()
    with open(args.body_file, "rb") as fh:
        body = fh.read()
    expect = args.expect_tail.encode() if args.expect_tail else None
    req = HttpRequest.post(args.url, body, headers, expect)
    spec = LoadSpec(duration=args.duration, concurrency=args.concurrency, rate=args.rate)
    with new_runner() as runner:
        result = runner.run(run_load(req, spec))
    json.dump(result.summary(), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
