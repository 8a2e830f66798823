"""The upstream hot path: `UpstreamClient.send` over pooled lean HTTP/1.1 connections.

It never retries a request that may have run (retries and fallback belong to the gateway); the
one exception is a kept-alive connection the server closed before sending a single byte (it
timed the connection out as we reused it), which is retried once on a fresh connection.
Timeouts: connect, first byte (request sent -> response head), idle between body chunks, and a
whole-body limit for non-stream reads. TCP_NODELAY is on for every connection.

Why not aiohttp: per request it cost more CPU than the rest of a gateway call together (see
bench/RESULTS.md); the head parsing and chunked decoding here run in the Rust core.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping

from omniroute.errors import UpstreamError, UpstreamTimeoutError
from omniroute.upstream.h1 import Body, DisconnectedBeforeAnswer, H1Response, body_length, expire_waiter
from omniroute.upstream.pool import ConnectionPool, Origin, parse_origin

#: Upper bound on an upstream error body we read and relay.
MAX_ERROR_BODY = 1024 * 1024
#: Headers the client writes itself (a caller's copy would duplicate or contradict them).
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class UpstreamResponse:
    """A response whose headers arrived (names lower-cased); the body is read through `read`
    or `chunks`."""

    __slots__ = ("_idle_timeout", "_resp", "headers", "status")

    def __init__(self, resp: H1Response, idle_timeout: float) -> None:
        self._resp = resp
        self._idle_timeout = idle_timeout
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self, *, timeout: float, limit: int | None = None) -> bytes:
        return await self._resp.read(timeout=timeout, limit=limit)

    def chunks(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive; idle gaps are bounded by the client's idle timeout."""
        return self._resp.chunks(self._idle_timeout)

    def close(self) -> None:
        """Drops the connection when the body is unfinished (aborts an upstream generation)."""
        self._resp.close()

    def release(self) -> None:
        """Done with a fully read response (its connection went back to the pool on its own)."""
        self._resp.close()


class UpstreamClient:
    def __init__(
        self,
        *,
        connect_timeout: float,
        idle_timeout: float,
        pool_size: int = 1000,
        keepalive: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`keepalive`: seconds an idle connection stays reusable; `ssl_context` for https
        origins (default: `ssl.create_default_context()`, made on first use)."""
        self._idle_timeout = idle_timeout
        self._pool = ConnectionPool(
            connect_timeout=connect_timeout,
            max_connections=pool_size,
            keepalive=keepalive,
            ssl_context=ssl_context,
        )
        self._origins: dict[tuple[str, str], Origin] = {}

    def _origin(self, url: str) -> tuple[Origin, str]:
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise UpstreamError(f"invalid upstream URL: {url!r}")
        netloc, slash, path = rest.partition("/")
        query_start = netloc.find("?")
        if query_start >= 0:  # `https://host?x` (no path)
            netloc, path, slash = netloc[:query_start], netloc[query_start:], ""
        key = (scheme.lower(), netloc)
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = parse_origin(*key)
        return origin, ("/" + path) if slash else (path if path.startswith("/") else "/" + path)

    @staticmethod
    def _head(
        method: str, target: str, origin: Origin, headers: Mapping[str, str], body: Body | None
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\nhost: {origin.netloc}\r\n"]
        for name, value in headers.items():
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
                raise UpstreamError(f"invalid upstream header {name!r}")
            if name.lower() not in _OWN_HEADERS:
                lines.append(f"{name}: {value}\r\n")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"content-length: {body_length(body)}\r\n")
        lines.append("\r\n")
        if " " in target or "\n" in target or "\r" in target:
            raise UpstreamError(f"invalid upstream request target {target!r}")
        return "".join(lines).encode()

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Body | None,
        first_byte_timeout: float,
    ) -> UpstreamResponse:
        origin, target = self._origin(url)
        head = self._head(method, target, origin, headers, body)
        loop = asyncio.get_running_loop()
        message = f"upstream sent no response within {first_byte_timeout:g} s"
        for retry in (False, True):
            # The retry takes a new connection: other idle ones may be as stale as the first.
            conn = await self._pool.acquire(origin, fresh=retry)
            waiter = conn.send(head, body, is_head=method == "HEAD")
            timer = loop.call_later(first_byte_timeout, expire_waiter, waiter, message)
            try:
                resp = await waiter
            except DisconnectedBeforeAnswer as exc:
                if exc.retryable and not retry:
                    continue
                raise UpstreamError(str(exc)) from None
            except BaseException:
                conn.abort()  # timed out or cancelled: the answer, if any, is not wanted
                raise
            finally:
                timer.cancel()
            return UpstreamResponse(resp, self._idle_timeout)
        raise UpstreamTimeoutError(message)  # not reached: the second try returns or raises

    async def close(self) -> None:
        self._pool.close()
