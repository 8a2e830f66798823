"""Keep-alive connection pool for the lean HTTP/1.1 client, one idle stack per origin.

`acquire` hands out the most recently idle connection of the origin (its socket is the warmest),
discarding connections idle longer than `keepalive` seconds (servers close theirs after a few
seconds: Node's default is 5; a timer closes the ones nobody asked for again, so the connections
of a burst do not stay open after it), or opens a new one within `max_connections` in total (callers
wait for room beyond that). Connections come back by themselves when their response completes.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import NamedTuple

from omniroute.errors import UpstreamConnectError
from omniroute.upstream.h1 import H1Connection


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int
    #: The `host` header value (the URL's host[:port], without credentials).
    netloc: str


def parse_origin(scheme: str, netloc: str) -> Origin:
    if scheme not in ("http", "https"):
        raise UpstreamConnectError(f"unsupported upstream URL scheme: {scheme!r}")
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):  # IPv6 literal
        host, _, rest = hostport[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
    try:
        port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    except ValueError:
        raise UpstreamConnectError(f"invalid port in upstream URL: {netloc!r}") from None
    if not host or not 0 < port < 65536:
        raise UpstreamConnectError(f"invalid upstream host: {netloc!r}")
    return Origin(scheme, host, port, hostport)


class ConnectionPool:
    def __init__(
        self,
        *,
        connect_timeout: float,
        max_connections: int,
        keepalive: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._max = max_connections
        self._keepalive = keepalive
        self._idle: dict[Origin, list[tuple[H1Connection, float]]] = {}
        self._origin_of: dict[H1Connection, Origin] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        #: For https origins; the default context is made on first use (loading the system's
        #: CA store costs milliseconds a plain-http deployment need not pay).
        self._ssl = ssl_context
        #: Closes connections idle past `keepalive`, so a burst's connections do not outlive it.
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def open_connections(self) -> int:
        return len(self._origin_of)

    async def acquire(self, origin: Origin, *, fresh: bool = False) -> H1Connection:
        """A connection to `origin`: the warmest idle one, or a new one (always, if `fresh`)."""
        loop = asyncio.get_running_loop()
        while True:
            idle = None if fresh else self._idle.get(origin)
            if idle:
                now = loop.time()
                while idle:
                    conn, since = idle.pop()
                    if conn.closed:
                        continue
                    if now - since > self._keepalive:
                        conn.abort()
                        continue
                    return conn
            if len(self._origin_of) < self._max:
                return await self._connect(origin)
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # woken, then cancelled: pass the free slot on
                raise

    async def _connect(self, origin: Origin) -> H1Connection:
        loop = asyncio.get_running_loop()
        conn = H1Connection(self._on_idle)
        self._origin_of[conn] = origin
        context: ssl.SSLContext | None = None
        if origin.scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            async with asyncio.timeout(self._connect_timeout):
                await loop.create_connection(
                    lambda: conn,
                    origin.host,
                    origin.port,
                    ssl=context,
                    server_hostname=origin.host if context is not None else None,
                )
        except BaseException as exc:
            self._forget(conn)
            if isinstance(exc, TimeoutError):
                raise UpstreamConnectError(
                    f"cannot connect to upstream {origin.host}:{origin.port}: timed out"
                ) from None
            if isinstance(exc, (OSError, ssl.SSLError)):
                raise UpstreamConnectError(
                    f"cannot connect to upstream {origin.host}:{origin.port}: {exc}"
                ) from None
            raise
        return conn

    def _on_idle(self, conn: H1Connection) -> None:
        if conn.closed:
            self._forget(conn)
            return
        origin = self._origin_of.get(conn)
        if origin is None:
            conn.abort()
            return
        loop = asyncio.get_running_loop()
        self._idle.setdefault(origin, []).append((conn, loop.time()))
        if self._sweep is None:
            self._sweep = loop.call_later(self._keepalive, self._close_expired)
        self._wake_one()

    def _close_expired(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweep = None
        cutoff = loop.time() - self._keepalive
        expired: list[H1Connection] = []
        for idle in self._idle.values():
            expired.extend(conn for conn, since in idle if since < cutoff)
            idle[:] = [entry for entry in idle if entry[1] >= cutoff]
        for conn in expired:
            conn.abort()
        if any(self._idle.values()):
            self._sweep = loop.call_later(self._keepalive, self._close_expired)

    def _forget(self, conn: H1Connection) -> None:
        origin = self._origin_of.pop(conn, None)
        if origin is None:
            return
        idle = self._idle.get(origin)
        if idle:
            # In place: `acquire` may be walking this very list.
            idle[:] = [entry for entry in idle if entry[0] is not conn]
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(UpstreamConnectError("the upstream client is closed"))
        for conn in list(self._origin_of):
            conn.abort()
        self._idle.clear()
        self._origin_of.clear()
