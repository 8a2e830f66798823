"""A lean HTTP/1.1 client connection: one asyncio protocol per upstream TCP (or TLS) connection.

The byte-level work (response head parsing, chunked decoding) is the Rust core's
(`_core.parse_response_head`, `_core.ChunkedDecoder`); this module moves bytes between the
socket and an `H1Response`. One request at a time per connection; a connection whose response
body completed with keep-alive goes straight back to its pool (`pool.py`), before the reader has
even consumed the buffered body. Anything unexpected (extra bytes, protocol errors, aborted
reads) closes the connection instead of reusing it.

TCP_NODELAY is set on every connection; the request head and body leave in one `writelines`.
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn, cast

from omniroute import _core
from omniroute.errors import UpstreamError, UpstreamTimeoutError

#: A request body: bytes, or the buffers that make it up, in order (sent as they are).
Body = bytes | tuple[bytes | memoryview, ...]


def body_length(body: Body | None) -> int:
    """The byte length of `body` (its memoryviews are of bytes objects: one item per byte)."""
    if body is None:
        return 0
    return sum(map(len, body)) if isinstance(body, tuple) else len(body)


def joined(body: Body) -> bytes:
    """`body` as one bytes object."""
    return b"".join(body) if isinstance(body, tuple) else body


#: Buffered, unread body bytes above which the socket stops being read (and below which it resumes).
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
#: A response head larger than this is refused.
MAX_HEAD = 64 * 1024


def expire_waiter(waiter: asyncio.Future[Any], message: str) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeoutError(message))


class H1Response:
    """A response whose head arrived; body bytes are queued here as the connection reads them."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_decompress",
        "_done",
        "_error",
        "_waiter",
        "headers",
        "status",
    )

    def __init__(self, conn: H1Connection | None, status: int, headers: dict[str, str]) -> None:
        self._conn: H1Connection | None = conn
        self.status = status
        self.headers = headers
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        encoding = headers.get("content-encoding", "").strip().lower()
        self._decompress: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._decompress = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decompress = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            self._error = UpstreamError(f"upstream sent an unsupported content-encoding: {encoding}")

    # Connection side -------------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        if self._decompress is not None:
            try:
                data = self._decompress.decompress(data)
            except zlib.error:
                self._fail(UpstreamError("upstream sent a corrupt compressed body"))
                return
            if not data:
                return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and self._conn is not None:
            self._conn.pause()
        self._wake()

    def _finish(self) -> None:
        if self._decompress is not None:
            tail = self._decompress.flush()
            if tail:
                self._chunks.append(tail)
            if not self._decompress.eof:
                self._error = UpstreamError("upstream sent a truncated compressed body")
        self._done = True
        self._conn = None
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        if not self._done:
            self._error = exc
            self._done = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # Reader side ------------------------------------------------------------------------------
    def _take(self) -> bytes:
        chunks = self._chunks
        data = (
            chunks.popleft() if len(chunks) == 1 else b"".join([chunks.popleft() for _ in range(len(chunks))])
        )
        self._buffered -= len(data)
        conn = self._conn
        if conn is not None and conn.paused and self._buffered < LOW_WATER:
            conn.resume()
        return data

    def _raise_error(self) -> NoReturn:
        # A fresh instance each time: raising the stored one would chain its traceback (and the
        # reader's frames, the client transport among them) to this response in a cycle, which
        # keeps the client's answer open until the garbage collector runs.
        error = self._error
        assert error is not None
        raise error.__class__(*error.args)

    async def _wait(self, timeout: float, message: str) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, expire_waiter, waiter, message)
        try:
            await waiter
        except BaseException:
            self.close()
            raise
        finally:
            timer.cancel()
            self._waiter = None

    async def read(self, *, timeout: float, limit: int | None = None) -> bytes:
        """The whole body (or its first `limit` bytes, dropping the connection if more follows)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        parts: list[bytes] = []
        size = 0
        while True:
            if self._chunks:
                data = self._take()
                parts.append(data)
                size += len(data)
                if limit is not None and size >= limit:
                    if not self._done or self._chunks:
                        self.close()
                    return b"".join(parts)[:limit]
            elif self._done:
                if self._error is not None:
                    self._raise_error()
                return parts[0] if len(parts) == 1 else b"".join(parts)
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    self.close()
                    raise UpstreamTimeoutError(f"upstream body not complete within {timeout:g} s")
                await self._wait(remaining, f"upstream body not complete within {timeout:g} s")

    async def chunks(self, idle_timeout: float) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (everything buffered at once); gaps bounded by `idle_timeout`."""
        while True:
            if self._chunks:
                yield self._take()
            elif self._done:
                if self._error is not None:
                    self._raise_error()
                return
            else:
                await self._wait(idle_timeout, "upstream stream idle for too long")

    def close(self) -> None:
        """Stops reading: an unfinished body drops its connection (aborting the generation)."""
        self._chunks.clear()
        self._buffered = 0
        if not self._done:
            self._fail(UpstreamError("response closed before its end"))


class H1Connection(asyncio.Protocol):
    """One upstream connection. `on_idle(conn)` is called when it can take the next request."""

    __slots__ = (
        "_buf",
        "_chunked",
        "_framing",
        "_head_waiter",
        "_keep_alive",
        "_method_head",
        "_on_idle",
        "_remaining",
        "_response",
        "_state",
        "closed",
        "paused",
        "received",
        "reused",
        "transport",
    )

    # States: waiting to send, waiting for the head, reading the body.
    IDLE, HEAD, BODY = 0, 1, 2

    def __init__(self, on_idle: Callable[[H1Connection], None]) -> None:
        self._on_idle = on_idle
        self.transport: asyncio.Transport | None = None
        self._state = self.IDLE
        self._buf = b""
        self._head_waiter: asyncio.Future[H1Response] | None = None
        self._response: H1Response | None = None
        self._remaining = 0
        self._chunked: _core.ChunkedDecoder | None = None
        self._framing = _core.FRAMING_LENGTH
        self._keep_alive = False
        self._method_head = False
        self.closed = False
        self.paused = False
        #: Requests this connection carried before the current one.
        self.reused = 0
        #: Whether any byte of the current response arrived (a reused connection closed before
        #: one did can safely be retried on a fresh one).
        self.received = False

    # asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self._state == self.BODY:
            self._body(data)
        elif self._state == self.HEAD:
            self._head(data)
        else:
            self.abort()  # bytes nobody asked for: the connection cannot be trusted

    def eof_received(self) -> bool:
        self._lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(exc)

    # Request ------------------------------------------------------------------------------------
    def send(self, head: bytes, body: Body | None, *, is_head: bool = False) -> asyncio.Future[H1Response]:
        """Writes one request; the future resolves with the response once its head arrived."""
        assert self.transport is not None and self._state == self.IDLE
        waiter: asyncio.Future[H1Response] = asyncio.get_running_loop().create_future()
        self._head_waiter = waiter
        self._state = self.HEAD
        self._method_head = is_head
        self.received = False
        if isinstance(body, tuple):
            self.transport.writelines((head, *body))
        else:
            self.transport.writelines((head, body) if body else (head,))
        return waiter

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        # `_lost` marks the connection closed: it must see it open still, or the pool never
        # hears of the close (`on_idle`) and counts the connection against its limit for ever.
        if not self.closed and self.transport is not None:
            self.transport.abort()
        self._lost(None)

    # Parsing ----------------------------------------------------------------------------------
    def _head(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        while True:
            try:
                parsed = _core.parse_response_head(buf)
            except _core.UpstreamProtocolError as exc:
                self._buf = b""
                self._fail_head(UpstreamError(f"upstream sent a malformed response head: {exc}"))
                return
            if parsed is None:
                if len(buf) > MAX_HEAD:
                    self._fail_head(UpstreamError("upstream response head is too large"))
                    return
                self._buf = buf
                return
            buf = buf[parsed[2] :]
            if parsed[0] >= 200:
                break
            # An interim response (100 Continue, 103 Early Hints): the real one follows.
        status, header_list, _, framing, length, keep_alive = parsed
        self._buf = b""
        headers = dict(header_list)
        response = H1Response(self, status, headers)
        self._response = response
        self._keep_alive = keep_alive
        self._state = self.BODY
        if self._method_head or framing == _core.FRAMING_EMPTY:
            framing, length = _core.FRAMING_LENGTH, 0
        self._framing = framing
        self._remaining = length
        self._chunked = _core.ChunkedDecoder() if framing == _core.FRAMING_CHUNKED else None
        waiter, self._head_waiter = self._head_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)
        if response._error is not None:  # a body it cannot decode: readers get the error
            self._response = None
            response._fail(response._error)
            return
        if buf or (framing == _core.FRAMING_LENGTH and length == 0):
            self._body(buf)

    def _body(self, data: bytes) -> None:
        response = self._response
        if response is None:
            return
        framing = self._framing
        if framing == _core.FRAMING_LENGTH:
            take = min(len(data), self._remaining)
            if take:
                response._feed(data if take == len(data) else data[:take])
            self._remaining -= take
            if self._remaining == 0:
                self._complete(extra=len(data) > take)
        elif framing == _core.FRAMING_CHUNKED:
            decoder = self._chunked
            assert decoder is not None
            try:
                decoded, consumed = decoder.feed(data)
            except _core.UpstreamProtocolError as exc:
                self._response = None
                response._fail(UpstreamError(f"upstream sent a malformed chunked body: {exc}"))
                return
            if decoded:
                response._feed(decoded)
            if decoder.done:
                self._complete(extra=consumed < len(data))
        elif data:
            response._feed(data)  # until close: completes in `_lost`

    def _complete(self, *, extra: bool) -> None:
        response = self._response
        self._response = None
        self._state = self.IDLE
        self._chunked = None
        if response is not None:
            response._finish()
        if extra or not self._keep_alive or self.paused:
            self.abort()
            return
        self.reused += 1
        self._on_idle(self)

    def _fail_head(self, exc: BaseException) -> None:
        waiter, self._head_waiter = self._head_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def _lost(self, exc: Exception | None) -> None:
        first = not self.closed
        self.closed = True
        if first and self.transport is not None:
            self.transport.close()
        waiter, self._head_waiter = self._head_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(DisconnectedBeforeAnswer(self.reused > 0 and not self.received))
        response, self._response = self._response, None
        if response is not None:
            if self._framing == _core.FRAMING_LENGTH or self._framing == _core.FRAMING_CHUNKED:
                response._fail(UpstreamError("upstream connection lost before the end of the body"))
            else:
                response._finish()
        self._state = self.IDLE
        if first:
            self._on_idle(self)


class DisconnectedBeforeAnswer(UpstreamError):
    """The upstream closed the connection before any response byte. `retryable` when it was a
    kept-alive connection (the server timed it out as we reused it): the request never ran."""

    def __init__(self, retryable: bool) -> None:
        super().__init__("upstream closed the connection before answering")
        self.retryable = retryable
